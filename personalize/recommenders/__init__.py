"""Recommender backends, configured like Django's ``CACHES``::

    PERSONALIZE = {"RECOMMENDERS": {
        "default": {"BACKEND": "personalize.recommenders.lightfm.LightFMRecommender", "OPTIONS": {...}},
        "popular": {"BACKEND": "personalize.recommenders.popular.PopularRecommender"},
        "bought_together": {"BACKEND": "personalize.recommenders.cooccurrence.CoOccurrenceRecommender",
                            "OPTIONS": {"KINDS": ["purchase"]}},
    }}

``get_recommender(alias)`` returns one instance per alias per process (models are loaded once,
not per request); instances are rebuilt when ``PERSONALIZE`` changes.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from personalize.conf import import_path
from personalize.conf import personalize_settings as ps
from personalize.recommenders.base import Artefact, BaseRecommender, Recommendation, TrainingData

__all__ = [
    "Artefact",
    "BaseRecommender",
    "Recommendation",
    "TrainingData",
    "get_recommender",
    "recommender_aliases",
    "reset_recommenders",
]

_instances: dict[str, BaseRecommender] = {}
_lock = threading.Lock()


def _config() -> dict[str, dict[str, Any]]:
    return ps.RECOMMENDERS or {}


def recommender_aliases() -> list[str]:
    """The configured aliases, in settings order."""
    return list(_config())


def get_recommender(alias: str = "default") -> BaseRecommender:
    """The recommender configured under ``alias`` (one instance per process)."""
    instance = _instances.get(alias)
    if instance is not None:
        return instance
    with _lock:
        if alias not in _instances:
            _instances[alias] = _build(alias)
        return _instances[alias]


class RecommenderConfigError(ImproperlyConfigured):
    """A malformed ``RECOMMENDERS`` entry; ``check_id`` is the system check that reports it."""

    def __init__(self, message: str, check_id: str) -> None:
        super().__init__(message)
        self.check_id = check_id


def backend_class(alias: str, entry: Any) -> type[BaseRecommender]:
    """The backend class of one ``RECOMMENDERS`` entry: the one validator, used to build the
    recommender and by the E010-E012 checks."""
    where = f'PERSONALIZE["RECOMMENDERS"]["{alias}"]'
    if not isinstance(entry, dict) or "BACKEND" not in entry or not isinstance(entry.get("OPTIONS", {}), dict):
        raise RecommenderConfigError(f'{where} needs "BACKEND" (and an "OPTIONS" dict).', "personalize.E010")
    try:
        cls = import_path(entry["BACKEND"], "RECOMMENDERS")
    except ImportError as exc:
        raise RecommenderConfigError(f'{where}["BACKEND"] cannot be imported: {exc}', "personalize.E011") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseRecommender)):
        raise RecommenderConfigError(f'{where}: {entry["BACKEND"]} is not a BaseRecommender subclass.', "personalize.E012")
    return cls


def _build(alias: str) -> BaseRecommender:
    config = _config().get(alias)
    if config is None:
        raise ImproperlyConfigured(f'No recommender "{alias}" in PERSONALIZE["RECOMMENDERS"].')
    return backend_class(alias, config)(alias, dict(config.get("OPTIONS") or {}))


def reset_instance(alias: str) -> None:
    """Make this process's ``alias`` reload its model on the next call (a new version is active)."""
    instance = _instances.get(alias)
    if instance is not None:
        instance.reset()


def reset_recommenders() -> None:
    """Drop every instance (the next call rebuilds and reloads)."""
    with _lock:
        for instance in _instances.values():
            instance.reset()
        _instances.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "PERSONALIZE":
        reset_recommenders()


setting_changed.connect(_on_setting_changed, dispatch_uid="personalize.recommenders.reset")
