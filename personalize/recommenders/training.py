"""Training recommenders, as a job: load events, fit, evaluate, store, switch atomically.

``train(alias=...)`` is what the Celery task, ``manage.py personalize_train``, the admin action
and the benchmark scripts call. Each run is a :class:`~personalize.models.ModelVersion`: the
backend tunes itself on a validation split of the data (``tuning.py``), the choice is recorded,
and the new version serves only if it matches or beats the active one on validation NDCG@10 (or
``force``); a version that learnt nothing never serves, and a failed or killed run leaves the
active version serving.
"""

from __future__ import annotations

import inspect
import logging
import time
import traceback
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from personalize.batching import chunked
from personalize.conf import personalize_settings as ps
from personalize.models import Event, EventKind, ModelVersion, SegmentMembership, Shopper, purchase_lines
from personalize.profiles import shopper_features
from personalize.recommenders import Artefact, BaseRecommender, TrainingData, get_recommender, recommender_aliases
from personalize.recommenders.catalogue import iter_products
from personalize.recommenders.loading import publish_active, read_artefact
from personalize.recommenders.tuning import tune
from personalize.storage import artefact_storage

logger = logging.getLogger("personalize")

Progress = Callable[[str, int, int], None]

#: Event kinds that say something about taste (searches and impressions do not name a liked product).
TRAINING_KINDS = (EventKind.VIEW, EventKind.REC_CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE)
METRIC = "ndcg@10"


def window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime]:
    until = until or timezone.now()
    if since is None and ps.TRAINING_WINDOW_DAYS:
        since = until - timedelta(days=float(ps.TRAINING_WINDOW_DAYS))
    return since, until


def load_training_data(
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    chunk_size: int = 20_000,
    progress: Progress | None = None,
) -> TrainingData:
    """Events of the window as numpy arrays, streamed from the database in chunks.

    Memory stays bounded by the arrays themselves (about 30 bytes per event): rows are read
    with ``iterator(chunk_size=...)`` into typed arrays, never as model instances. Events on
    products the adapter does not show are dropped.
    """
    since, until = window(since, until)
    products = list(iter_products())
    keys = [p.key for p in products]
    key_index = {key: i for i, key in enumerate(keys)}
    kind_names = tuple(str(k) for k in TRAINING_KINDS)
    kind_index = {name: i for i, name in enumerate(kind_names)}
    shopper_index: dict[int, int] = {}
    users, items, kinds = array("i"), array("i"), array("b")
    times = array("d")

    def add(shopper_id: int, key: str, kind: str, when: datetime) -> None:
        item = key_index.get(key)
        if item is None:
            return
        users.append(shopper_index.setdefault(shopper_id, len(shopper_index)))
        items.append(item)
        kinds.append(kind_index[kind])
        times.append(when.timestamp())

    events = Event.objects.filter(kind__in=kind_names, created_at__lte=until)
    if since is not None:
        events = events.filter(created_at__gte=since)
    total = events.count() if progress is not None else 0
    done = 0
    rows = events.exclude(product_key="").values_list("shopper_id", "product_key", "kind", "created_at")
    for shopper_id, key, kind, when in rows.order_by().iterator(chunk_size=chunk_size):
        add(shopper_id, key, kind, when)
        done += 1
        if progress is not None and done % chunk_size == 0:
            progress("events", done, total)
    # orders tracked with lines (one event, several products)
    purchases = events.filter(kind=EventKind.PURCHASE, product_key="").values_list("shopper_id", "context", "created_at")
    for shopper_id, context, when in purchases.order_by().iterator(chunk_size=chunk_size):
        for line in purchase_lines(context):
            add(shopper_id, line["product"], EventKind.PURCHASE, when)
        done += 1
    if progress is not None:
        progress("events", total, total)

    shopper_ids = np.zeros(len(shopper_index), dtype=np.int64)
    for pk, idx in shopper_index.items():
        shopper_ids[idx] = pk
    data = TrainingData(
        users=np.frombuffer(users, dtype=np.int32).copy() if users else np.zeros(0, dtype=np.int32),
        items=np.frombuffer(items, dtype=np.int32).copy() if items else np.zeros(0, dtype=np.int32),
        kinds=np.frombuffer(kinds, dtype=np.int8).copy() if kinds else np.zeros(0, dtype=np.int8),
        times=np.frombuffer(times, dtype=np.float64).copy() if times else np.zeros(0, dtype=np.float64),
        sessions=np.zeros(0, dtype=np.int64),
        shopper_ids=shopper_ids,
        product_keys=np.array(keys, dtype=str) if keys else np.zeros(0, dtype="<U1"),
        kind_names=kind_names,
        item_features={p.key: p.features for p in products},
        item_categories={p.key: p.category for p in products},
        category_labels={p.category: p.category_label for p in products if p.category},
        item_titles={p.key: p.title for p in products},
        user_features=_user_features(shopper_index, chunk_size),
        since=since,
        until=until,
    )
    data.sessions = sessions_of(data.users, data.times, gap_seconds=60.0 * ps.VISIT_TIMEOUT_MINUTES)
    return data


def sessions_of(users: np.ndarray, times: np.ndarray, gap_seconds: float) -> np.ndarray:
    """A session id per event: a shopper's events split where they pause longer than the gap."""
    if not len(users):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((times, users))
    u, t = users[order], times[order]
    new = np.ones(len(u), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (np.diff(t) > gap_seconds)
    sessions = np.empty(len(u), dtype=np.int64)
    sessions[order] = np.cumsum(new) - 1
    return sessions


def _user_features(shopper_index: dict[int, int], chunk_size: int) -> dict[int, dict[str, str]]:
    """Country, device, known/anonymous and segment slugs per shopper index."""
    features: dict[int, dict[str, str]] = {}
    ids = list(shopper_index)
    slugs = _segment_slugs(ids)
    for batch in chunked(ids):
        for pk, country, device, user_id in Shopper.objects.filter(pk__in=batch).values_list(
            "pk", "country", "device", "user_id"
        ):
            features[shopper_index[pk]] = shopper_features(
                country=country, device=device, known=bool(user_id), segments=slugs.get(pk, ())
            )
    return features


def _segment_slugs(ids: list[int]) -> dict[int, set[str]]:
    """Materialised segment memberships per shopper."""
    found: dict[int, set[str]] = {}
    for batch in chunked(ids):
        rows = SegmentMembership.objects.filter(shopper_id__in=batch).values_list(
            "shopper_id", "segment__slug"
        )
        for pk, slug in rows:
            found.setdefault(pk, set()).add(slug)
    return found


# --- versions -----------------------------------------------------------------------------
def backend_path(recommender: BaseRecommender) -> str:
    cls = type(recommender)
    return f"{cls.__module__}.{cls.__qualname__}"


def new_backend(alias: str, **overrides: Any) -> BaseRecommender:
    """A fresh (not process-cached) instance of ``alias``'s backend, options overridable."""
    configured = get_recommender(alias)
    return type(configured)(alias, {**configured.options, **overrides})


def fail_stale_runs(alias: str) -> int:
    """Runs still "training" past the timeout were killed: mark them failed."""
    limit = timezone.now() - timedelta(minutes=float(ps.TRAINING_TIMEOUT_MINUTES))
    return ModelVersion.objects.filter(alias=alias, status=ModelVersion.Status.TRAINING, created_at__lt=limit).update(
        status=ModelVersion.Status.FAILED,
        error="Training did not finish (process killed or timed out).",
        finished_at=timezone.now(),
    )


def activate(version: ModelVersion, *, force: bool = False) -> bool:
    """Make ``version`` the one serving its alias if it matches or beats the active one.

    Both rows are locked, so two runs finishing together cannot both win; processes pick
    the switch up after the commit.
    """
    force = force or bool(ps.RECOMMENDER_FORCE_ACTIVATE)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().filter(
            Q(alias=version.alias, is_active=True) | Q(pk=version.pk)
        )
        rows = {mv.pk: mv for mv in locked}
        current = next((mv for mv in rows.values() if mv.is_active and mv.pk != version.pk), None)
        candidate = rows[version.pk]
        better = current is None or (candidate.ndcg or 0.0) >= (current.ndcg or 0.0)
        if not (better or force):
            candidate.status = ModelVersion.Status.REJECTED
            candidate.save(update_fields=["status"])
            version.status = candidate.status
            return False
        if current is not None:
            current.is_active = False
            current.status = ModelVersion.Status.READY
            current.save(update_fields=["is_active", "status"])
        candidate.is_active = True
        candidate.status = ModelVersion.Status.ACTIVE
        candidate.activated_at = timezone.now()
        candidate.save(update_fields=["is_active", "status", "activated_at"])
        version.is_active, version.status, version.activated_at = True, candidate.status, candidate.activated_at
        alias, pk = candidate.alias, candidate.pk
        transaction.on_commit(lambda: publish_active(alias, pk))
    return True


def window_message(since: datetime | None, until: datetime) -> str:
    """Why a window holds nothing, and how to widen it."""
    if since is not None and ps.TRAINING_WINDOW_DAYS and (until - since) == timedelta(days=float(ps.TRAINING_WINDOW_DAYS)):
        span = f"in the last {ps.TRAINING_WINDOW_DAYS:g} days (TRAINING_WINDOW_DAYS)"
    elif since is not None:
        span = f"between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M}"
    else:
        span = f"up to {until:%Y-%m-%d %H:%M}"
    older = Event.objects.filter(kind__in=[str(k) for k in TRAINING_KINDS])
    total = older.count()
    hint = f" ({total} older or newer event(s) exist)" if total else ""
    return f"No events to learn from: 0 events {span}{hint}; use --since or TRAINING_WINDOW_DAYS (None reads every event)."


def train(
    *,
    alias: str = "default",
    since: datetime | None = None,
    until: datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
    data: TrainingData | None = None,
    options: dict[str, Any] | None = None,
    test_fraction: float | None = None,
    eval_users: int | None = None,
    refit: bool | None = None,
) -> ModelVersion:
    """Tune, train and store one version of ``alias``; activate it if good enough.

    The backend chooses its own untuned options on a validation split of the data (see
    :mod:`~personalize.recommenders.tuning`); the choice and every trial are recorded on
    the version (``params``, ``metrics["tuning"]``) and in the artefact, so serving uses them.
    ``metrics["model"]`` is the chosen point's VALIDATION score. ``options`` are fixed options
    (never tuned). Never raises for a training error: the version is marked failed with the
    error and the active version keeps serving. ``refit=False`` stores the model the tuner
    fitted on the older part of each shopper's history instead of fitting again on
    everything; ``None`` refits unless the data holds more events than ``REFIT_MAX_EVENTS``
    (always when the tuner worked on a sample). A version that learnt nothing (no events of
    its kinds, or a validation score of 0) is never activated; one below the popular
    baseline is not activated unless ``force``.
    """
    fail_stale_runs(alias)
    fixed = dict(options or {})
    if test_fraction is not None:
        fixed["VALIDATION_FRACTION"] = test_fraction
    if eval_users is not None:
        fixed["TUNING_MAX_USERS"] = eval_users
    backend = new_backend(alias, **fixed)
    if not backend.trainable:
        raise ValueError(f"Recommender {alias!r} ({backend_path(backend)}) is not trainable.")
    since, until = window(since, until)
    version = ModelVersion.objects.create(
        alias=alias, backend=backend_path(backend), params=_params(backend), data_since=since, data_until=until
    )
    started = time.monotonic()
    try:
        if data is None:
            data = load_training_data(since, until, progress=progress)
        version.n_events, version.n_shoppers, version.n_products = data.n_events, data.n_users, data.n_items
        if not data.n_events:
            raise ValueError(window_message(since, until))
        reason = backend.nothing_to_learn(data)
        if reason:
            version.status = ModelVersion.Status.REJECTED
            version.error = f"Not activated: {reason}."
        else:
            _train_version(version, backend, data, refit, progress)
    except Exception as exc:
        logger.exception("personalize: training %r failed", alias)
        version.status = ModelVersion.Status.FAILED
        version.error = f"{exc}\n\n{traceback.format_exc()}"[:20000]
    version.training_seconds = round(time.monotonic() - started, 3)
    version.finished_at = timezone.now()
    version.save()
    if version.status == ModelVersion.Status.READY:
        refusal = _refusal(backend, version, force=force or bool(ps.RECOMMENDER_FORCE_ACTIVATE))
        if refusal:
            version.status, version.error = ModelVersion.Status.REJECTED, f"Not activated: {refusal}."
            version.save(update_fields=["status", "error"])
        else:
            activate(version, force=force)
    return version


def _params(backend: BaseRecommender) -> dict[str, Any]:
    return backend.hyper_parameters() if hasattr(backend, "hyper_parameters") else dict(backend.options)


def _train_version(
    version: ModelVersion, backend: BaseRecommender, data: TrainingData, refit: bool | None, progress: Progress | None
) -> None:
    """Tune on the validation split, fit the chosen options, store and check the artefact."""
    result = tune(backend, data, progress=progress)
    if refit is None:
        refit = result.split["sampled"] or should_refit(backend, data)
    final = new_backend(version.alias, **backend.options, **result.chosen)
    if refit or result.artefact is None:
        artefact = _fit(final, data, progress)
    else:
        artefact = result.artefact
    artefact.meta["tuned"] = result.chosen
    empty = final.learnt_nothing(artefact)
    version.params = _params(final)
    version.metrics = {
        "model": result.validation,
        "baseline": result.baseline,
        "evaluated_on": "validation",
        "split": result.split,
        "tuning": result.record(),
        "refit": refit,
        **({"learnt_nothing": empty} if empty else {}),
    }
    version.artefact.name = save_artefact(version, artefact)
    version.status = ModelVersion.Status.READY


def save_artefact(version: ModelVersion, artefact: Artefact) -> str:
    """Store the artefact and read it back: a file other processes cannot load fails here."""
    payload = ContentFile(artefact.to_bytes())
    try:
        name = artefact_storage().save(f"personalize/models/{version.alias}-{version.pk}.npz", payload)
    except OSError as exc:
        raise ValueError(f"the trained model cannot be saved: {exc}") from exc
    probe = ModelVersion(pk=version.pk, alias=version.alias)
    probe.artefact.name = name
    try:
        read_artefact(probe)
    except ValueError as exc:
        raise ValueError(f"the trained model was saved as {name!r} but cannot be read back: {exc}") from exc
    return name


def _refusal(backend: BaseRecommender, version: ModelVersion, *, force: bool) -> str:
    """Why a trained version must not serve ("" when it may)."""
    model, baseline = version.metrics.get("model", {}), version.metrics.get("baseline", {})
    score, users = float(model.get(METRIC, 0.0)), int(model.get("users", 0))
    if version.metrics.get("learnt_nothing"):
        return str(version.metrics["learnt_nothing"])
    if not getattr(backend, "compare_with_baseline", False):
        # Item-to-item lists ("bought together") serve product pages; a split of each
        # shopper's events often cannot show their pairs, so only "learnt nothing" counts.
        return ""
    if users and score <= 0.0:
        return f"it scored {METRIC} 0 on the validation split ({users} shoppers)"
    base = float(baseline.get(METRIC, 0.0))
    if users and score < base and not force:
        return f"it scored {METRIC} {score:.4f} on the validation split, below the popular baseline ({base:.4f})"
    return ""


def should_refit(backend: BaseRecommender, data: TrainingData) -> bool:
    """Refit on all events unless there are more than the backend's ``REFIT_MAX_EVENTS``."""
    limit = backend.option("REFIT_MAX_EVENTS")
    return limit is None or data.n_events <= int(limit)


def _fit(backend: BaseRecommender, data: TrainingData, progress: Progress | None) -> Artefact:
    """``backend.fit``, passing ``progress`` to backends that report it (LightFM's epochs)."""
    if progress is not None and "progress" in inspect.signature(backend.fit).parameters:
        return backend.fit(data, progress=progress)  # type: ignore[call-arg]
    return backend.fit(data)


def refresh_lists(data: TrainingData | None = None) -> list[str]:
    """Recompute the cached lists of every non-trainable recommender (popular...)."""
    refreshed = []
    for alias in recommender_aliases():
        backend = get_recommender(alias)
        if not backend.trainable:
            backend.refresh(data)
            refreshed.append(alias)
    return refreshed


def train_all(*, force: bool = False, progress: Progress | None = None) -> list[ModelVersion]:
    """The nightly job: every trainable recommender on one load of the data, then the lists."""
    since, until = window(None, None)
    data = load_training_data(since, until, progress=progress)
    versions = [
        train(alias=alias, since=since, until=until, force=force, progress=progress, data=data)
        for alias in recommender_aliases()
        if get_recommender(alias).trainable
    ]
    refresh_lists(data)
    return versions
