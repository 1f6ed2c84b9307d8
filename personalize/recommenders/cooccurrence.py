"""Item-item co-occurrence: "frequently bought together" and "shoppers also viewed".

Two products co-occur when one shopper touched both within one basket (a visit, so one
order's lines go together) or, with ``SCOPE="shopper"``, anywhere in their history. Counts are
normalised (cosine by default, so best-sellers do not pair with everything) and the top
``TOP_N`` neighbours of every product are kept in the artefact; ``recommend`` adds up the
neighbours of the products in the shopper's profile. A shopper counts a pair at most once per
``CONTRIBUTION_WINDOW_HOURS``, however many baskets repeat it (see contributions.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from django.utils.translation import gettext as _

from personalize.recommenders.base import Artefact, Recommendation, TrainingData, TuningSpace
from personalize.recommenders.contributions import window_of
from personalize.recommenders.loading import VersionedBackend
from personalize.recommenders.ranking import indices_of, top_k

if TYPE_CHECKING:
    from personalize.profiles import ShopperProfile


def profile_item_weights(profile: ShopperProfile, *, recency: float, max_items: int) -> dict[str, float]:
    """The profile's products weighted by kind, newer ones counting more (``recency`` per step)."""
    kind_weights = profile.weighted_items()
    order = profile.recent_keys()[:max_items]
    return {key: kind_weights.get(key, 1.0) * (recency**rank) for rank, key in enumerate(order)}


class CoOccurrenceRecommender(VersionedBackend):
    """OPTIONS: ``KINDS`` (event kinds that count, default purchases), ``SCOPE`` ("session" or
    "shopper"), ``METRIC`` ("cosine" or "jaccard"), ``MIN_COUNT`` (pairs seen fewer times are
    ignored, 1), ``MAX_BASKET`` (most recent distinct items per basket, 50), ``TOP_N``
    (neighbours kept per item, 50), ``RECENCY`` (profile weight decay per item, 0.85),
    ``MAX_PROFILE_ITEMS`` (20), ``EXCLUDE_SEEN`` (leave out what the shopper touched, True)."""

    def clear_state(self) -> None:
        self._keys: np.ndarray | None = None
        self._index: dict[str, int] = {}
        self.tuned = {}

    def __init__(self, alias: str = "bought_together", options: dict[str, Any] | None = None) -> None:
        super().__init__(alias, options)
        self.clear_state()

    @property
    def kinds(self) -> list[str]:
        return [str(k) for k in (self.option("KINDS") or ["purchase"])]

    def _kind_mask(self, data: TrainingData) -> np.ndarray:
        wanted = [i for i, name in enumerate(data.kind_names) if name in self.kinds]
        return np.isin(data.kinds, wanted)

    def learnt_nothing(self, artefact: Artefact) -> str:
        return "" if int(artefact.meta.get("pairs", 0)) else f"no two products share a {self.option('SCOPE', 'session')}"

    def evaluation_data(self, data: TrainingData) -> TrainingData:
        """Validated on its own kinds: what was bought next for "bought together"."""
        return data.subset(self._kind_mask(data))

    def nothing_to_learn(self, data: TrainingData) -> str:
        if self._kind_mask(data).any():
            return ""
        return f"no {', '.join(self.kinds)} events in the data: nothing to learn"

    def tuning_space(self, data: TrainingData) -> TuningSpace:
        """The similarity (a fit each: cheap), then the profile's recency and length."""
        return TuningSpace(
            fits=[{"METRIC": "cosine"}, {"METRIC": "jaccard"}],
            serving=[("RECENCY", [0.85, 0.7, 1.0]), ("MAX_PROFILE_ITEMS", [20, 10, 50])],
        )

    # --- training -------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> Artefact:
        wanted = [i for i, name in enumerate(data.kind_names) if name in self.kinds]
        mask = np.isin(data.kinds, wanted)
        groups = (data.users if self.option("SCOPE", "session") == "shopper" else data.sessions)[mask]
        items, times = data.items[mask].astype(np.int64), data.times[mask]
        n_items = data.n_items
        neighbours = self._neighbours(groups, items, times, n_items, shoppers=data.users[mask])
        artefact = Artefact(
            arrays={
                "product_keys": np.asarray(data.product_keys, dtype=str),
                "titles": np.array([data.item_titles.get(str(k), "") for k in data.product_keys], dtype=str),
                "categories": np.array([data.item_categories.get(str(k), "") for k in data.product_keys], dtype=str),
                **neighbours,
            },
            meta={"alias": self.alias, "kinds": self.kinds, "pairs": int(len(neighbours["indices"]))},
        )
        self.load(artefact)
        self.pin()
        return artefact

    def _neighbours(
        self,
        groups: np.ndarray,
        items: np.ndarray,
        times: np.ndarray,
        n_items: int,
        *,
        shoppers: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The top neighbours of every item from its co-occurrences in ``groups`` (baskets).

        With ``shoppers`` (the shopper of each entry) a shopper counts a pair, and an item's
        support, at most once per contribution window however many baskets repeat it (see
        :mod:`personalize.recommenders.contributions`): a script cannot pair two products by
        opening session after session.
        """
        top_n = int(self.option("TOP_N", 50))
        empty = {
            "indptr": np.zeros(n_items + 1, dtype=np.int64),
            "indices": np.zeros(0, dtype=np.int32),
            "scores": np.zeros(0, dtype=np.float32),
        }
        if not len(items):
            return empty
        order = np.lexsort((-times, groups))
        groups, items = groups[order], items[order]
        owners = shoppers[order].astype(np.int64) if shoppers is not None else None
        slots = window_of(times[order]) if shoppers is not None else None
        # one entry per (basket, item), the most recent first within each basket
        _, first = np.unique(groups.astype(np.int64) * n_items + items, return_index=True)
        keep = np.zeros(len(items), dtype=bool)
        keep[first] = True
        groups, items = groups[keep], items[keep]
        starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
        sizes = np.diff(np.r_[starts, len(groups)])
        rank = np.arange(len(groups)) - np.repeat(starts, sizes)
        small = rank < int(self.option("MAX_BASKET", 50))
        groups, items = groups[small], items[small]
        _, rows = np.unique(groups, return_inverse=True)
        baskets = sp.csr_matrix(
            (np.ones(len(items), dtype=np.float32), (rows, items)), shape=(int(rows.max()) + 1, n_items)
        )
        if owners is None:
            counts = (baskets.T @ baskets).tocsr()
        else:
            # A basket's contributor: its shopper in the window of its latest entry.
            latest = rank[small] == 0
            owners, slots = owners[keep][small][latest], slots[keep][small][latest]
            basket_owner = np.zeros(baskets.shape[0], dtype=np.int64)
            basket_slot = np.zeros(baskets.shape[0], dtype=np.int64)
            basket_owner[rows[latest]], basket_slot[rows[latest]] = owners, slots
            counts = _distinct_contributors(baskets, rows, items, basket_owner, basket_slot, n_items)
        support = counts.diagonal().astype(np.float64)
        counts.setdiag(0)
        counts.data[counts.data < float(self.option("MIN_COUNT", 1))] = 0
        counts.eliminate_zeros()
        if counts.nnz == 0:
            return empty
        row_of = np.repeat(np.arange(n_items), np.diff(counts.indptr))
        pair = counts.data.astype(np.float64)
        if self.option("METRIC", "cosine") == "jaccard":
            sims = pair / (support[row_of] + support[counts.indices] - pair)
        else:
            sims = pair / np.sqrt(support[row_of] * support[counts.indices])
        counts.data = sims
        indptr, indices, scores = [0], [], []
        for row in range(n_items):
            lo, hi = counts.indptr[row], counts.indptr[row + 1]
            cols, vals = counts.indices[lo:hi], counts.data[lo:hi]
            best = top_k(vals, top_n)
            indices.append(cols[best])
            scores.append(vals[best])
            indptr.append(indptr[-1] + len(best))
        return {
            "indptr": np.asarray(indptr, dtype=np.int64),
            "indices": np.concatenate(indices).astype(np.int32),
            "scores": np.concatenate(scores).astype(np.float32),
        }

    def load(self, artefact: Artefact, *, version: str = "") -> None:
        arrays = artefact.arrays
        for name in ("product_keys", "titles", "categories", "indptr", "indices", "scores"):
            if name not in arrays:
                raise ValueError(f"artefact lacks {name!r}")
        keys = arrays["product_keys"]
        if len(arrays["indptr"]) != len(keys) + 1 or len(arrays["indices"]) != len(arrays["scores"]):
            raise ValueError("artefact arrays do not match")
        if len(arrays["indices"]) and int(arrays["indices"].max()) >= len(keys):
            raise ValueError("artefact neighbour index out of range")
        self._keys = keys
        self.tuned = dict(artefact.meta.get("tuned") or {})
        self._titles = arrays["titles"]
        self._categories = arrays["categories"]
        self._indptr, self._indices, self._scores = arrays["indptr"], arrays["indices"], arrays["scores"]
        self._index = {str(k): i for i, k in enumerate(keys)}

    # --- serving --------------------------------------------------------------------------
    def _row(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._indptr[idx], self._indptr[idx + 1]
        return self._indices[lo:hi], self._scores[lo:hi]

    def _similar_reason(self, title: str) -> str:
        if "purchase" in self.kinds:
            return _("Often bought together with %(title)s") % {"title": title}
        return _("Shoppers who viewed %(title)s also viewed this") % {"title": title}

    def similar(self, product_key: str, *, limit: int, exclude: Collection[str] = ()) -> list[Recommendation]:
        if not self.ready() or str(product_key) not in self._index:
            return []
        source = self._index[str(product_key)]
        cols, vals = self._row(source)
        excluded = set(exclude) | {str(product_key)}
        reason = self._similar_reason(str(self._titles[source]))
        result = []
        for col, val in zip(cols, vals):
            key = str(self._keys[col])
            if key not in excluded:
                result.append(Recommendation(key, float(val), reason))
                if len(result) >= limit:
                    break
        return result

    def scores_for(self, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray] | None:
        """Summed neighbour scores over the weighted items and each candidate's main source."""
        if not self.ready() or self._keys is None:
            return None
        n = len(self._keys)
        total = np.zeros(n, dtype=np.float64)
        best_val = np.zeros(n, dtype=np.float64)
        best_src = np.full(n, -1, dtype=np.int64)
        for key, weight in weights.items():
            source = self._index.get(key)
            if source is None:
                continue
            cols, vals = self._row(source)
            contrib = weight * vals.astype(np.float64)
            np.add.at(total, cols, contrib)
            better = contrib > best_val[cols]
            best_val[cols[better]] = contrib[better]
            best_src[cols[better]] = source
        return total, best_src

    def recommend(
        self,
        profile: ShopperProfile,
        *,
        limit: int,
        exclude: Collection[str] = (),
        category: str | None = None,
    ) -> list[Recommendation]:
        weights = profile_item_weights(
            profile, recency=float(self.option("RECENCY", 0.85)), max_items=int(self.option("MAX_PROFILE_ITEMS", 20))
        )
        found = self.scores_for(weights) if weights else None
        if found is None:
            return []
        total, best_src = found
        banned = set(exclude)
        if self.option("EXCLUDE_SEEN", True):
            banned |= set(profile.recent_keys())
        total[indices_of(banned, self._index)] = -np.inf
        total[total <= 0] = -np.inf
        if category:
            total[self._categories != str(category)] = -np.inf
        result = []
        for idx in top_k(total, limit):
            source_title = str(self._titles[best_src[idx]]) if best_src[idx] >= 0 else ""
            reason = _("Because you looked at %(title)s") % {"title": source_title} if source_title else ""
            result.append(Recommendation(str(self._keys[idx]), float(total[idx]), reason))
        return result


def _distinct_contributors(
    baskets: sp.csr_matrix,
    rows: np.ndarray,
    items: np.ndarray,
    basket_owner: np.ndarray,
    basket_slot: np.ndarray,
    n_items: int,
) -> sp.csr_matrix:
    """Item x item: how many (shopper, window) contributors have each pair in some basket.

    ``baskets`` is basket x item (binary), ``rows``/``items`` its entries. Each entry's
    (contributor, item) gets a compact row id; ``A`` (basket x (contributor, item)) times
    ``baskets`` gives per contributor and item the items sharing a basket with it, counted
    once (binarised) and then summed over contributors. When every contributor has one basket
    this equals ``baskets.T @ baskets``, which is what it computes then.
    """
    contributor = basket_owner * (int(basket_slot.max()) - int(basket_slot.min()) + 1) + (basket_slot - basket_slot.min())
    if len(np.unique(contributor)) == baskets.shape[0]:
        return (baskets.T @ baskets).tocsr()
    _, contributor = np.unique(contributor, return_inverse=True)
    codes, compact = np.unique(contributor[rows].astype(np.int64) * n_items + items, return_inverse=True)
    spread = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (rows, compact)), shape=(baskets.shape[0], len(codes))
    )
    per_contributor = (spread.T @ baskets).tocsr()
    per_contributor.data[:] = 1.0  # a contributor counts a pair once, whatever the baskets
    to_item = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (np.arange(len(codes)), codes % n_items)), shape=(len(codes), n_items)
    )
    return (to_item.T @ per_contributor).tocsr()


def ease_neighbours(data: TrainingData, lam: float, top_n: int) -> dict[str, np.ndarray]:
    """EASE item-item weights (Steck 2019: ``B = I - P / diag(P)``, ``P = (X'X + lam I)^-1``
    over the binary shopper x product matrix), as the same neighbour arrays as co-occurrence:
    per product its ``top_n`` positive weights. Dense in the catalogue size: callers cap it."""
    n = data.n_items
    if not data.n_events:
        return {"indptr": np.zeros(n + 1, dtype=np.int64), "indices": np.zeros(0, dtype=np.int32),
                "scores": np.zeros(0, dtype=np.float32)}
    matrix = sp.csr_matrix((np.ones(data.n_events, dtype=np.float64), (data.users, data.items)), shape=(data.n_users, n))
    matrix.data[:] = 1.0  # several events on one product count once
    gram = (matrix.T @ matrix).toarray()
    gram[np.diag_indices_from(gram)] += lam
    precision = np.linalg.inv(gram)
    weights = precision / -np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    indptr, indices, scores = [0], [], []
    for row in range(n):
        values = weights[row]
        best = top_k(values, top_n)
        best = best[values[best] > 0]
        indices.append(best)
        scores.append(values[best])
        indptr.append(indptr[-1] + len(best))
    return {
        "indptr": np.asarray(indptr, dtype=np.int64),
        "indices": np.concatenate(indices).astype(np.int32),
        "scores": np.concatenate(scores).astype(np.float32),
    }
