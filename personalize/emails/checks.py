"""System checks of lifecycle emails (personalize.E040-E049, W040-W049; docs/checks.md)."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from personalize.conf import personalize_settings as ps


@register()
def check_emails(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    if not ps.SITE_URL and not apps.is_installed("django.contrib.sites"):
        errors.append(
            Warning(
                'PERSONALIZE["SITE_URL"] is empty and django.contrib.sites is not installed: links and images in lifecycle emails will not be absolute.',
                hint='Set PERSONALIZE["SITE_URL"] = "https://your.shop".',
                id="personalize.W040",
            )
        )
    quiet = ps.EMAIL_QUIET_HOURS
    if quiet:
        try:
            start, end = quiet
            for value in (start, end):
                if not isinstance(value, time):
                    time.fromisoformat(str(value))
        except (TypeError, ValueError):
            errors.append(
                Error(
                    f'PERSONALIZE["EMAIL_QUIET_HOURS"] = {quiet!r} is not a pair of "HH:MM" times.',
                    hint='For example ("21:00", "08:00"), or None for no quiet hours.',
                    id="personalize.E040",
                )
            )
    hook = ps.EMAIL_RESTORE_CART_HOOK
    if isinstance(hook, str) and hook:
        try:
            import_string(hook)
        except ImportError as exc:
            errors.append(Error(f'PERSONALIZE["EMAIL_RESTORE_CART_HOOK"] cannot be imported: {exc}', id="personalize.E041"))
    if ps.EMAIL_TIME_ZONE:
        try:
            ZoneInfo(str(ps.EMAIL_TIME_ZONE))
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                Warning(f'PERSONALIZE["EMAIL_TIME_ZONE"] = {ps.EMAIL_TIME_ZONE!r} is not a known time zone; UTC is used.', id="personalize.W041")
            )
    return errors
