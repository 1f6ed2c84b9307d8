"""Celery tasks for the recommenders (thin: the work is in ``personalize.recommenders.training``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from personalize.recommenders import training


@shared_task(name="personalize.train", ignore_result=False)
def train(alias: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Retrain ``alias`` (or every trainable recommender and the cached lists when ``None``)."""
    versions = [training.train(alias=alias, force=force)] if alias else training.train_all(force=force)
    return [{"alias": v.alias, "id": v.pk, "status": v.status, "metrics": v.metrics} for v in versions]


@shared_task(name="personalize.refresh_popular")
def refresh_popular() -> list[str]:
    """Recompute the cached trending lists (cheap; runs more often than training)."""
    return training.refresh_lists()
