"""Hyper-parameters chosen by every training run, on a validation split of its own data.

A backend describes what may be tuned with :meth:`~BaseRecommender.tuning_space`: points
that need a fit (LightFM's components and epochs), variants of cheap derived state (which
item-item model the blend uses) and serving-time axes scored on a fitted model (the blend
weight, recency weighting, profile length). :func:`tune` carves a validation split from
the training data (each shopper's latest events; never anything the run is compared with
later), fits every point with one thread and a fixed seed (so the choice is reproducible),
and keeps the best NDCG@10. Options a store sets in ``OPTIONS`` are never tuned; ``TUNE:
False`` turns the search off. The search is bounded: at most ``TUNING_MAX_EVENTS`` events
(a seeded sample of whole shoppers beyond that), ``TUNING_MAX_USERS`` scored shoppers,
and fit points whose work on the whole data would exceed the backend's budget are skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from personalize.conf import personalize_settings as ps
from personalize.recommenders.base import Artefact, BaseRecommender, TrainingData, TuningSpace
from personalize.recommenders.evaluation import Validation, temporal_split
from personalize.recommenders.popular import PopularRecommender

logger = logging.getLogger("personalize")

METRIC = "ndcg@10"
#: Defaults of the options every trainable backend understands (its OPTIONS override them).
TUNING_DEFAULTS: dict[str, Any] = {
    "TUNE": True,
    "TUNING_MAX_EVENTS": 50_000,
    "TUNING_MAX_USERS": 1000,
    "TUNING_SEED": 0,
    "VALIDATION_FRACTION": 0.2,
}

Progress = Callable[[str, int, int], None]


@dataclass
class TuningResult:
    chosen: dict[str, Any]
    validation: dict[str, float]
    baseline: dict[str, float]
    trials: list[dict[str, Any]]
    split: dict[str, Any]
    seconds: float
    backend: BaseRecommender | None = None  # the best candidate, fitted on the fit part
    artefact: Artefact | None = None

    def record(self) -> dict[str, Any]:
        """What the model version keeps (JSON)."""
        return {"chosen": self.chosen, "trials": self.trials, "seconds": round(self.seconds, 1), **self.split}


def tuning_option(backend: BaseRecommender, name: str) -> Any:
    return backend.options.get(name, TUNING_DEFAULTS[name])


def sample_shoppers(data: TrainingData, max_events: int, seed: int) -> TrainingData:
    """Whole shoppers in a seeded random order until ``max_events`` events (all if fewer)."""
    if not max_events or data.n_events <= max_events:
        return data
    counts = np.bincount(data.users, minlength=data.n_users)
    order = np.random.default_rng(seed).permutation(data.n_users)
    taken = order[np.cumsum(counts[order]) <= max_events]
    keep = np.zeros(data.n_users, dtype=bool)
    keep[taken] = True
    return data.subset(keep[data.users])


def _point(options: dict[str, Any], explicit: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in options.items() if name not in explicit}


def _unique(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for point in points:
        marker = tuple(sorted((k, repr(v)) for k, v in point.items()))
        if marker not in seen:
            seen.add(marker)
            out.append(point)
    return out


class _Search:
    """One tuning run: the split, the scored trials and the best point so far."""

    def __init__(self, backend: BaseRecommender, fit_part: TrainingData, validation: Validation, progress: Progress | None):
        self.cls, self.alias = type(backend), backend.alias
        self.explicit = dict(backend.options)
        self.fit_part, self.validation, self.progress = fit_part, validation, progress
        self.trials: list[dict[str, Any]] = []
        self.best: tuple[float, dict[str, Any], BaseRecommender, Artefact] | None = None

    def fitted(self, options: dict[str, Any]) -> tuple[BaseRecommender, Artefact, float]:
        # One thread and the fixed seed: LightFM's Hogwild with two threads is not reproducible.
        candidate = self.cls(self.alias, {**self.explicit, **options, "NUM_THREADS": 1})
        clock = time.monotonic()
        artefact = candidate.fit(self.fit_part)
        return candidate, artefact, time.monotonic() - clock

    def set_options(self, candidate: BaseRecommender, options: dict[str, Any]) -> None:
        candidate.options = {**self.explicit, **options, "NUM_THREADS": 1}

    def trial(self, stage: str, options: dict[str, Any], candidate: BaseRecommender, fit_seconds: float | None = None) -> float:
        metrics = self.validation.score(candidate)
        row: dict[str, Any] = {"stage": stage, "options": options, METRIC: round(metrics[METRIC], 5),
                               "coverage": round(metrics["coverage"], 4)}
        if fit_seconds is not None:
            row["fit_seconds"] = round(fit_seconds, 1)
        self.trials.append(row)
        if self.progress is not None:
            self.progress("tuning", len(self.trials), len(self.trials))
        return metrics[METRIC]

    def offer(self, score: float, options: dict[str, Any], candidate: BaseRecommender, artefact: Artefact) -> None:
        """Keep the point if it beats the best so far (equal scores keep the earlier, cheaper one)."""
        if self.best is None or score > self.best[0]:
            self.best = (score, dict(options), candidate, artefact)


def tune(backend: BaseRecommender, data: TrainingData, *, progress: Progress | None = None) -> TuningResult:
    """Choose ``backend``'s untuned options on a validation split of ``data``.

    Without a tuning space (or with ``TUNE: False``) the configured options are fitted and
    scored once, so every version carries validation metrics the same way.
    """
    # Validation scores one shopper at a time: a catalogue-sized matrix-vector product each,
    # which OpenBLAS splits over its threads. On a busy machine every such split waits for a
    # core (a scheduling slice, ~10 ms, for a 0.03 ms product): the search was 3x slower in
    # wall time than its CPU, and spinning threads burnt CPU too. One BLAS thread for the
    # search; LightFM's own fit threads (OpenMP) are not BLAS and keep NUM_THREADS.
    with threadpool_limits(limits=1, user_api="blas"):
        return _tune(backend, data, progress)


def _tune(backend: BaseRecommender, data: TrainingData, progress: Progress | None) -> TuningResult:
    started = time.monotonic()
    explicit = dict(backend.options)
    seed = int(tuning_option(backend, "TUNING_SEED"))
    evaluated = backend.evaluation_data(data)
    sample = sample_shoppers(evaluated, int(tuning_option(backend, "TUNING_MAX_EVENTS") or 0), seed)
    fit_part, held_out = temporal_split(sample, float(tuning_option(backend, "VALIDATION_FRACTION")))
    validation = Validation(fit_part, held_out, max_users=int(tuning_option(backend, "TUNING_MAX_USERS")), seed=seed)
    space = (backend.tuning_space(data) if tuning_option(backend, "TUNE") else None) or TuningSpace()
    fits = _unique([_point(p, explicit) for p in space.fits]) or [{}]
    refine = [r for r in _unique([_point(r, explicit) for r in space.refine]) if r]
    variants = [v for v in _unique([_point(v, explicit) for v in space.variants]) if v]
    probe = _point(space.probe, explicit)
    axes = [(name, values) for name, values in space.serving if name not in explicit and values]
    search = _Search(backend, fit_part, validation, progress)

    variant: dict[str, Any] = variants[0] if len(variants) == 1 else {}
    for n, fit_point in enumerate(fits):
        candidate, artefact, seconds = search.fitted({**fit_point, **variant})
        if n == 0 and len(variants) > 1:
            # The item-item variants, each scored alone (``probe``) on the first fit.
            scored = []
            for option_set in variants:
                search.set_options(candidate, {**fit_point, **option_set, **probe})
                candidate.rebuild(fit_part)
                scored.append((search.trial("variant", {**fit_point, **option_set, **probe}, candidate, seconds), option_set))
            variant = max(scored, key=lambda row: row[0])[1]  # max() keeps the first of equals
            search.set_options(candidate, {**fit_point, **variant})
            artefact = candidate.rebuild(fit_part)
        _search_first_axis(search, candidate, artefact, {**fit_point, **variant}, axes, seconds)
    assert search.best is not None
    for extra in refine:
        base = search.best[1]
        options = {**base, **extra}
        candidate, artefact, seconds = search.fitted(options)
        _search_first_axis(search, candidate, artefact, options, axes, seconds, values=[base.get(axes[0][0])] if axes else None)
    score, chosen, candidate, artefact = search.best
    search.set_options(candidate, chosen)
    for name, values in axes[1:]:
        results = []
        for value in values:
            candidate.options[name] = value
            results.append((search.trial("serving", {**chosen, name: value}, candidate), value))
        top = max(results, key=lambda row: row[0])  # the first of equals: each axis lists its default first
        score, chosen = top[0], {**chosen, name: top[1]}
        search.set_options(candidate, chosen)
    final = validation.score(candidate)
    if tuning_option(backend, "TUNE"):
        chosen = {**chosen, **_diversity_choice(search, candidate, chosen, final)}
    baseline = PopularRecommender(f"{backend.alias}:baseline")
    baseline.fit(fit_part)
    split = {
        "validation_fraction": float(tuning_option(backend, "VALIDATION_FRACTION")),
        "events": int(sample.n_events),
        "sampled": bool(sample.n_events < evaluated.n_events),
        "seed": seed,
        "fit_events": int(fit_part.n_events),
        "validation_events": int(held_out.n_events),
    }
    return TuningResult(
        chosen=chosen, validation=final, baseline=validation.score(baseline),
        trials=search.trials, split=split, seconds=time.monotonic() - started, backend=candidate, artefact=artefact,
    )


def _search_first_axis(
    search: _Search,
    candidate: BaseRecommender,
    artefact: Artefact,
    options: dict[str, Any],
    axes: list[tuple[str, list[Any]]],
    seconds: float,
    values: list[Any] | None = None,
) -> None:
    """Score a fitted candidate at each value of the first serving axis (or as it is)."""
    if not axes:
        search.offer(search.trial("fit", options, candidate, seconds), options, candidate, artefact)
        return
    name = axes[0][0]
    for value in values if values is not None else axes[0][1]:
        point = {**options, name: value}
        search.set_options(candidate, point)
        search.offer(search.trial("fit", point, candidate, seconds), point, candidate, artefact)


def _diversity_choice(search: _Search, candidate: BaseRecommender, chosen: dict[str, Any], plain: dict[str, float]) -> dict[str, Any]:
    """Whether the placements' category cap may apply to this model's lists.

    The cap (``DIVERSITY["category"]``) is scored on the validation split; when it costs
    NDCG the version records ``DIVERSITY_OFF: ["category"]`` and placements that do not set
    their own cap serve without it. Only shopper-list models (``compare_with_baseline``)."""
    cap = (ps.DIVERSITY or {}).get("category")
    if "DIVERSITY_OFF" in search.explicit or not cap or not getattr(candidate, "compare_with_baseline", False):
        return {}
    if not search.fit_part.item_categories:
        return {}
    capped = search.validation.score(candidate, category_cap=int(cap))
    search.trials.append({"stage": "pipeline", "options": {**chosen, "category_cap": int(cap)},
                          METRIC: round(capped[METRIC], 5), "coverage": round(capped["coverage"], 4)})
    return {"DIVERSITY_OFF": ["category"]} if capped[METRIC] < plain[METRIC] else {"DIVERSITY_OFF": []}
