"""The explicit registry of rule types: the built-ins plus ``PERSONALIZE["SEGMENT_RULES"]``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.conf import import_path
from personalize.conf import personalize_settings as ps
from personalize.models import Segment

if TYPE_CHECKING:
    from personalize.segments.context import SegmentContext

logger = logging.getLogger("personalize")

from personalize.segments.rules.base import (
    QueryEnv,
    Rule,
)
from personalize.segments.rules.behaviour import *  # noqa: F403
from personalize.segments.rules.visits import *  # noqa: F403


# --- other segments -------------------------------------------------------------------------
class SegmentSlugField(forms.SlugField):
    """The slug of another segment (the admin offers the segments as choices)."""


class SegmentMemberRule(Rule):
    kind = "segment"
    label = _("Member of another segment")
    description = _("The shopper is a member of another segment.")
    event_kinds = frozenset()

    class Params(forms.Form):
        segment = SegmentSlugField(label=_("segment"))

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
        slug = self.params["segment"]
        name = Segment.objects.filter(slug=slug).values_list("name", flat=True).first()
        return gettext("Member of segment “%(name)s”") % {"name": name or slug}

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
        cls = import_path(path, "SEGMENT_RULES")
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
    """A label for stored params (already validated when saved: no re-validation; a rule naming
    a product, category, brand or segment looks its name up, one query)."""
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
