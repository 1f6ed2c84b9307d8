"""Segment rule types: each is a :class:`Rule` subclass with a ``kind``, a params form,
``matches(ctx)`` for one shopper and, when it can, ``q(env)`` to select shoppers in SQL.

The registry is explicit: :data:`BUILTIN_RULES` below plus the dotted paths a store lists in
``PERSONALIZE["SEGMENT_RULES"]``. A store adds a rule type like this::

    class LoyaltyTierRule(Rule):
        kind = "loyalty_tier"
        label = _("Loyalty tier")

        class Params(forms.Form):
            tier = forms.ChoiceField(choices=[("gold", "Gold"), ("silver", "Silver")])

        def matches(self, ctx):
            return ctx.shopper.user_id is not None and ctx.shopper.user.tier == self.params["tier"]

        def describe(self):
            return _("Loyalty tier is %(tier)s") % self.params
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q, Sum
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.conf import DEFAULTS
from personalize.conf import personalize_settings as ps
from personalize.models import Event, EventKind, Segment

if TYPE_CHECKING:
    from personalize.segments.context import SegmentContext

logger = logging.getLogger("personalize")


# --- params form fields ---------------------------------------------------------------------
class ListField(forms.CharField):
    """A list of strings, given as a JSON list or as comma-separated text."""

    def __init__(self, *, upper: bool = False, lower: bool = False, **kwargs: Any) -> None:
        self.upper, self.lower = upper, lower
        kwargs.setdefault("help_text", _("Comma-separated."))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, (list, tuple)):
            items = [str(item) for item in value]
        else:
            items = str(value or "").split(",")
        items = [item.strip() for item in items if str(item).strip()]
        if self.upper:
            items = [item.upper() for item in items]
        if self.lower:
            items = [item.lower() for item in items]
        return items

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value: Any) -> None:  # CharField's length validators expect a str
        return None


class MultipleChoiceListField(forms.MultipleChoiceField):
    """A multiple choice that also accepts comma-separated text (JSON params typed by hand)."""

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        return super().to_python(value)


class RangeParams(forms.Form):
    """``min``/``max`` bounds (inclusive); at least one is required."""

    min = forms.IntegerField(label=_("at least"), required=False, min_value=0)
    max = forms.IntegerField(label=_("at most"), required=False, min_value=0)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("min"), data.get("max")
        if low is None and high is None and not self.errors:
            raise ValidationError({"min": _("Enter a lower or an upper bound (or both).")})
        if low is not None and high is not None and low > high:
            raise ValidationError({"max": _("The upper bound is below the lower bound.")})
        return data


class DecimalRangeParams(RangeParams):
    min = forms.DecimalField(label=_("at least"), required=False, min_value=0, max_digits=12, decimal_places=2)
    max = forms.DecimalField(label=_("at most"), required=False, min_value=0, max_digits=12, decimal_places=2)


class DaysRangeParams(RangeParams):
    min = forms.IntegerField(label=_("at least (days)"), required=False, min_value=0, max_value=36500)
    max = forms.IntegerField(label=_("at most (days)"), required=False, min_value=0, max_value=36500)


def _in_range(value: Any, params: dict[str, Any]) -> bool:
    low, high = params.get("min"), params.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def _range_text(params: dict[str, Any]) -> str:
    low, high = params.get("min"), params.get("max")
    if low is not None and high is not None:
        return gettext("between %(min)s and %(max)s") % {"min": low, "max": high}
    if low is not None:
        return gettext("at least %(min)s") % {"min": low}
    return gettext("at most %(max)s") % {"max": high}


# --- SQL helpers ----------------------------------------------------------------------------
class QueryEnv:
    """What ``Rule.q`` needs to build SQL: the time, and how to select another segment."""

    def __init__(self, now: datetime, segment_q: Any = None) -> None:
        self.now = now
        self._segment_q = segment_q

    def segment_q(self, slug: str) -> Q | None:
        return self._segment_q(slug) if self._segment_q is not None else None


def _aggregate_range_q(events: Any, aggregate: Any, params: dict[str, Any]) -> Q:
    """Shoppers whose aggregate over ``events`` lies in the range; a shopper without any
    such event counts as 0 (so "at most 2 orders" includes those who never ordered)."""
    grouped = events.values("shopper").annotate(agg=aggregate)
    in_range = grouped
    if params.get("min") is not None:
        in_range = in_range.filter(agg__gte=params["min"])
    if params.get("max") is not None:
        in_range = in_range.filter(agg__lte=params["max"])
    q = Q(pk__in=in_range.values("shopper"))
    if _in_range(0, params):
        q |= ~Q(pk__in=events.values("shopper"))
    return q


def _purchases() -> Any:
    return Event.objects.filter(kind=EventKind.PURCHASE)


def _category_product_keys(category: str) -> list[str]:
    """Keys of the store's products in a category (the adapter's category lookup)."""
    adapter = get_adapter()
    lookup = adapter.category_lookup()
    if not lookup:
        return []
    model = adapter.get_product_model()
    # The category key is the FK's value as text (UUID or int): let the field parse it.
    try:
        field = model._meta.get_field(lookup.removesuffix("_id"))
        target = getattr(field, "target_field", field)
        value = target.to_python(category)
    except (ValidationError, Exception):  # noqa: BLE001 - an unknown category selects nothing
        return []
    return [str(pk) for pk in model._default_manager.filter(**{lookup: value}).values_list("pk", flat=True)]


def _category_key(value: str, field: str) -> str:
    """The category key for an id, slug or name typed in a rule; a form error if unknown."""
    key = get_adapter().resolve_category(value)
    if key is None:
        raise ValidationError(_("No category “%(value)s” (use its id, slug or name).") % {"value": value})
    return key


# --- the base class -------------------------------------------------------------------------
class Rule:
    """One condition on a shopper. Subclass, set ``kind``/``label``/``Params``, implement
    ``matches`` and ``describe``; implement ``q`` when the rule can be evaluated in SQL."""

    kind: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    # Depends on the request itself (the visit's source, the time of day): evaluated per
    # request only, so it cannot be part of a materialised segment.
    live_only: ClassVar[bool] = False
    # Event kinds whose tracking can change the answer: a session's cached segments are
    # dropped when one is tracked. ``None`` (the safe default for a store's rule): any event.
    # Visits, login, cart revision and the hour are part of the cache key anyway.
    event_kinds: ClassVar[frozenset[str] | None] = None

    class Params(forms.Form):
        pass

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    @classmethod
    def clean_params(cls, raw: Any) -> dict[str, Any]:
        """Validated, typed params; ``ValidationError`` naming the field on bad input."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ValidationError(_("Parameters must be a JSON object."))
        form = cls.Params(data=raw)
        if not form.is_valid():
            messages = []
            for field, errors in form.errors.items():
                prefix = "" if field == "__all__" else f"{field}: "
                messages.extend(f"{prefix}{error}" for error in errors)
            raise ValidationError(messages)
        return dict(form.cleaned_data)

    @classmethod
    def from_params(cls, raw: Any) -> Rule:
        return cls(cls.clean_params(raw))

    @classmethod
    def serialize_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """JSON-safe params for storage (decimals as strings)."""
        return {key: (str(value) if isinstance(value, Decimal) else value) for key, value in params.items()}

    @classmethod
    def help_text(cls) -> str:
        fields = cls.Params.base_fields
        if not fields:
            return gettext("no parameters")
        return ", ".join(f"{name} ({field.label or name})" for name, field in fields.items())

    def matches(self, ctx: SegmentContext) -> bool:
        raise NotImplementedError

    def q(self, env: QueryEnv) -> Q | None:
        """A filter on ``Shopper`` selecting the matching shoppers, or ``None`` when the rule
        can only be evaluated in Python (then it runs per shopper in batches)."""
        return None

    def candidates(self, env: QueryEnv) -> Q | None:
        """For a rule without ``q``: an SQL filter every matching shopper passes (a necessary,
        not sufficient, condition), so a bulk refresh evaluates fewer shoppers in Python."""
        return None

    def describe(self) -> str:
        return str(self.label)

    def dependencies(self) -> set[str]:
        """Slugs of other segments this rule refers to."""
        return set()


# --- visits ---------------------------------------------------------------------------------
class VisitStateRule(Rule):
    kind = "visit_state"
    label = _("First visit or returning")
    event_kinds = frozenset()

    class Params(forms.Form):
        state = forms.ChoiceField(label=_("state"), choices=[("first", _("first visit")), ("returning", _("returning"))])

    def matches(self, ctx: SegmentContext) -> bool:
        first = ctx.visits <= 1
        return first if self.params["state"] == "first" else not first

    def q(self, env: QueryEnv) -> Q:
        return Q(visits__lte=1) if self.params["state"] == "first" else Q(visits__gt=1)

    def describe(self) -> str:
        return gettext("First visit") if self.params["state"] == "first" else gettext("Returning shopper")


class VisitCountRule(Rule):
    kind = "visits"
    label = _("Number of visits")
    event_kinds = frozenset()
    Params = RangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        return _in_range(ctx.visits, self.params)

    def q(self, env: QueryEnv) -> Q:
        q = Q()
        if self.params.get("min") is not None:
            q &= Q(visits__gte=self.params["min"])
        if self.params.get("max") is not None:
            q &= Q(visits__lte=self.params["max"])
        return q

    def describe(self) -> str:
        return gettext("Visits: %(range)s") % {"range": _range_text(self.params)}


class DaysSinceLastVisitRule(Rule):
    """Days since the shopper was last seen (before this request: ``last_seen`` is updated
    after the response)."""

    kind = "days_since_last_visit"
    label = _("Days since last visit")
    event_kinds = frozenset()
    Params = DaysRangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        shopper = ctx.shopper
        if shopper is None or shopper.pk is None:
            return _in_range(0, self.params)
        return _in_range((ctx.now - shopper.last_seen).days, self.params)

    def q(self, env: QueryEnv) -> Q:
        # days = floor((now - last_seen) / 1 day): days >= n  <=>  last_seen <= now - n days
        q = Q()
        if self.params.get("min") is not None:
            q &= Q(last_seen__lte=env.now - timedelta(days=self.params["min"]))
        if self.params.get("max") is not None:
            q &= Q(last_seen__gt=env.now - timedelta(days=self.params["max"] + 1))
        return q

    def describe(self) -> str:
        return gettext("Days since last visit: %(range)s") % {"range": _range_text(self.params)}


# --- browsing -------------------------------------------------------------------------------
class ViewedRule(Rule):
    kind = "viewed"
    label = _("Viewed a product or category")
    event_kinds = frozenset({"view"})

    class Params(forms.Form):
        target = forms.ChoiceField(label=_("what"), choices=[("product", _("product")), ("category", _("category"))])
        key = forms.CharField(
            label=_("product or category"),
            max_length=100,
            help_text=_("A product id, or a category's id, slug or name."),
        )
        min_count = forms.IntegerField(label=_("at least N times"), min_value=1, initial=1, required=False)
        days = forms.IntegerField(label=_("in the last D days"), min_value=1, max_value=3650, initial=30, required=False)

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            data["min_count"] = data.get("min_count") or 1
            data["days"] = data.get("days") or 30
            if data.get("target") == "product" and data.get("key"):
                if not get_adapter().is_valid_key(data["key"]):
                    raise ValidationError({"key": _("“%(key)s” is not a valid product id.") % {"key": data["key"]}})
            elif data.get("target") == "category" and data.get("key"):
                data["key"] = _category_key(data["key"], "key")
            return data

    _keys: list[str] | None = None

    def product_keys(self) -> list[str]:
        if self._keys is None:
            if self.params["target"] == "product":
                self._keys = [self.params["key"]]
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
        what = gettext("product") if self.params["target"] == "product" else gettext("category")
        return gettext("Viewed %(what)s %(key)s at least %(n)s times in the last %(days)s days") % {
            "what": what,
            "key": self.params["key"],
            "n": self.params["min_count"],
            "days": self.params["days"],
        }


class SearchedRule(Rule):
    """Searched for a term (case-insensitive, part of the query), among recent events."""

    kind = "searched"
    label = _("Searched for a term")
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
    event_kinds = frozenset()

    class Params(forms.Form):
        category = forms.CharField(
            label=_("category"), max_length=100, help_text=_("The category's id, slug or name.")
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
        return gettext("Cart contains a product of category %(category)s") % {"category": self.params["category"]}


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
    event_kinds = frozenset({"purchase"})

    class Params(forms.Form):
        bucket = forms.ChoiceField(label=_("bucket"), choices=RFM_BUCKETS)

    @staticmethod
    def thresholds() -> dict[str, Any]:
        """The store's ``SEGMENT_RFM`` over the defaults (a store may set only some keys)."""
        return {**DEFAULTS["SEGMENT_RFM"], **(ps.SEGMENT_RFM or {})}

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


# --- who and where --------------------------------------------------------------------------
class LoggedInRule(Rule):
    kind = "logged_in"
    label = _("Logged in or anonymous")
    event_kinds = frozenset()

    class Params(forms.Form):
        state = forms.ChoiceField(label=_("state"), choices=[("logged_in", _("logged in")), ("anonymous", _("anonymous"))])

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.is_authenticated == (self.params["state"] == "logged_in")

    def q(self, env: QueryEnv) -> Q:
        return Q(user__isnull=self.params["state"] != "logged_in")

    def describe(self) -> str:
        return gettext("Logged in") if self.params["state"] == "logged_in" else gettext("Anonymous")


class CountryRule(Rule):
    """The shopper's country (CDN header or GeoIP2, Accept-Language's region as a fallback)."""

    kind = "country"
    label = _("Country")
    event_kinds = frozenset()

    class Params(forms.Form):
        countries = ListField(label=_("country codes"), upper=True)

        def clean_countries(self) -> list[str]:
            codes = self.cleaned_data["countries"]
            bad = [code for code in codes if len(code) != 2 or not code.isalpha()]
            if bad:
                raise ValidationError(_("Use two-letter country codes (ISO 3166): %(bad)s") % {"bad": ", ".join(bad)})
            return codes

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.country in self.params["countries"]

    def q(self, env: QueryEnv) -> Q:
        return Q(country__in=self.params["countries"])

    def describe(self) -> str:
        return gettext("Country is %(countries)s") % {"countries": ", ".join(self.params["countries"])}


DEVICES = [("mobile", _("mobile")), ("tablet", _("tablet")), ("desktop", _("desktop"))]


class DeviceRule(Rule):
    kind = "device"
    label = _("Device type")
    event_kinds = frozenset()

    class Params(forms.Form):
        devices = MultipleChoiceListField(label=_("devices"), choices=DEVICES)

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.device in self.params["devices"]

    def q(self, env: QueryEnv) -> Q:
        return Q(device__in=self.params["devices"])

    def describe(self) -> str:
        labels = dict(DEVICES)
        return gettext("Device is %(devices)s") % {"devices": ", ".join(str(labels[d]) for d in self.params["devices"])}


# --- the visit (per request only) -----------------------------------------------------------
class ReferrerRule(Rule):
    """The visit came from a domain (or a subdomain of it)."""

    kind = "referrer"
    label = _("Referrer domain")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        domains = ListField(label=_("domains"), lower=True)

    def matches(self, ctx: SegmentContext) -> bool:
        host = (ctx.visit.get("referrer") or "").lower()
        return bool(host) and any(host == d or host.endswith("." + d) for d in self.params["domains"])

    def describe(self) -> str:
        return gettext("Came from %(domains)s") % {"domains": ", ".join(self.params["domains"])}


UTM_FIELDS = [("source", "utm_source"), ("medium", "utm_medium"), ("campaign", "utm_campaign")]


class UTMRule(Rule):
    """The visit's UTM source, medium or campaign is one of the values (case-insensitive)."""

    kind = "utm"
    label = _("UTM source, medium or campaign")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        field = forms.ChoiceField(label=_("parameter"), choices=UTM_FIELDS)
        values = ListField(label=_("values"), lower=True)

    def matches(self, ctx: SegmentContext) -> bool:
        value = str(ctx.visit.get(f"utm_{self.params['field']}") or "").lower()
        return bool(value) and value in self.params["values"]

    def describe(self) -> str:
        return gettext("utm_%(field)s is %(values)s") % {"field": self.params["field"], "values": ", ".join(self.params["values"])}


WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]


class WeekdayRule(Rule):
    """Day of the week in the store's time zone (``STORE_TIME_ZONE``)."""

    kind = "weekday"
    label = _("Day of week")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        days = MultipleChoiceListField(label=_("days"), choices=WEEKDAYS)

    def matches(self, ctx: SegmentContext) -> bool:
        return str(ctx.now.weekday()) in self.params["days"]

    def describe(self) -> str:
        labels = dict(WEEKDAYS)
        return gettext("Day is %(days)s") % {"days": ", ".join(str(labels[d]) for d in self.params["days"])}


class HourRule(Rule):
    """Hour of day in the store's time zone: from ``start`` (included) to ``end`` (excluded);
    ``start`` > ``end`` wraps past midnight (22 to 6 is the night)."""

    kind = "hour"
    label = _("Hour of day")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        start = forms.IntegerField(label=_("from hour"), min_value=0, max_value=23)
        end = forms.IntegerField(label=_("to hour"), min_value=0, max_value=24)

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            if data.get("start") is not None and data.get("start") == data.get("end"):
                raise ValidationError({"end": _("The range is empty: start and end are the same hour.")})
            return data

    def matches(self, ctx: SegmentContext) -> bool:
        hour, start, end = ctx.now.hour, self.params["start"], self.params["end"]
        return start <= hour < end if start < end else (hour >= start or hour < end)

    def describe(self) -> str:
        return gettext("Between %(start)s:00 and %(end)s:00") % self.params


# --- other segments -------------------------------------------------------------------------
class SegmentMemberRule(Rule):
    kind = "segment"
    label = _("Member of another segment")
    event_kinds = frozenset()

    class Params(forms.Form):
        segment = forms.SlugField(label=_("segment slug"))

        def clean_segment(self) -> str:
            slug = self.cleaned_data["segment"]
            if not Segment.objects.filter(slug=slug).exists():
                raise ValidationError(_("There is no segment “%(slug)s”.") % {"slug": slug})
            return slug

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.in_segment(self.params["segment"])

    def q(self, env: QueryEnv) -> Q | None:
        return env.segment_q(self.params["segment"])

    def describe(self) -> str:
        return gettext("Member of segment “%(slug)s”") % {"slug": self.params["segment"]}

    def dependencies(self) -> set[str]:
        return {self.params["segment"]}


BUILTIN_RULES: list[type[Rule]] = [
    VisitStateRule,
    VisitCountRule,
    DaysSinceLastVisitRule,
    ViewedRule,
    SearchedRule,
    CartValueRule,
    CartCategoryRule,
    OrderCountRule,
    LifetimeValueRule,
    RFMRule,
    DaysSincePurchaseRule,
    LoggedInRule,
    CountryRule,
    DeviceRule,
    ReferrerRule,
    UTMRule,
    WeekdayRule,
    HourRule,
    SegmentMemberRule,
]

_registry_cache: tuple[tuple[str, ...], dict[str, type[Rule]]] | None = None


def rule_registry() -> dict[str, type[Rule]]:
    """``kind`` -> rule class: the built-ins plus ``PERSONALIZE["SEGMENT_RULES"]``."""
    global _registry_cache
    extra = tuple(ps.SEGMENT_RULES or ())
    if _registry_cache is not None and _registry_cache[0] == extra:
        return _registry_cache[1]
    registry = {cls.kind: cls for cls in BUILTIN_RULES}
    for path in extra:
        cls = import_string(path)
        if not (isinstance(cls, type) and issubclass(cls, Rule)) or not cls.kind:
            raise TypeError(f"{path} must be a Rule subclass with a kind")
        registry[cls.kind] = cls
    _registry_cache = (extra, registry)
    return registry


def get_rule_class(kind: str) -> type[Rule] | None:
    return rule_registry().get(kind)


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, str(cls.label)) for kind, cls in rule_registry().items()]


def build_rule(kind: str, params: Any) -> Rule:
    """A rule instance with validated params; ``ValidationError`` for an unknown kind or bad params."""
    cls = get_rule_class(kind)
    if cls is None:
        raise ValidationError(_("Unknown rule type “%(kind)s”.") % {"kind": kind})
    return cls.from_params(params)


def describe_rule(kind: str, params: Any, negate: bool = False) -> str:
    """A label for stored params (already validated when saved: no re-validation, no query)."""
    cls = get_rule_class(kind)
    try:
        text = cls(dict(params)).describe() if cls is not None else f"{kind} {params}"
    except Exception:  # noqa: BLE001 - a stale or broken rule still gets a label
        text = f"{kind} {params}"
    return gettext("not (%(rule)s)") % {"rule": text} if negate else text


def segment_dependencies(rules: Iterable[tuple[str, Any]]) -> set[str]:
    """Slugs referenced by ``(kind, params)`` pairs (member-of-segment rules)."""
    slugs: set[str] = set()
    for kind, params in rules:
        if kind == SegmentMemberRule.kind and isinstance(params, dict) and params.get("segment"):
            slugs.add(str(params["segment"]))
    return slugs
