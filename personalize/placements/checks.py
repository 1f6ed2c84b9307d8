"""System checks for ``PERSONALIZE["PLACEMENTS"]`` (ids E017-E019, in the recommendations range)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from personalize.conf import import_path
from personalize.conf import personalize_settings as ps
from personalize.placements.config import BUILTIN_PLACEMENTS, placement_problems


@register()
def check_placements(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    raw = ps.PLACEMENTS
    if not isinstance(raw, dict):
        return [Error('PERSONALIZE["PLACEMENTS"] must be a dict of placement name -> config.', id="personalize.E017")]
    if not isinstance(ps.DIVERSITY, dict):
        errors.append(Error('PERSONALIZE["DIVERSITY"] must be a dict like {"category": 4, "brand": 3}.', id="personalize.E017"))
    for name, conf in raw.items():
        if conf is None:
            continue
        for problem in placement_problems(name, conf):
            errors.append(Error(f'PERSONALIZE["PLACEMENTS"]["{name}"]: {problem}.', id="personalize.E017"))
    aliases = set(ps.RECOMMENDERS or {}) if isinstance(ps.RECOMMENDERS, dict) else set()
    merged = {n: {**BUILTIN_PLACEMENTS.get(n, {}), **c} for n, c in raw.items() if isinstance(c, dict)}
    merged.update({n: c for n, c in BUILTIN_PLACEMENTS.items() if n not in raw})
    wanted = {ps.NEUTRAL_RECOMMENDER: 'PERSONALIZE["NEUTRAL_RECOMMENDER"]'}
    for name, conf in merged.items():
        wanted.setdefault(conf.get("recommender", "default"), f'PERSONALIZE["PLACEMENTS"]["{name}"]')
        for variant in conf.get("variants") or []:
            if isinstance(variant, dict) and variant.get("recommender"):
                wanted.setdefault(variant["recommender"], f'PERSONALIZE["PLACEMENTS"]["{name}"] variant {variant.get("name")!r}')
    for alias, where in wanted.items():
        if aliases and alias not in aliases:
            errors.append(
                Error(
                    f'{where} names recommender "{alias}", which is not in PERSONALIZE["RECOMMENDERS"].',
                    hint="Use one of: " + ", ".join(sorted(aliases)),
                    id="personalize.E018",
                )
            )
    for name, conf in merged.items():
        path = conf.get("rules")
        if not path:
            continue
        try:
            hook = import_path(path, "PLACEMENTS")
        except ImportError as exc:
            errors.append(Error(f'PERSONALIZE["PLACEMENTS"]["{name}"]["rules"] cannot be imported: {exc}', id="personalize.E019"))
            continue
        if not callable(hook):
            errors.append(Error(f'PERSONALIZE["PLACEMENTS"]["{name}"]["rules"] is not callable.', id="personalize.E019"))
    return errors
