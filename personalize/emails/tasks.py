"""Celery task of lifecycle emails: a thin wrapper over :mod:`personalize.emails.sending`."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from personalize.emails.sending import send_due as run


@shared_task(name="personalize.emails.send_due", ignore_result=False)
def send_due(now: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Send the lifecycle emails due now (beat: every 10 minutes). Safe to run concurrently:
    every send is claimed in the database first, so overlapping runs never duplicate an email."""
    from django.utils.dateparse import parse_datetime

    when = parse_datetime(now) if now else None
    return run(when, limit=limit).as_dict()
