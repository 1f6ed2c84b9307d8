"""Segment rule types: each is a :class:`Rule` subclass with a ``kind``, a params form,
``matches(ctx)`` for one shopper and, when it can, ``q(env)`` to select shoppers in SQL.

The registry is explicit (:mod:`~personalize.segments.rules.registry`): ``BUILTIN_RULES`` plus the dotted paths a store lists in
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
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.models import Event, EventKind

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

    def prepare_value(self, value: Any) -> Any:
        """A stored list shows as "DE, AT", not as Python's ``['DE', 'AT']``."""
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return super().prepare_value(value)


class DaysField(forms.IntegerField):
    """A whole number of days (stored as an int). The admin shows it as a duration widget."""


CATALOGUE_FACETS = ("product", "category", "brand")


class CatalogueKeyField(forms.CharField):
    """The key of a product, a category or a brand of the store (what the adapter calls a key).

    ``facet`` names which one; ``facet_field`` instead names a sibling field whose value does
    (a rule on "a product or a category"). The admin shows a search-as-you-type picker that
    stores the key and shows the name.
    """

    def __init__(self, *, facet: str | None = None, facet_field: str | None = None, **kwargs: Any) -> None:
        if (facet is None) == (facet_field is None):
            raise TypeError("CatalogueKeyField needs one of facet= or facet_field=")
        if facet is not None and facet not in CATALOGUE_FACETS:
            raise ValueError(f"facet must be one of {CATALOGUE_FACETS}")
        self.facet, self.facet_field = facet, facet_field
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)


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
    min = DaysField(label=_("at least"), required=False, min_value=0, max_value=36500)
    max = DaysField(label=_("at most"), required=False, min_value=0, max_value=36500)


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
    """Keys of the store's products in a category and its subcategories (the adapter's
    :meth:`~personalize.adapters.DefaultAdapter.category_filter`)."""
    adapter = get_adapter()
    manager = adapter.get_product_model()._default_manager
    return [str(pk) for pk in manager.filter(adapter.category_filter(category)).values_list("pk", flat=True)]


def _category_key(value: str, field: str) -> str:
    """The category key for an id, slug or name typed in a rule; a form error if unknown."""
    key = get_adapter().resolve_category(value)
    if key is None:
        raise ValidationError(_("No category “%(value)s” (use its id, slug or name).") % {"value": value})
    return key


def _brand_product_keys(brand: str) -> list[str]:
    """Keys of the store's products of a brand (the adapter's ``brand_filter``)."""
    adapter = get_adapter()
    manager = adapter.get_product_model()._default_manager
    return [str(pk) for pk in manager.filter(adapter.brand_filter(brand)).values_list("pk", flat=True)]


def catalogue_label(facet: str, key: str) -> str:
    """The name of a product, category or brand for a rule's summary ("Hoodies", not "3");
    the key itself when the store no longer has it or the lookup fails."""
    try:
        return get_adapter().catalogue_labels(facet, [key]).get(str(key)) or str(key)
    except Exception:  # noqa: BLE001 - a summary must not break a page
        logger.warning("personalize: no name for %s %r", facet, key, exc_info=True)
        return str(key)


# --- the base class -------------------------------------------------------------------------
class Rule:
    """One condition on a shopper. Subclass, set ``kind``/``label``/``Params``, implement
    ``matches`` and ``describe``; implement ``q`` when the rule can be evaluated in SQL."""

    kind: ClassVar[str] = ""
    label: ClassVar[Any] = ""
    # One sentence for the marketer, under the rule's fields in the admin (translated).
    description: ClassVar[Any] = ""
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
