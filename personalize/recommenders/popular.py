"""Trending products: interactions weighted by kind and decayed with time, per category.

Lists are precomputed for the whole store and for every category and kept in Django's cache
(``refresh`` after each training run; recomputed on a cache miss with two queries), so
serving reads one cache entry. They are the same for every shopper: the cold-start list and
the store-wide holdout's neutral list.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from personalize.caching import cache
from personalize.caching.breaker import breaker
from personalize.models import Event, EventKind, purchase_lines
from personalize.profiles import KIND_WEIGHTS
from personalize.recommenders.base import Artefact, BaseRecommender, Recommendation, TrainingData
from personalize.recommenders.catalogue import iter_products
from personalize.recommenders.contributions import WindowOf, first_per_window, window_middle, window_of, window_seconds
from personalize.recommenders.ranking import decay, top_k

if TYPE_CHECKING:
    from personalize.profiles import ShopperProfile

logger = logging.getLogger("personalize")

ALL = "*"
# How long lists computed while the cache is down are reused in the process.
OUTAGE_HOLD_SECONDS = 300


class PopularRecommender(BaseRecommender):
    """OPTIONS: ``HALF_LIFE_DAYS`` (7), ``WINDOW_DAYS`` (events read when refreshing from the
    database; default 8 half-lives), ``KIND_WEIGHTS`` ({kind: weight}, default the profile's
    weights), ``SIZE`` (items kept per list, 200), ``TIMEOUT`` (cache seconds, 6 hours)."""

    def __init__(self, alias: str = "popular", options: dict[str, Any] | None = None) -> None:
        super().__init__(alias, options)
        self._memory: dict[str, Any] | None = None  # lists fitted in memory (offline evaluation)

    # --- options --------------------------------------------------------------------------
    @property
    def half_life(self) -> float:
        return float(self.option("HALF_LIFE_DAYS", 7))

    def kind_weights(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in (self.option("KIND_WEIGHTS") or KIND_WEIGHTS).items()}

    def _key(self, part: str) -> str:
        return f"personalize:recommenders:{self.alias}:popular:{part}"

    # --- computing the lists --------------------------------------------------------------
    def _lists(
        self,
        keys: np.ndarray,
        scores: np.ndarray,
        categories: dict[str, str],
        labels: dict[str, str],
        ancestors: dict[str, tuple[str, ...]] | None = None,
    ) -> dict[str, Any]:
        """``{"*": [(key, score)...], "<category>": [...], "labels": {...}, "items": {key: cat}}``."""
        size = int(self.option("SIZE", 200))
        item_cats = np.array([categories.get(str(k), "") for k in keys], dtype=object)
        tables: dict[str, Any] = {ALL: [(str(keys[i]), float(scores[i])) for i in top_k(scores, size) if scores[i] > 0]}
        for cat in {c for c in item_cats if c}:
            members = np.flatnonzero(item_cats == cat)
            best = members[top_k(scores[members], size)]
            tables[cat] = [(str(keys[i]), float(scores[i])) for i in best if scores[i] > 0]
        # A parent category's list covers its subcategories' products (trending in "Clothing"
        # includes "Clothing > Hoodies"), when the adapter knows the tree.
        parents: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            for cat in (ancestors or {}).get(str(key), ()):
                if cat and cat != item_cats[index]:
                    parents.setdefault(cat, []).append(index)
        for cat, extra in parents.items():
            members = np.array(sorted(set(extra) | set(np.flatnonzero(item_cats == cat).tolist())), dtype=int)
            best = members[top_k(scores[members], size)]
            tables[cat] = [(str(keys[i]), float(scores[i])) for i in best if scores[i] > 0]
        tables["labels"] = {cat: labels.get(cat, "") for cat in tables if cat not in (ALL, "labels")}
        tables["items"] = {str(keys[i]): item_cats[i] for i in range(len(keys)) if scores[i] > 0 and item_cats[i]}
        return tables

    def _from_data(self, data: TrainingData, now: float | None = None) -> dict[str, Any]:
        weights = self.kind_weights()
        table = np.array([weights.get(name, 0.0) for name in data.kind_names], dtype=np.float64)
        if now is None:
            now = float(data.times.max()) if len(data.times) else timezone.now().timestamp()
        # One entry per (shopper, product, kind) and contribution window, decayed from the
        # window's middle: the same counting as the lists computed from the database.
        width = window_seconds()
        keep = first_per_window(data.users, data.items, data.kinds, times=data.times, width=width)
        items, kinds = data.items[keep], data.kinds[keep]
        when = window_middle(window_of(data.times[keep], width), width, now=now)
        event_weight = table[kinds] * decay(now - when, self.half_life) if len(kinds) else np.zeros(0)
        scores = np.bincount(items, weights=event_weight, minlength=data.n_items)
        return self._lists(data.product_keys, scores, data.item_categories, data.category_labels)

    def _from_database(self) -> dict[str, Any]:
        """Two aggregate queries (shoppers per product, kind and contribution window; purchase
        lines) + products."""
        weights = self.kind_weights()
        now = timezone.now()
        window = self.option("WINDOW_DAYS") or 8 * max(self.half_life, 1)
        since = now - timedelta(days=float(window))
        width = window_seconds()
        totals: dict[str, float] = {}

        def add(key: str, kind: str, slot: int, count: float) -> None:
            age = now.timestamp() - float(window_middle(slot, width, now=now.timestamp()))
            totals[key] = totals.get(key, 0.0) + weights.get(kind, 0.0) * count * float(decay(np.array([age]), self.half_life)[0])

        rows = (
            Event.objects.filter(created_at__gte=since, kind__in=[k for k, w in weights.items() if w])
            .exclude(product_key="")
            .annotate(slot=WindowOf("created_at", width))
            .values_list("product_key", "kind", "slot")
            # Shoppers, not events: 2,000 clicks from one cookie count as one click per
            # CONTRIBUTION_WINDOW_HOURS (a script can rig a list only with as many real
            # profiles as it has).
            .annotate(n=Count("shopper_id", distinct=True))
            .order_by()
        )
        for key, kind, slot, n in rows:
            add(key, kind, int(slot), n)
        if weights.get(EventKind.PURCHASE):
            # Each buyer once per product and window, whatever the quantity or the number of orders.
            bought: set[tuple[int, str, int]] = set()
            purchases = Event.objects.filter(kind=EventKind.PURCHASE, product_key="", created_at__gte=since)
            rows = purchases.values_list("shopper_id", "context", "created_at")
            for shopper_id, context, when in rows.iterator(chunk_size=2000):
                slot = int(window_of(np.array([when.timestamp()]), width)[0])
                for line in purchase_lines(context):
                    bought.add((shopper_id, line["product"], slot))
            for _shopper_id, key, slot in bought:
                add(key, EventKind.PURCHASE, slot, 1.0)
        facts = {f.key: f for f in iter_products(list(totals))}
        keys = np.array(list(facts), dtype=str)
        scores = np.array([totals[k] for k in facts], dtype=np.float64)
        return self._lists(
            keys,
            scores,
            {k: f.category for k, f in facts.items()},
            {f.category: f.category_label for f in facts.values()},
            {k: f.categories for k, f in facts.items()},
        )

    def _store(self, tables: dict[str, Any]) -> None:
        timeout = int(self.option("TIMEOUT", 6 * 3600))
        values = {self._key(part): value for part, value in tables.items()}
        values[self._key("built")] = list(k for k in tables if k not in ("labels", "items"))
        cache().set_many(values, timeout)

    def fit(self, data: TrainingData) -> Artefact:
        """Compute the lists from ``data`` and serve them from memory (offline evaluation)."""
        self._memory = self._from_data(data)
        return Artefact(meta={"lists": {k: v for k, v in self._memory.items()}})

    def refresh(self, data: TrainingData | None = None) -> None:
        """Recompute the cached lists (from ``data`` up to now, or from the database)."""
        tables = self._from_data(data, now=timezone.now().timestamp()) if data is not None else self._from_database()
        self._store(tables)

    def reset(self) -> None:
        self._memory = None
        self._outage = None

    def _outage_lists(self) -> dict[str, Any] | None:
        held = getattr(self, "_outage", None)
        if held is None or held[0] < time.monotonic() or not breaker().is_open:
            return None
        return held[1]

    # --- serving --------------------------------------------------------------------------
    def _get(self, *parts: str) -> dict[str, Any]:
        if self._memory is not None:
            return {part: self._memory.get(part) for part in parts}
        held = self._outage_lists()
        if held is not None:
            return {part: held.get(part) for part in parts}
        keys = [self._key("built")] + [self._key(p) for p in parts]
        found = cache().get_many(keys)
        if self._key("built") not in found:
            try:
                tables = self._from_database()
            except Exception:
                logger.exception("personalize: cannot compute the popular lists of %r", self.alias)
                return {}
            self._store(tables)
            if breaker().is_open:
                # The cache is down: keep the lists in this process rather than recompute them
                # (two aggregate queries) on every request until it is back.
                self._outage = (time.monotonic() + OUTAGE_HOLD_SECONDS, tables)
            return {part: tables.get(part) for part in parts}
        return {part: found.get(self._key(part)) for part in parts}

    def _ranked(self, entries: list, limit: int, exclude: Collection[str], reason: str) -> list[Recommendation]:
        excluded = set(exclude)
        result = []
        for key, score in entries or []:
            if key in excluded:
                continue
            result.append(Recommendation(key, score, reason))
            if len(result) >= limit:
                break
        return result

    def recommend(
        self,
        profile: ShopperProfile | None,
        *,
        limit: int,
        exclude: Collection[str] = (),
        category: str | None = None,
    ) -> list[Recommendation]:
        part = str(category) if category else ALL
        found = self._get(part, "labels")
        label = (found.get("labels") or {}).get(part, "") if category else ""
        reason = _("Popular in %(category)s") % {"category": label} if label else _("Trending now")
        return self._ranked(found.get(part) or [], limit, exclude, reason)

    def similar(self, product_key: str, *, limit: int, exclude: Collection[str] = ()) -> list[Recommendation]:
        """Popular products of the same category (a neutral "similar" list)."""
        found = self._get("items", "labels")
        cat = (found.get("items") or {}).get(str(product_key))
        if not cat:
            return []
        entries = self._get(cat).get(cat) or []
        label = (found.get("labels") or {}).get(cat, "")
        reason = _("Popular in %(category)s") % {"category": label} if label else _("Trending now")
        return self._ranked(entries, limit, {*exclude, str(product_key)}, reason)
