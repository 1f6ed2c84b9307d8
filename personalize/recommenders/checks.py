"""System checks of the recommenders: E010 malformed RECOMMENDERS, E011 backend not importable,
E012 not a backend (the validator is :func:`personalize.recommenders.backend_class`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from personalize.conf import personalize_settings as ps
from personalize.recommenders import RecommenderConfigError, backend_class


@register()
def check_recommenders(app_configs: Any = None, **kwargs: Any) -> list:
    config = ps.RECOMMENDERS
    if not isinstance(config, dict) or "default" not in config:
        return [Error('PERSONALIZE["RECOMMENDERS"] must be a dict with a "default" alias.', id="personalize.E010")]
    errors: list = []
    for alias, entry in config.items():
        try:
            backend_class(alias, entry)
        except RecommenderConfigError as exc:
            errors.append(Error(str(exc), id=exc.check_id))
    return errors
