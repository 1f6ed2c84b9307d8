"""System checks for campaigns and offers (ids E030-E039, W030-W039; see docs/checks.md)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.checks import Error, Warning, register

from personalize.conf import personalize_settings as ps

WHOLE_NUMBER_KEYS = (
    "ATTRIBUTION_WINDOW_HOURS",
    "CAMPAIGN_CACHE_SECONDS",
    "CAMPAIGN_STATE_SECONDS",
    "CAMPAIGN_CONTACT_CHECK_SECONDS",
    "CAMPAIGN_MIN_CONVERSIONS",
    "CAMPAIGN_CLICK_MAX_AGE_DAYS",
)


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@register()
def check_campaigns(app_configs: Any = None, **kwargs: Any) -> list:
    """E030 CAMPAIGN_CONFIDENCE not in (0, 1); E031 a campaign count/duration not a whole number
    >= 0 (CAMPAIGN_MIN_SAMPLE >= 2); E032 FREE_SHIPPING_THRESHOLD not a number >= 0; W030 the
    click redirect is not routed (``personalize.urls`` not included)."""
    errors: list = []
    confidence = ps.CAMPAIGN_CONFIDENCE
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        errors.append(Error('PERSONALIZE["CAMPAIGN_CONFIDENCE"] must be a number between 0 and 1, e.g. 0.95.', id="personalize.E030"))
    for key in WHOLE_NUMBER_KEYS:
        if not _whole(getattr(ps, key), 0):
            errors.append(Error(f'PERSONALIZE["{key}"] must be a whole number >= 0.', id="personalize.E031"))
    if not _whole(ps.CAMPAIGN_MIN_SAMPLE, 2):
        errors.append(Error('PERSONALIZE["CAMPAIGN_MIN_SAMPLE"] must be a whole number >= 2.', id="personalize.E031"))
    threshold = ps.FREE_SHIPPING_THRESHOLD
    if threshold is not None:
        try:
            ok = Decimal(str(threshold)) >= 0
        except (InvalidOperation, ValueError):
            ok = False
        if not ok:
            errors.append(Error('PERSONALIZE["FREE_SHIPPING_THRESHOLD"] must be None or an amount >= 0.', id="personalize.E032"))
    errors.extend(_check_click_route())
    return errors


def _check_click_route() -> list:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("personalize:campaign_click", args=["x"])
    except NoReverseMatch:
        return [
            Warning(
                "Campaign links cannot count clicks: the URL 'personalize:campaign_click' is not routed.",
                hint='Add path("personalize/", include("personalize.urls")) to your URLconf.',
                id="personalize.W030",
            )
        ]
    except Exception:  # a broken URLconf is Django's own check to report
        return []
    return []
