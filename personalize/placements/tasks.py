"""Celery task for placements: keep the search-suggestion statistics warm in the cache."""

from __future__ import annotations

from celery import shared_task

from personalize.placements.search import search_stats

__all__ = ["refresh_search_suggestions"]


@shared_task(name="personalize.refresh_search_suggestions")
def refresh_search_suggestions() -> int:
    """Recompute the search statistics (so no request computes them); returns the query count."""
    return len(search_stats(refresh=True).queries)
