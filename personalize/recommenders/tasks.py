"""Celery tasks for the recommenders (thin: the work is in ``personalize.recommenders.training``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from personalize.recommenders import training


def _train(alias: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    versions = [training.train(alias=alias, force=force)] if alias else training.train_all(force=force)
    return [{"alias": v.alias, "id": v.pk, "status": v.status, "metrics": v.metrics} for v in versions]


def _refresh_popular() -> list[str]:
    return training.refresh_lists()


@shared_task(name="personalize.recommenders.train", ignore_result=False)
def train(alias: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Retrain ``alias`` (or every trainable recommender and the cached lists when ``None``)."""
    return _train(alias, force)


@shared_task(name="personalize.recommenders.refresh_popular")
def refresh_popular() -> list[str]:
    """Recompute the cached trending lists (cheap; runs more often than training)."""
    return _refresh_popular()


# The names of the first release, kept for a release so queued messages and beat rows still run.
train_alias = shared_task(name="personalize.train", ignore_result=False)(_train)
refresh_popular_alias = shared_task(name="personalize.refresh_popular")(_refresh_popular)
