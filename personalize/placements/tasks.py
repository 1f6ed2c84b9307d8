"""Celery task for placements: keep the search-suggestion statistics warm in the cache."""

from __future__ import annotations

from celery import shared_task

from personalize.placements.search import search_stats

__all__ = ["refresh_search_suggestions"]


def _refresh() -> int:
    return len(search_stats(refresh=True).queries)


@shared_task(name="personalize.placements.refresh_search_suggestions")
def refresh_search_suggestions() -> int:
    """Recompute the search statistics (so no request computes them); returns the query count."""
    return _refresh()


# The name of the first release, kept for a release so queued messages and beat rows still run.
refresh_search_suggestions_alias = shared_task(name="personalize.refresh_search_suggestions")(_refresh)
