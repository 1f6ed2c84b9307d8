"""System checks for segments (ids E020-E029; see docs/checks.md)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.core.checks import Error, register

from personalize.conf import personalize_settings as ps
from personalize.segments.rules import BUILTIN_RULES, Rule

RFM_KEYS = {"recent_days", "frequent_orders", "big_spender_value", "at_risk_days", "at_risk_min_orders", "lapsed_days"}


@register()
def check_segments(app_configs: Any = None, **kwargs: Any) -> list:
    """E020 SEGMENT_RULES entry unusable, E021 unknown STORE_TIME_ZONE, E022 bad SEGMENT_RFM,
    E023 SEGMENT_CACHE_SECONDS / SEGMENT_REFRESH_BATCH not a positive number."""
    from django.utils.module_loading import import_string

    errors: list = []
    builtin = {cls.kind for cls in BUILTIN_RULES}
    for path in ps.SEGMENT_RULES or []:
        try:
            cls = import_string(path)
        except ImportError as exc:
            errors.append(Error(f'PERSONALIZE["SEGMENT_RULES"]: {path} cannot be imported: {exc}', id="personalize.E020"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Rule)) or not getattr(cls, "kind", ""):
            errors.append(Error(f'PERSONALIZE["SEGMENT_RULES"]: {path} must be a Rule subclass with a "kind".', id="personalize.E020"))
        elif cls.kind in builtin and cls not in BUILTIN_RULES:
            errors.append(
                Error(
                    f'PERSONALIZE["SEGMENT_RULES"]: {path} reuses the built-in kind "{cls.kind}".',
                    hint="Give the rule its own kind so stored rules keep their meaning.",
                    id="personalize.E020",
                )
            )
    if ps.STORE_TIME_ZONE:
        try:
            zoneinfo.ZoneInfo(ps.STORE_TIME_ZONE)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            errors.append(Error(f'PERSONALIZE["STORE_TIME_ZONE"] = {ps.STORE_TIME_ZONE!r} is not a known time zone.', id="personalize.E021"))
    rfm = ps.SEGMENT_RFM
    if not isinstance(rfm, dict):
        errors.append(Error('PERSONALIZE["SEGMENT_RFM"] must be a dict.', id="personalize.E022"))
    else:
        for key, value in rfm.items():
            if key not in RFM_KEYS:
                errors.append(Error(f'PERSONALIZE["SEGMENT_RFM"]: unknown key "{key}".', hint=f"Use {sorted(RFM_KEYS)}.", id="personalize.E022"))
            elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                errors.append(Error(f'PERSONALIZE["SEGMENT_RFM"]["{key}"] must be a number >= 0.', id="personalize.E022"))
    for name in ("SEGMENT_CACHE_SECONDS", "SEGMENT_REFRESH_BATCH"):
        value = getattr(ps, name)
        minimum = 0 if name == "SEGMENT_CACHE_SECONDS" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            errors.append(Error(f'PERSONALIZE["{name}"] must be a whole number >= {minimum}.', id="personalize.E023"))
    return errors
