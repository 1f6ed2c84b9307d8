"""Business rules: Django ``Q`` filters on the store's product model, per placement.

Two sources, combined with AND: :class:`~personalize.models.PlacementRule` rows
(admin-editable, cached until one changes) and a placement's ``"rules"`` hook in settings
(a callable ``(placement, profile) -> Q``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.utils.translation import gettext as _

from personalize.adapters import get_adapter
from personalize.caching import VersionedMemo
from personalize.models import PlacementRule

CACHE_SECONDS = 60 * 60


def rule_q(include: dict[str, Any] | None, exclude: dict[str, Any] | None) -> models.Q:
    q = models.Q(**(include or {}))
    if exclude:
        # Each exclude lookup on its own: "never category X, never brand Y" (not "never both").
        for lookup, value in exclude.items():
            q &= ~models.Q(**{lookup: value})
    return q


def validate_lookups(lookups: Any, *, field: str) -> None:
    """Raise ``ValidationError`` naming the lookup unless it filters the product model."""
    if lookups in (None, ""):
        return
    if not isinstance(lookups, dict):
        raise ValidationError(_("Enter a JSON object of lookups, e.g. {\"margin__gte\": \"0.2\"}."), code="invalid")
    adapter = get_adapter()
    model = adapter.get_product_model()
    for lookup, value in lookups.items():
        try:
            queryset = model._default_manager.filter(**{lookup: value})
            # Compiling (without running) catches what filter() defers: bad values for __in...
            queryset.query.get_compiler(using=queryset.db).as_sql()
        except (FieldError, ValidationError, ValueError, TypeError, AttributeError) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            raise ValidationError(
                _("“%(lookup)s” is not a valid lookup on %(model)s: %(error)s")
                % {"lookup": str(lookup)[:80], "model": model._meta.verbose_name, "error": message[:200]},
                code="invalid_lookup",
            ) from None


def _query_rules() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return list(PlacementRule.objects.filter(active=True).values_list("placement", "include", "exclude"))


stored_rules = VersionedMemo("placement_rules", _query_rules, lambda: CACHE_SECONDS)


def stored_rules_q(placement: str) -> models.Q:
    """The admin's rules for ``placement`` (and for every placement) as one ``Q``."""
    q = models.Q()
    for name, include, exclude in stored_rules.get():
        if name in ("", placement):
            q &= rule_q(include, exclude)
    return q


def placement_q(placement: Any, profile: Any) -> models.Q:
    """Every business rule of a :class:`~personalize.placements.config.Placement`."""
    q = stored_rules_q(placement.name)
    hook = placement.rules_hook()
    if hook is not None:
        extra = hook(placement.name, profile)
        if extra is not None:
            q &= extra
    return q


def clear_cache(**kwargs: Any) -> None:
    stored_rules.bump()
