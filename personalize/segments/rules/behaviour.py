"""Rules about what the shopper did: products viewed, searches, the cart, orders and RFM."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q, Sum
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.models import Event, EventKind
from personalize.pricing import format_price

if TYPE_CHECKING:
    from personalize.segments.context import SegmentContext

logger = logging.getLogger("personalize")

from personalize.segments.rules.base import (
    CatalogueKeyField,
    DaysField,
    DaysRangeParams,
    DecimalRangeParams,
    QueryEnv,
    RangeParams,
    Rule,
    _aggregate_range_q,
    _brand_product_keys,
    _category_key,
    _category_product_keys,
    _in_range,
    _purchases,
    _range_text,
    catalogue_label,
)


# --- browsing -------------------------------------------------------------------------------
class ViewedRule(Rule):
    kind = "viewed"
    label = _("Viewed a product, category or brand")
    description = _("The shopper viewed the product, or products of the category or brand, at least this many times recently.")
    event_kinds = frozenset({"view"})

    class Params(forms.Form):
        target = forms.ChoiceField(
            label=_("what"), choices=[("product", _("product")), ("category", _("category")), ("brand", _("brand"))]
        )
        key = CatalogueKeyField(
            facet_field="target",
            label=_("product, category or brand"),
            help_text=_("Pick one from the store's catalogue (or type a product id, or a category's id, slug or name)."),
        )
        min_count = forms.IntegerField(label=_("at least this many times"), min_value=1, initial=1, required=False)
        days = DaysField(label=_("within the last"), min_value=1, max_value=3650, initial=30, required=False)

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            data["min_count"] = data.get("min_count") or 1
            data["days"] = data.get("days") or 30
            if data.get("target") == "product" and data.get("key"):
                if not get_adapter().is_valid_key(data["key"]):
                    raise ValidationError({"key": _("“%(key)s” is not a valid product id.") % {"key": data["key"]}})
            elif data.get("target") == "category" and data.get("key"):
                try:
                    data["key"] = _category_key(data["key"], "key")
                except ValidationError as exc:
                    raise ValidationError({"key": exc.messages}) from None
            elif data.get("target") == "brand" and data.get("key"):
                if data["key"] not in get_adapter().catalogue_labels("brand", [data["key"]]):
                    raise ValidationError({"key": _("The store has no brand “%(key)s”.") % {"key": data["key"]}})
            return data

    _keys: list[str] | None = None

    def product_keys(self) -> list[str]:
        if self._keys is None:
            if self.params["target"] == "product":
                self._keys = [self.params["key"]]
            elif self.params["target"] == "brand":
                self._keys = _brand_product_keys(self.params["key"])
            else:
                self._keys = _category_product_keys(self.params["key"])
        return self._keys

    def matches(self, ctx: SegmentContext) -> bool:
        keys = set(self.product_keys())
        since = ctx.now - timedelta(days=self.params["days"])
        count = sum(
            1 for key, kind, when in ctx.profile.interactions if kind == EventKind.VIEW and key in keys and when >= since
        )
        return count >= self.params["min_count"]

    def q(self, env: QueryEnv) -> Q:
        views = Event.objects.filter(
            kind=EventKind.VIEW,
            product_key__in=self.product_keys(),
            created_at__gte=env.now - timedelta(days=self.params["days"]),
        )
        counted = views.values("shopper").annotate(n=Count("id")).filter(n__gte=self.params["min_count"])
        return Q(pk__in=counted.values("shopper"))

    def describe(self) -> str:
        target = self.params["target"]
        what = {"product": gettext("product"), "category": gettext("category"), "brand": gettext("brand")}.get(target, target)
        text = ngettext(
            "Viewed %(what)s “%(name)s” in the last %(days)s days",
            "Viewed %(what)s “%(name)s” at least %(n)s times in the last %(days)s days",
            self.params["min_count"],
        )
        return text % {
            "what": what,
            "name": catalogue_label(target, self.params["key"]),
            "n": self.params["min_count"],
            "days": self.params["days"],
        }


class SearchedRule(Rule):
    """Searched for a term (case-insensitive, part of the query), among recent events."""

    kind = "searched"
    label = _("Searched for a term")
    description = _("The shopper searched for a term (any part of the query, in upper or lower case).")
    event_kinds = frozenset({"search"})

    class Params(forms.Form):
        term = forms.CharField(label=_("term"), max_length=100)

    def matches(self, ctx: SegmentContext) -> bool:
        term = self.params["term"].lower()
        return any(term in query.lower() for query in ctx.profile.searches)

    def q(self, env: QueryEnv) -> Q:
        searches = Event.objects.filter(kind=EventKind.SEARCH, query__icontains=self.params["term"])
        return Q(pk__in=searches.values("shopper"))

    def describe(self) -> str:
        return gettext("Searched for “%(term)s”") % {"term": self.params["term"]}


# --- cart -----------------------------------------------------------------------------------
class CartValueRule(Rule):
    kind = "cart_value"
    label = _("Cart value")
    event_kinds = frozenset()

    class Params(forms.Form):
        op = forms.ChoiceField(label=_("comparison"), choices=[("above", _("above")), ("below", _("below"))])
        amount = forms.DecimalField(label=_("amount"), min_value=0, max_digits=12, decimal_places=2)

    def matches(self, ctx: SegmentContext) -> bool:
        value = ctx.cart_value
        return value > self.params["amount"] if self.params["op"] == "above" else value < self.params["amount"]

    def q(self, env: QueryEnv) -> Q:
        if self.params["op"] == "above":
            return Q(cart__value__gt=self.params["amount"])
        below = Q(cart__value__lt=self.params["amount"])
        return below | Q(cart__isnull=True) if self.params["amount"] > 0 else below

    def describe(self) -> str:
        if self.params["op"] == "above":
            return gettext("Cart value above %(amount)s") % {"amount": self.params["amount"]}
        return gettext("Cart value below %(amount)s") % {"amount": self.params["amount"]}


class CartCategoryRule(Rule):
    """The cart holds a product of a category (evaluated in Python: cart lines are JSON)."""

    kind = "cart_category"
    label = _("Cart contains a category")
    description = _("The cart holds a product of the category or of one of its subcategories.")
    event_kinds = frozenset()

    class Params(forms.Form):
        category = CatalogueKeyField(
            facet="category", label=_("category"), help_text=_("Pick one, or type the category's id, slug or name.")
        )

        def clean_category(self) -> str:
            return _category_key(self.cleaned_data["category"], "category")

    _keys: set[str] | None = None

    def matches(self, ctx: SegmentContext) -> bool:
        if self._keys is None:
            self._keys = set(_category_product_keys(self.params["category"]))
        return bool(self._keys & ctx.cart_keys)

    def candidates(self, env: QueryEnv) -> Q:
        return Q(cart__isnull=False) & ~Q(cart__lines=[])

    def describe(self) -> str:
        return gettext("Cart contains a product of category “%(category)s”") % {
            "category": catalogue_label("category", self.params["category"])
        }


# --- orders ---------------------------------------------------------------------------------
class OrderCountRule(Rule):
    kind = "orders"
    label = _("Number of orders")
    event_kinds = frozenset({"purchase"})
    Params = RangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        return _in_range(ctx.orders.count, self.params)

    def q(self, env: QueryEnv) -> Q:
        return _aggregate_range_q(_purchases(), Count("id"), self.params)

    def describe(self) -> str:
        return gettext("Orders: %(range)s") % {"range": _range_text(self.params)}


class LifetimeValueRule(Rule):
    kind = "lifetime_value"
    label = _("Lifetime value")
    event_kinds = frozenset({"purchase"})
    Params = DecimalRangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        return _in_range(ctx.orders.value, self.params)

    def q(self, env: QueryEnv) -> Q:
        return _aggregate_range_q(_purchases(), Sum("value"), self.params)

    def describe(self) -> str:
        return gettext("Lifetime value: %(range)s") % {"range": _range_text(self.params)}


class DaysSincePurchaseRule(Rule):
    """Days since the last purchase; a shopper who never bought does not match."""

    kind = "days_since_purchase"
    label = _("Days since last purchase")
    description = _("Days since the last purchase; shoppers who never bought do not match.")
    event_kinds = frozenset({"purchase"})
    Params = DaysRangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        last = ctx.orders.last_at
        return last is not None and _in_range((ctx.now - last).days, self.params)

    def q(self, env: QueryEnv) -> Q:
        grouped = _purchases().values("shopper").annotate(last=Max("created_at"))
        if self.params.get("min") is not None:
            grouped = grouped.filter(last__lte=env.now - timedelta(days=self.params["min"]))
        if self.params.get("max") is not None:
            grouped = grouped.filter(last__gt=env.now - timedelta(days=self.params["max"] + 1))
        return Q(pk__in=grouped.values("shopper"))

    def describe(self) -> str:
        return gettext("Days since last purchase: %(range)s") % {"range": _range_text(self.params)}


RFM_BUCKETS = [
    ("recent", _("Recent buyers")),
    ("frequent", _("Frequent buyers")),
    ("big_spender", _("Big spenders")),
    ("at_risk", _("At risk")),
    ("lapsed", _("Lapsed")),
]


class RFMRule(Rule):
    """Recency/frequency/monetary buckets; thresholds in ``PERSONALIZE["SEGMENT_RFM"]``.

    recent: bought within ``recent_days``; frequent: at least ``frequent_orders`` orders;
    big_spender: lifetime value at least ``big_spender_value``; at_risk: at least
    ``at_risk_min_orders`` orders and the last one between ``at_risk_days`` and
    ``lapsed_days`` ago; lapsed: bought before, but not in the last ``lapsed_days``.
    Buckets overlap (a frequent big spender is both), except at_risk and lapsed.
    """

    kind = "rfm"
    label = _("RFM bucket")
    description = _("Buyers grouped by how recently, how often and how much they bought; the thresholds are the store’s SEGMENT_RFM setting.")
    event_kinds = frozenset({"purchase"})

    class Params(forms.Form):
        bucket = forms.ChoiceField(label=_("bucket"), choices=RFM_BUCKETS)

        @staticmethod
        def choice_help() -> dict[str, dict[str, str]]:
            """What each bucket means with the store's thresholds (shown under the choice)."""
            t = RFMRule.thresholds()
            return {
                "bucket": {
                    "recent": gettext("bought in the last %(days)s days") % {"days": t["recent_days"]},
                    "frequent": gettext("at least %(n)s orders") % {"n": t["frequent_orders"]},
                    "big_spender": gettext("lifetime value at least %(value)s") % {"value": format_price(t["big_spender_value"])},
                    "at_risk": gettext("at least %(n)s orders, the last one %(low)s to %(high)s days ago")
                    % {"n": t["at_risk_min_orders"], "low": t["at_risk_days"], "high": t["lapsed_days"]},
                    "lapsed": gettext("bought before, but not in the last %(days)s days") % {"days": t["lapsed_days"]},
                }
            }

    @staticmethod
    def thresholds() -> dict[str, Any]:
        """The store's ``SEGMENT_RFM`` over the defaults (a store may set only some keys)."""
        return ps.SEGMENT_RFM  # merged over the defaults by conf (MERGED)

    def matches(self, ctx: SegmentContext) -> bool:
        t, orders = self.thresholds(), ctx.orders
        if orders.count == 0 or orders.last_at is None:
            return False
        age = ctx.now - orders.last_at
        bucket = self.params["bucket"]
        if bucket == "recent":
            return age <= timedelta(days=t["recent_days"])
        if bucket == "frequent":
            return orders.count >= t["frequent_orders"]
        if bucket == "big_spender":
            return orders.value >= Decimal(str(t["big_spender_value"]))
        if bucket == "at_risk":
            return (
                orders.count >= t["at_risk_min_orders"]
                and timedelta(days=t["at_risk_days"]) < age <= timedelta(days=t["lapsed_days"])
            )
        return age > timedelta(days=t["lapsed_days"])

    def q(self, env: QueryEnv) -> Q:
        t = self.thresholds()
        grouped = _purchases().values("shopper").annotate(n=Count("id"), total=Sum("value"), last=Max("created_at"))
        bucket = self.params["bucket"]
        if bucket == "recent":
            grouped = grouped.filter(last__gte=env.now - timedelta(days=t["recent_days"]))
        elif bucket == "frequent":
            grouped = grouped.filter(n__gte=t["frequent_orders"])
        elif bucket == "big_spender":
            grouped = grouped.filter(total__gte=Decimal(str(t["big_spender_value"])))
        elif bucket == "at_risk":
            grouped = grouped.filter(
                n__gte=t["at_risk_min_orders"],
                last__lt=env.now - timedelta(days=t["at_risk_days"]),
                last__gte=env.now - timedelta(days=t["lapsed_days"]),
            )
        else:
            grouped = grouped.filter(last__lt=env.now - timedelta(days=t["lapsed_days"]))
        return Q(pk__in=grouped.values("shopper"))

    def describe(self) -> str:
        label = dict(RFM_BUCKETS).get(self.params["bucket"], self.params["bucket"])
        return gettext("RFM: %(bucket)s") % {"bucket": label}
