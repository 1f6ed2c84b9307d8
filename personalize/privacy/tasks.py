"""Celery task for privacy: the daily retention purge (thin: the work is in ``retention``)."""

from __future__ import annotations

from celery import shared_task

from personalize.privacy.retention import purge as purge_expired

__all__ = ["purge"]


@shared_task(name="personalize.privacy.purge")
def purge() -> dict[str, int]:
    """Delete events and idle anonymous profiles older than the retention settings."""
    return purge_expired()
