"""Celery tasks for segments (thin wrappers over :mod:`personalize.segments.materialise`)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from personalize.segments.materialise import refresh_segments

__all__ = ["refresh_segments_task"]


@shared_task(name="personalize.segments.refresh")
def refresh_segments_task(slugs: list[str] | None = None) -> list[dict[str, Any]]:
    """Refresh the memberships of materialised segments (beat: every 15 minutes)."""
    return [vars(result) for result in refresh_segments(slugs)]
