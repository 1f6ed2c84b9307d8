"""The hybrid model: LightFM (WARP) over product features and shopper features.

A shopper is represented by features, never by an id: the products they touched (each a
"touched:<product>" feature, weighted by kind and recency) plus context (country, device,
known/anonymous, segments). Training learns an embedding per feature; serving builds the same
feature row from a live :class:`~personalize.profiles.ShopperProfile`, so a new or anonymous
shopper is scored right away and two views in one category move the next page's list,
without a retrain. Products are represented by an identity feature plus the adapter's
features (category, brand, price band, tags), so new products get sensible embeddings.

Serving falls back to ``FALLBACKS`` (co-occurrence, then popular) when no version is active,
the artefact cannot be loaded, or the profile names no product the model knows.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from django.utils.translation import gettext as _

from personalize.recommenders import get_recommender, recommender_aliases
from personalize.recommenders.base import Artefact, BaseRecommender, Recommendation, TrainingData, TuningSpace
from personalize.recommenders.cooccurrence import CoOccurrenceRecommender, ease_neighbours, profile_item_weights
from personalize.recommenders.loading import VersionedBackend
from personalize.recommenders.popular import PopularRecommender
from personalize.recommenders.ranking import indices_of, top_k

if TYPE_CHECKING:
    from personalize.profiles import ShopperProfile

logger = logging.getLogger("personalize")

DEFAULT_OPTIONS: dict[str, Any] = {
    "NO_COMPONENTS": 48,
    "EPOCHS": 12,
    "LEARNING_RATE": 0.05,
    "LOSS": "warp",
    "ITEM_ALPHA": 1e-6,
    "USER_ALPHA": 1e-6,
    "MAX_SAMPLED": 20,
    "NUM_THREADS": 2,
    "RANDOM_STATE": 42,
    # product metadata features (category, brand, price band, tags), relative to the identity
    "ITEM_FEATURES": True,
    "FEATURE_WEIGHT": 0.5,
    # weight of each context feature (country, device...) beside the touched products (sum 1)
    "CONTEXT_WEIGHT": 0.1,
    "MAX_PROFILE_ITEMS": 50,
    "RECENCY": 0.95,
    "EXCLUDE_SEEN": True,
    "FALLBACKS": ["also_viewed", "popular"],
    # Blend with an item-item model (stored in the same artefact): final score =
    # (1 - w) * LightFM + w * item-item, each scaled to [0, 1] over the catalogue. 0 serves
    # LightFM alone, 1 the item-item part alone. Training chooses these on its validation
    # split unless set here (see TUNING_FITS and tuning_space).
    "KNN_WEIGHT": 0.5,
    # "jaccard" / "cosine" co-occurrence of products touched by one shopper ("shopper") or
    # in one visit ("session"), or "ease" (a linear item-item model, Steck 2019; catalogues
    # up to EASE_MAX_ITEMS products) with ridge strength EASE_LAMBDA.
    "KNN_METRIC": "jaccard",
    "KNN_SCOPE": "shopper",
    "EASE_LAMBDA": 300.0,
    "EASE_MAX_ITEMS": 3000,
    "KNN_TOP_N": 100,
    # most recent distinct products per shopper counted for the kNN pairs
    "KNN_MAX_ITEMS": 200,
    # the shopper's products behind the kNN part: the newest ones, each step weighing less
    "KNN_RECENCY": 0.85,
    "KNN_MAX_PROFILE_ITEMS": 20,
    # Above this many events a training run serves the model it fitted for the evaluation
    # instead of fitting a second time on everything (half the time; None: always refit).
    "REFIT_MAX_EVENTS": 500_000,
    # Placement diversity caps ("category") this version's validation split found harmful:
    # placements that do not set the facet themselves serve this model without it.
    "DIVERSITY_OFF": [],
    # Tuning (personalize.recommenders.tuning): fit points are skipped when their work on the
    # whole data (events x EPOCHS x NO_COMPONENTS) exceeds this budget (the first always runs).
    "FIT_WORK_BUDGET": 4e8,
}

#: Fit points the tuner tries, cheapest first; then the regularisation of the best one.
TUNING_FITS: list[dict[str, Any]] = [
    {"NO_COMPONENTS": 48, "EPOCHS": 12},
    {"NO_COMPONENTS": 96, "EPOCHS": 30},
    {"NO_COMPONENTS": 128, "EPOCHS": 40},
]
TUNING_REFINE: list[dict[str, Any]] = [{"ITEM_ALPHA": 1e-5, "USER_ALPHA": 1e-5}]
#: Serving-time axes, each scored on a fitted model (first value: the default).
TUNING_SERVING: list[tuple[str, list[Any]]] = [
    ("KNN_WEIGHT", [0.0, 0.3, 0.5, 0.7, 1.0]),
    ("KNN_RECENCY", [0.85, 0.7, 1.0]),
    ("KNN_MAX_PROFILE_ITEMS", [20, 10, 50]),
    ("RECENCY", [0.95, 0.85, 1.0]),
]


def context_tokens(features: dict[str, str]) -> list[str]:
    """Shopper features as tokens; ``segments`` may hold several comma-separated slugs."""
    tokens = []
    for name, value in sorted((features or {}).items()):
        if not value:
            continue
        if name == "segments":
            tokens.extend(f"segment={slug.strip()}" for slug in str(value).split(",") if slug.strip())
        else:
            tokens.append(f"{name}={value}")
    return tokens


class LightFMRecommender(VersionedBackend):
    """OPTIONS: see ``DEFAULT_OPTIONS`` (LightFM's hyper-parameters plus feature weights)."""

    #: A list for a shopper must beat "most popular" on validation to serve (else popular does).
    compare_with_baseline = True

    def __init__(self, alias: str = "default", options: dict[str, Any] | None = None) -> None:
        super().__init__(alias, options)
        self._fitted_fallbacks: list[BaseRecommender] | None = None
        self.clear_state()

    def option(self, name: str, default: Any = None) -> Any:
        return super().option(name, DEFAULT_OPTIONS.get(name, default))

    def hyper_parameters(self) -> dict[str, Any]:
        return {name: self.option(name) for name in DEFAULT_OPTIONS}

    def tuning_space(self, data: TrainingData) -> TuningSpace:
        """Fits within the work budget; the item-item variants; the serving axes."""
        budget = float(self.option("FIT_WORK_BUDGET"))
        fits = [p for n, p in enumerate(TUNING_FITS) if n == 0 or data.n_events * p["EPOCHS"] * p["NO_COMPONENTS"] <= budget]
        variants = [{"KNN_METRIC": "jaccard", "KNN_SCOPE": scope} for scope in ("shopper", "session")]
        if data.n_items <= int(self.option("EASE_MAX_ITEMS")):
            variants += [{"KNN_METRIC": "ease", "EASE_LAMBDA": lam, "KNN_TOP_N": 300} for lam in (100.0, 300.0, 1000.0)]
        return TuningSpace(
            fits=fits, refine=list(TUNING_REFINE), variants=variants, probe={"KNN_WEIGHT": 1.0}, serving=list(TUNING_SERVING)
        )

    def nothing_to_learn(self, data: TrainingData) -> str:
        return "" if data.n_events else "no events"

    def clear_state(self) -> None:
        self._keys: np.ndarray | None = None
        self._index: dict[str, int] = {}
        self._ctx_index: dict[str, int] = {}
        self._knn: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._arrays: dict[str, np.ndarray] = {}
        self.tuned = {}

    # --- features -------------------------------------------------------------------------
    def _item_feature_matrix(self, data: TrainingData) -> sp.csr_matrix:
        n = data.n_items
        rows, cols, vals = list(range(n)), list(range(n)), [1.0] * n
        if self.option("ITEM_FEATURES"):
            vocab: dict[str, int] = {}
            weight = float(self.option("FEATURE_WEIGHT"))
            for i, key in enumerate(data.product_keys):
                for name, value in (data.item_features.get(str(key)) or {}).items():
                    token = f"{name}={value}"
                    col = vocab.setdefault(token, n + len(vocab))
                    rows.append(i)
                    cols.append(col)
                    vals.append(weight)
            width = n + len(vocab)
        else:
            width = n
        matrix = sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(n, width))
        return _normalise_rows(matrix)

    def _user_item_weights(self, data: TrainingData) -> sp.csr_matrix:
        """Per shopper, the touched products weighted by kind and recency (rows sum to 1)."""
        weights = data.kind_weights().astype(np.float64)
        n_items = data.n_items
        pair = data.users.astype(np.int64) * n_items + data.items
        codes, inverse = np.unique(pair, return_inverse=True)
        summed = np.bincount(inverse, weights=weights)
        last = np.full(len(codes), -np.inf)
        np.maximum.at(last, inverse, data.times)
        users, items = codes // n_items, codes % n_items
        order = np.lexsort((-last, users))
        users, items, summed = users[order], items[order], summed[order]
        starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1] if len(users) else np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[starts, len(users)])
        rank = np.arange(len(users)) - np.repeat(starts, sizes)
        keep = rank < int(self.option("MAX_PROFILE_ITEMS"))
        values = summed[keep] * np.power(float(self.option("RECENCY")), rank[keep])
        matrix = sp.csr_matrix((values, (users[keep], items[keep])), shape=(data.n_users, n_items))
        return _normalise_rows(matrix)

    def _user_feature_matrix(self, data: TrainingData, ctx_vocab: dict[str, int]) -> sp.csr_matrix:
        touched = self._user_item_weights(data)
        ctx_weight = float(self.option("CONTEXT_WEIGHT"))
        rows, cols = [], []
        for user, feats in data.user_features.items():
            for token in context_tokens(feats):
                rows.append(user)
                cols.append(ctx_vocab.setdefault(token, len(ctx_vocab)))
        context = sp.csr_matrix(
            (np.full(len(rows), ctx_weight, dtype=np.float64), (rows, cols)), shape=(data.n_users, max(len(ctx_vocab), 1))
        )
        return _normalise_rows(sp.hstack([touched, context[:, : len(ctx_vocab)]], format="csr"))

    # --- training -------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Any = None) -> Artefact:
        from lightfm import LightFM

        ctx_vocab: dict[str, int] = {}
        item_features = self._item_feature_matrix(data)
        user_features = self._user_feature_matrix(data, ctx_vocab)
        weights = data.kind_weights().astype(np.float64)
        pair = data.users.astype(np.int64) * data.n_items + data.items
        codes, inverse = np.unique(pair, return_inverse=True)
        summed = np.bincount(inverse, weights=weights)
        users, items = (codes // data.n_items).astype(np.int32), (codes % data.n_items).astype(np.int32)
        shape = (data.n_users, data.n_items)
        interactions = sp.coo_matrix((np.ones(len(codes), dtype=np.float32), (users, items)), shape=shape)
        sample_weight = sp.coo_matrix(((1.0 + np.log1p(summed)).astype(np.float32), (users, items)), shape=shape)
        model = LightFM(
            no_components=int(self.option("NO_COMPONENTS")),
            loss=str(self.option("LOSS")),
            learning_rate=float(self.option("LEARNING_RATE")),
            item_alpha=float(self.option("ITEM_ALPHA")),
            user_alpha=float(self.option("USER_ALPHA")),
            max_sampled=int(self.option("MAX_SAMPLED")),
            random_state=int(self.option("RANDOM_STATE")),
        )
        epochs = int(self.option("EPOCHS"))
        for epoch in range(epochs):
            model.fit_partial(
                interactions,
                user_features=user_features,
                item_features=item_features,
                sample_weight=sample_weight if str(self.option("LOSS")) in ("warp", "logistic") else None,
                epochs=1,
                num_threads=int(self.option("NUM_THREADS")),
            )
            if progress is not None:
                progress("epochs", epoch + 1, epochs)
        item_repr = (item_features @ model.item_embeddings).astype(np.float32)
        item_bias = (item_features @ model.item_biases).astype(np.float32)
        n_items = data.n_items
        ctx_tokens = sorted(ctx_vocab, key=ctx_vocab.get)
        self._arrays = {
                "product_keys": np.asarray(data.product_keys, dtype=str),
                "titles": np.array([data.item_titles.get(str(k), "") for k in data.product_keys], dtype=str),
                "categories": np.array([data.item_categories.get(str(k), "") for k in data.product_keys], dtype=str),
                "item_repr": item_repr,
                "item_bias": item_bias,
                "touched_emb": model.user_embeddings[:n_items].astype(np.float32),
                "context_tokens": np.array(ctx_tokens, dtype=str) if ctx_tokens else np.zeros(0, dtype="<U1"),
                "context_emb": model.user_embeddings[n_items : n_items + len(ctx_tokens)].astype(np.float32),
        }
        artefact = self.rebuild(data)
        popular = PopularRecommender(f"{self.alias}:fallback")
        popular.fit(data)
        self._fitted_fallbacks = [popular]
        self.pin()
        return artefact

    def rebuild(self, data: TrainingData) -> Artefact:
        """The fitted LightFM arrays with the item-item part the options now name."""
        arrays = {name: array for name, array in self._arrays.items() if not name.startswith("knn_")}
        artefact = Artefact(
            arrays={**arrays, **self._knn_arrays(data)}, meta={"alias": self.alias, "params": self.hyper_parameters()}
        )
        self.load(artefact)
        return artefact

    def _knn_arrays(self, data: TrainingData) -> dict[str, np.ndarray]:
        """The item-item neighbours (every training kind) for the serving blend."""
        if float(self.option("KNN_WEIGHT")) <= 0:
            return {}
        top_n = int(self.option("KNN_TOP_N"))
        if self.option("KNN_METRIC") == "ease" and data.n_items <= int(self.option("EASE_MAX_ITEMS")):
            found = ease_neighbours(data, float(self.option("EASE_LAMBDA")), top_n)
        else:
            knn = CoOccurrenceRecommender(
                f"{self.alias}:knn",
                {"METRIC": "jaccard" if self.option("KNN_METRIC") == "ease" else self.option("KNN_METRIC"),
                 "TOP_N": top_n, "MAX_BASKET": self.option("KNN_MAX_ITEMS")},
            )
            groups = data.sessions if self.option("KNN_SCOPE") == "session" else data.users
            found = knn._neighbours(groups.astype(np.int64), data.items.astype(np.int64), data.times, data.n_items)
        return {f"knn_{name}": array for name, array in found.items()}

    def load(self, artefact: Artefact, *, version: str = "") -> None:
        arrays = artefact.arrays
        needed = ("product_keys", "titles", "categories", "item_repr", "item_bias", "touched_emb", "context_tokens", "context_emb")
        for name in needed:
            if name not in arrays:
                raise ValueError(f"artefact lacks {name!r}")
        keys, item_repr = arrays["product_keys"], arrays["item_repr"].astype(np.float32)
        n = len(keys)
        if item_repr.ndim != 2 or item_repr.shape[0] != n or arrays["touched_emb"].shape != item_repr.shape:
            raise ValueError("artefact embeddings do not match its products")
        if len(arrays["item_bias"]) != n or len(arrays["context_emb"]) != len(arrays["context_tokens"]):
            raise ValueError("artefact arrays do not match")
        if not np.isfinite(item_repr).all():
            raise ValueError("artefact holds non-finite embeddings")
        self._keys = keys
        self.tuned = dict(artefact.meta.get("tuned") or {})
        self._titles = arrays["titles"]
        self._categories = arrays["categories"]
        self._item_repr = item_repr
        self._item_bias = arrays["item_bias"].astype(np.float32)
        self._touched = arrays["touched_emb"].astype(np.float32)
        self._context = arrays["context_emb"].astype(np.float32)
        norms = np.linalg.norm(item_repr, axis=1, keepdims=True)
        self._unit = item_repr / np.where(norms > 0, norms, 1.0)
        self._index = {str(k): i for i, k in enumerate(keys)}
        self._ctx_index = {str(t): i for i, t in enumerate(arrays["context_tokens"])}
        self._knn = None
        if "knn_indptr" in arrays:  # versions trained before the blend have none
            indptr, indices, knn_scores = arrays["knn_indptr"], arrays["knn_indices"], arrays["knn_scores"]
            if len(indptr) != n + 1 or len(indices) != len(knn_scores) or (len(indices) and int(indices.max()) >= n):
                raise ValueError("artefact kNN arrays do not match its products")
            self._knn = (indptr.astype(np.int64), indices.astype(np.int64), knn_scores.astype(np.float64))

    # --- serving --------------------------------------------------------------------------
    def fallbacks(self) -> list[BaseRecommender]:
        if self._fitted_fallbacks is not None:
            return self._fitted_fallbacks

        configured = set(recommender_aliases())
        return [get_recommender(alias) for alias in self.option("FALLBACKS") or [] if alias in configured and alias != self.alias]

    def user_vector(self, profile: ShopperProfile) -> tuple[np.ndarray, dict[str, float]] | None:
        """The shopper's embedding from the products and features in the profile."""
        weights = profile_item_weights(
            profile, recency=float(self.option("RECENCY")), max_items=int(self.option("MAX_PROFILE_ITEMS"))
        )
        known = {key: w for key, w in weights.items() if key in self._index}
        if not known:
            return None
        total = sum(known.values())
        ctx = [self._ctx_index[t] for t in context_tokens(profile.features) if t in self._ctx_index]
        ctx_weight = float(self.option("CONTEXT_WEIGHT"))
        norm = 1.0 + ctx_weight * len(ctx)  # same row normalisation as in training
        idx = np.fromiter((self._index[k] for k in known), dtype=np.int64)
        w = np.fromiter(known.values(), dtype=np.float64) / total
        vector = (w[:, None] * self._touched[idx]).sum(axis=0)
        if ctx:
            vector = vector + ctx_weight * self._context[ctx].sum(axis=0)
        return vector / norm, known

    def recommend(
        self,
        profile: ShopperProfile,
        *,
        limit: int,
        exclude: Collection[str] = (),
        category: str | None = None,
    ) -> list[Recommendation]:
        result: list[Recommendation] = []
        found = self.user_vector(profile) if self.ready() and self._keys is not None else None
        if found is not None:
            vector, known = found
            scores = self._item_repr @ vector.astype(np.float32) + self._item_bias
            scores = self._blend(scores.astype(np.float64), profile)
            banned = set(exclude) | (set(profile.recent_keys()) if self.option("EXCLUDE_SEEN") else set())
            scores[indices_of(banned, self._index)] = -np.inf
            if category:
                scores[self._categories != str(category)] = -np.inf
            anchor = max(known, key=known.get)
            title = str(self._titles[self._index[anchor]])
            reason = _("Because you looked at %(title)s") % {"title": title} if title else _("Picked for you")
            result = [Recommendation(str(self._keys[i]), float(scores[i]), reason) for i in top_k(scores, limit)]
        if len(result) < limit:
            result = self._fill(result, profile, limit=limit, exclude=exclude, category=category)
        return result

    def _blend(self, scores: np.ndarray, profile: ShopperProfile) -> np.ndarray:
        """``(1 - w) * LightFM + w * kNN``, both min-max scaled over the catalogue."""
        weight = float(self.option("KNN_WEIGHT"))
        if weight <= 0 or self._knn is None:
            return scores
        knn = self._knn_scores(
            profile, recency=float(self.option("KNN_RECENCY")), max_items=int(self.option("KNN_MAX_PROFILE_ITEMS"))
        )
        low, high = float(scores.min()), float(scores.max())
        scaled = (scores - low) / (high - low) if high > low else np.zeros_like(scores)
        peak = float(knn.max())
        if peak > 0:
            knn /= peak
        return (1.0 - weight) * scaled + weight * knn

    def _knn_scores(self, profile: ShopperProfile, *, recency: float, max_items: int) -> np.ndarray:
        """The item-item part's raw score of every product: the similarities of the shopper's
        newest ``max_items`` products, each step back weighing ``recency`` times less."""
        indptr, indices, sims = self._knn
        knn = np.zeros(len(self._keys), dtype=np.float64)
        for key, w in profile_item_weights(profile, recency=recency, max_items=max_items).items():
            row = self._index.get(key)
            if row is None:
                continue
            lo, hi = indptr[row], indptr[row + 1]
            np.add.at(knn, indices[lo:hi], w * sims[lo:hi])
        return knn

    def _fill(
        self, result: list[Recommendation], profile: ShopperProfile, *, limit: int, exclude: Collection[str], category: str | None
    ) -> list[Recommendation]:
        """Top up from the fallbacks (below the model's own picks, in their order)."""
        taken = {rec.key for rec in result} | set(exclude)
        floor = min((rec.score for rec in result), default=0.0)
        for backend in self.fallbacks():
            try:
                extra = backend.recommend(profile, limit=limit - len(result), exclude=taken, category=category)
            except Exception:
                logger.exception("personalize: fallback %r failed", backend)
                continue
            for rec in extra:
                floor -= 1.0
                result.append(Recommendation(rec.key, floor, rec.reason))
                taken.add(rec.key)
            if len(result) >= limit:
                break
        return result[:limit]

    def similar(self, product_key: str, *, limit: int, exclude: Collection[str] = ()) -> list[Recommendation]:
        """Nearest products by the cosine of their learnt representations."""
        if not self.ready() or self._keys is None or str(product_key) not in self._index:
            for backend in self.fallbacks():
                found = backend.similar(product_key, limit=limit, exclude=exclude)
                if found:
                    return found
            return []
        source = self._index[str(product_key)]
        scores = (self._unit @ self._unit[source]).astype(np.float64)
        scores[source] = -np.inf
        scores[indices_of(set(exclude), self._index)] = -np.inf
        title = str(self._titles[source])
        reason = _("Similar to %(title)s") % {"title": title}
        return [Recommendation(str(self._keys[i]), float(scores[i]), reason) for i in top_k(scores, limit)]


def _normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ matrix, dtype=np.float32)
