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


def _build(alias: str) -> BaseRecommender:
    config = _config().get(alias)
    if config is None:
        raise ImproperlyConfigured(f'No recommender "{alias}" in PERSONALIZE["RECOMMENDERS"].')
    try:
        cls = import_path(config["BACKEND"], "RECOMMENDERS")
    except (KeyError, ImportError) as exc:
        raise ImproperlyConfigured(f'PERSONALIZE["RECOMMENDERS"]["{alias}"]["BACKEND"]: {exc}') from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseRecommender)):
        raise ImproperlyConfigured(f'PERSONALIZE["RECOMMENDERS"]["{alias}"]: {cls!r} is not a BaseRecommender.')
    return cls(alias, dict(config.get("OPTIONS") or {}))


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
