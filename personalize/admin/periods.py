"""The reporting window the admin's result pages share (``?days=7|30|90``)."""

from __future__ import annotations

from django.http import HttpRequest

REPORT_PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30


def report_days(request: HttpRequest) -> int:
    """The ``days`` the page asks for, or the default when missing or not offered."""
    try:
        days = int(request.GET.get("days", DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS
    return days if days in REPORT_PERIODS else DEFAULT_DAYS
