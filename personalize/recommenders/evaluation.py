"""Offline evaluation on a temporal split, through the same ``recommend`` call serving makes.

Per shopper, the last ``test_fraction`` of their events (by time) is held out; the model sees
the rest. For every shopper with a held-out product they had not touched before, a profile is
built from their training events and the top ``k`` recommendations are compared with those
products: precision@k, recall@k, NDCG@k (binary gains) and catalogue coverage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from personalize.models import EventKind
from personalize.profiles import ShopperProfile
from personalize.recommenders.base import BaseRecommender, TrainingData


def temporal_split(data: TrainingData, test_fraction: float = 0.2, min_events: int = 2) -> tuple[TrainingData, TrainingData]:
    """(train, test): each shopper's most recent ``test_fraction`` of events goes to test."""
    if not len(data.users):
        return data, data.subset(np.zeros(0, dtype=bool))
    order = np.lexsort((data.times, data.users))
    users = data.users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    n_test = np.floor(sizes * test_fraction).astype(np.int64)
    n_test[sizes < min_events] = 0
    n_test[(sizes >= min_events) & (n_test == 0)] = 1
    is_test_sorted = rank >= np.repeat(sizes - n_test, sizes)
    is_test = np.zeros(len(users), dtype=bool)
    is_test[order] = is_test_sorted
    return data.subset(~is_test), data.subset(is_test)


@dataclass
class HeldOut:
    """One validation set: its held-out events and the events its shoppers' profiles read
    (every other event of theirs, the other set's too)."""

    name: str
    test: TrainingData
    profiles: TrainingData


def holdout_split(
    data: TrainingData, fraction: float = 0.1, *, seed: int = 0, min_events: int = 3
) -> tuple[TrainingData, list[HeldOut]]:
    """The fit part and two held-out sets of the same shoppers: ``latest`` and ``older``.

    Per shopper with at least ``min_events`` events, ``latest`` holds their newest
    ``fraction`` (at least one event) and ``older`` a seeded random draw of as many of the
    others; the fit part keeps the rest. One model fitted on it is scored for "what comes
    next" (a temporal protocol) and for "what else they like" (a random one)."""
    latest, older = np.zeros(data.n_events, dtype=bool), np.zeros(data.n_events, dtype=bool)
    if data.n_events:
        noise = np.random.default_rng(seed).random(data.n_events)
        users = data.users.astype(np.int64)
        sizes = np.bincount(users, minlength=data.n_users)
        n_held = np.maximum(np.floor(sizes * fraction).astype(np.int64), 1)
        n_held[sizes < min_events] = 0
        newest_first = np.lexsort((noise, -data.times, users))
        latest[newest_first] = _ranks(users, newest_first) < n_held[users[newest_first]]
        # the others in a random order, so the first n_held of each shopper are a random draw
        by_noise = np.lexsort((np.where(latest, 2.0, noise), users))
        older[by_noise] = _ranks(users, by_noise) < n_held[users[by_noise]]
        older &= ~latest
    sets = [HeldOut(name, data.subset(mask), data.subset(~mask)) for name, mask in (("latest", latest), ("older", older))]
    return data.subset(~latest & ~older), sets


def _ranks(users: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each position's rank within its shopper's run in ``order`` (sorted by shopper)."""
    grouped = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
    return np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))


def profiles_from(data: TrainingData, users: np.ndarray, max_events: int = 200) -> dict[int, Any]:
    """A :class:`ShopperProfile` per shopper index, built from ``data``'s events."""
    # Only the wanted shoppers' newest ``max_events`` events are visited (numpy does the
    # selection: at a million events a Python loop over all of them dominates evaluation).
    candidates = np.flatnonzero(np.isin(data.users, np.asarray(users, dtype=data.users.dtype)))
    order = candidates[np.lexsort((-data.times[candidates], data.users[candidates]))]
    if len(order):
        sorted_users = data.users[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        order = order[rank < max_events]
    profiles: dict[int, Any] = {}
    for pos in order.tolist():
        user = int(data.users[pos])
        profile = profiles.get(user)
        if profile is None:
            profile = profiles[user] = ShopperProfile(shopper=None, features=dict(data.user_features.get(user, {})))
        key = str(data.product_keys[data.items[pos]])
        kind = data.kind_names[data.kinds[pos]]
        profile.interactions.append((key, kind, datetime.fromtimestamp(float(data.times[pos]), tz=UTC)))
        if kind == EventKind.PURCHASE:
            profile.purchased_keys.add(key)
    return profiles


class Validation:
    """Scores recommenders fitted on ``train`` against ``test`` (the same shoppers, later).

    The scored shoppers (at most ``max_users``, a seeded sample) and their profiles are built
    once, so the tuner can score many candidates on one split cheaply. ``profiles``: the
    events the shoppers' profiles (and the products left out as seen) come from, when not
    ``train`` (a held-out set of :func:`holdout_split`).
    """

    def __init__(
        self,
        train: TrainingData,
        test: TrainingData,
        *,
        k: int = 10,
        max_users: int | None = 5000,
        seed: int = 0,
        profiles: TrainingData | None = None,
    ) -> None:
        self.k = k
        self.train = train
        profiles = train if profiles is None else profiles
        truth: dict[int, set[int]] = {}
        for user, item in zip(test.users.tolist(), test.items.tolist()):
            truth.setdefault(user, set()).add(item)
        seen: dict[int, set[int]] = {}
        for user, item in zip(profiles.users.tolist(), profiles.items.tolist()):
            if user in truth:
                seen.setdefault(user, set()).add(item)
        users = np.array(sorted(u for u, items in truth.items() if items - seen.get(u, set())), dtype=np.int64)
        if max_users and len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
        self.users = users.tolist()
        self.truth, self.seen = truth, seen
        self.profiles = profiles_from(profiles, users)
        keys = train.product_keys
        self.index = {str(key): i for i, key in enumerate(keys)}
        self.excluded = {user: {str(keys[i]) for i in seen.get(user, set())} for user in self.users}

    def score(
        self,
        recommender: BaseRecommender,
        progress: Callable[[str, int, int], None] | None = None,
        *,
        category_cap: int | None = None,
    ) -> dict[str, float]:
        """Metrics of ``recommender``; ``category_cap``: as served with at most that many
        products per category (the placements' diversity cap), from 4x the candidates."""
        k, index = self.k, self.index
        categories = self.train.item_categories
        precision = recall = ndcg = 0.0
        shown: set[int] = set()
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        for n, user in enumerate(self.users):
            relevant = self.truth[user] - self.seen.get(user, set())
            profile = self.profiles.get(user) or ShopperProfile(
                shopper=None, features=dict(self.train.user_features.get(user, {}))
            )
            recs = recommender.recommend(profile, limit=k * 4 if category_cap else k, exclude=self.excluded[user])
            if category_cap:
                recs = _capped(recs, categories, category_cap, k)
            ranked = [index[r.key] for r in recs[:k] if r.key in index]
            shown.update(ranked)
            hits = np.array([1.0 if item in relevant else 0.0 for item in ranked])
            n_hits = float(hits.sum())
            precision += n_hits / k
            recall += n_hits / len(relevant)
            ideal = discounts[: min(len(relevant), k)].sum()
            ndcg += float((hits * discounts[: len(hits)]).sum() / ideal) if ideal else 0.0
            if progress is not None and n % 200 == 0:
                progress("evaluation", n, len(self.users))
        count = len(self.users)
        if not count:
            return {f"precision@{k}": 0.0, f"recall@{k}": 0.0, f"ndcg@{k}": 0.0, "coverage": 0.0, "users": 0}
        return {
            f"precision@{k}": precision / count,
            f"recall@{k}": recall / count,
            f"ndcg@{k}": ndcg / count,
            "coverage": len(shown) / max(self.train.n_items, 1),
            "users": count,
        }


def evaluate(
    recommender: BaseRecommender,
    train: TrainingData,
    test: TrainingData,
    *,
    k: int = 10,
    max_users: int | None = 5000,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Ranking metrics of ``recommender`` (already fitted on ``train``) against ``test``."""
    return Validation(train, test, k=k, max_users=max_users, seed=seed).score(recommender, progress)


def _capped(recs: list[Any], categories: dict[str, str], cap: int, k: int) -> list[Any]:
    """The first ``k`` of ``recs`` keeping at most ``cap`` per category (as placements do)."""
    counts: dict[str, int] = {}
    kept = []
    for rec in recs:
        category = categories.get(rec.key, "")
        if category and counts.get(category, 0) >= cap:
            continue
        counts[category] = counts.get(category, 0) + 1
        kept.append(rec)
        if len(kept) >= k:
            break
    return kept
