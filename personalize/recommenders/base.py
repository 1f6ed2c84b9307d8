"""The contract every recommender backend fulfils, and the data they are trained on.

A backend is a class named in ``PERSONALIZE["RECOMMENDERS"]`` (like Django's ``CACHES``).
Serving (placements, widgets, the API) only ever calls :meth:`BaseRecommender.recommend` and
:meth:`BaseRecommender.similar`; training calls :meth:`BaseRecommender.fit`. A store adds its
own backend by subclassing :class:`BaseRecommender`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from personalize.profiles import KIND_WEIGHTS

if TYPE_CHECKING:  # profiles imports the core models; keep this module import-light
    from personalize.profiles import ShopperProfile


@dataclass(frozen=True)
class Recommendation:
    """One recommended product: its key, a score (higher is better) and a short reason."""

    key: str
    score: float
    reason: str = ""


@dataclass
class Artefact:
    """What training produced: named numpy arrays plus JSON-able metadata.

    Stored as one ``.npz`` file (no pickle: arrays only, metadata as JSON bytes), so a
    corrupt or tampered file can never execute code when loaded.
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    META_KEY = "__meta__"

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        payload = dict(self.arrays)
        payload[self.META_KEY] = np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8)
        np.savez_compressed(buffer, **payload)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Artefact:
        """Parse a stored artefact; raises ``ValueError`` when it is not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as exc:  # zipfile/numpy raise many types for a damaged file
            raise ValueError(f"not a recommender artefact: {exc}") from exc
        raw = arrays.pop(cls.META_KEY, None)
        if raw is None:
            raise ValueError("not a recommender artefact: metadata missing")
        try:
            meta = json.loads(raw.tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"artefact metadata is corrupt: {exc}") from exc
        return cls(arrays=arrays, meta=meta)


@dataclass
class TuningSpace:
    """What training may choose for a backend (see :mod:`personalize.recommenders.tuning`).

    ``fits``: option sets that need a fit, cheapest first; ``refine``: option sets fitted on
    top of the best fit point (kept when they score better). ``variants``: option sets of
    derived state :meth:`BaseRecommender.rebuild` recomputes cheaply, compared on the first
    fit with ``probe`` set. ``serving``: ``(option, values)`` axes scored on a fitted model;
    the first is searched on every fit, the others one at a time on the best one.
    """

    fits: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    # option sets fitted on top of the best fit point (regularisation), kept when better
    refine: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)
    serving: list[tuple[str, list[Any]]] = field(default_factory=list)


class BaseRecommender:
    """A recommender configured under one alias of ``PERSONALIZE["RECOMMENDERS"]``.

    Subclasses implement :meth:`recommend` and :meth:`similar` (best first, at most ``limit``,
    never a key in ``exclude``). ``recommend`` must not query the database on the warm path:
    keep state in memory (loaded once per process) or in Django's cache.
    """

    #: Whether :meth:`fit` learns a model that training evaluates and versions.
    trainable: bool = False

    def __init__(self, alias: str = "default", options: dict[str, Any] | None = None) -> None:
        self.alias = alias
        self.options = dict(options or {})
        # Options training chose for the serving version (artefact metadata); the store's
        # OPTIONS always win over them.
        self.tuned: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} alias={self.alias!r}>"

    def option(self, name: str, default: Any = None) -> Any:
        if name in self.options:
            return self.options[name]
        return self.tuned.get(name, default)

    @property
    def model_version(self) -> str:
        """Id of the :class:`ModelVersion` serving now ("" for backends without one)."""
        return ""

    def recommend(
        self,
        profile: ShopperProfile,
        *,
        limit: int,
        exclude: Collection[str] = (),
        category: str | None = None,
    ) -> list[Recommendation]:
        """Products for this shopper, best first. ``category`` is the adapter's category key."""
        raise NotImplementedError

    def similar(self, product_key: str, *, limit: int, exclude: Collection[str] = ()) -> list[Recommendation]:
        """Products like ``product_key`` (never itself), best first."""
        raise NotImplementedError

    def fit(self, data: TrainingData) -> Artefact:
        """Learn from ``data`` and return what must be stored; also loads it into ``self``."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained")

    def load(self, artefact: Artefact, *, version: str = "") -> None:
        """Serve from a stored artefact (called once per process per active version)."""
        raise NotImplementedError(f"{type(self).__name__} has no artefact to load")

    def tuning_space(self, data: TrainingData) -> TuningSpace | None:
        """What training may choose on a validation split (``None``: nothing, the default)."""
        return None

    def rebuild(self, data: TrainingData) -> Artefact:
        """Recompute derived state after a variant's options changed (default: fit again)."""
        return self.fit(data)

    def learnt_nothing(self, artefact: Artefact) -> str:
        """Why a fitted artefact holds nothing to serve ("" when it does)."""
        return ""

    def evaluation_data(self, data: TrainingData) -> TrainingData:
        """The events this backend is validated on (all of them by default)."""
        return data

    def nothing_to_learn(self, data: TrainingData) -> str:
        """Why ``data`` holds nothing this backend learns from ("" when it does)."""
        return "" if data.n_events else "no events"

    def refresh(self, data: TrainingData | None = None) -> None:
        """Recompute precomputed lists (e.g. into the cache); a no-op by default."""

    def reset(self) -> None:
        """Forget in-process state so the next call reloads it (setting or version change)."""


@dataclass
class TrainingData:
    """Interactions as parallel numpy arrays (one entry per product event), with id maps.

    ``users`` and ``items`` index ``shopper_ids`` and ``product_keys``; ``kinds`` index
    ``kind_names``; ``times`` are POSIX seconds; ``sessions`` group a shopper's events into
    visits/orders (used for co-occurrence). Built in bounded memory by
    :func:`personalize.recommenders.training.load_training_data`.
    """

    users: np.ndarray  # int32
    items: np.ndarray  # int32
    kinds: np.ndarray  # int8
    times: np.ndarray  # float64
    sessions: np.ndarray  # int64, unique across shoppers
    shopper_ids: np.ndarray  # int64 primary keys of Shopper
    product_keys: np.ndarray  # str keys (numpy unicode array)
    kind_names: tuple[str, ...]
    # product key -> {feature name: value} from the adapter
    item_features: dict[str, dict[str, str]] = field(default_factory=dict)
    # product key -> category key / display label (for per-category lists and reasons)
    item_categories: dict[str, str] = field(default_factory=dict)
    category_labels: dict[str, str] = field(default_factory=dict)
    item_titles: dict[str, str] = field(default_factory=dict)
    # shopper index -> {feature name: value} (country, device, known, segments...)
    user_features: dict[int, dict[str, str]] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None

    @property
    def n_users(self) -> int:
        return len(self.shopper_ids)

    @property
    def n_items(self) -> int:
        return len(self.product_keys)

    @property
    def n_events(self) -> int:
        return len(self.users)

    def kind_weights(self) -> np.ndarray:
        """Interaction weight per event from the profile's kind weights."""
        table = np.array([KIND_WEIGHTS.get(name, 0.5) for name in self.kind_names], dtype=np.float32)
        return table[self.kinds] if len(self.kinds) else np.zeros(0, dtype=np.float32)

    def subset(self, mask: np.ndarray) -> TrainingData:
        """The same catalogue and shoppers with only the events where ``mask`` is true."""
        return TrainingData(
            users=self.users[mask],
            items=self.items[mask],
            kinds=self.kinds[mask],
            times=self.times[mask],
            sessions=self.sessions[mask],
            shopper_ids=self.shopper_ids,
            product_keys=self.product_keys,
            kind_names=self.kind_names,
            item_features=self.item_features,
            item_categories=self.item_categories,
            category_labels=self.category_labels,
            item_titles=self.item_titles,
            user_features=self.user_features,
            since=self.since,
            until=self.until,
        )
