"""Small numpy helpers shared by the backends: top-k selection and recency weights."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np


def top_k(scores: np.ndarray, k: int, banned: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first (ties: lower index first)."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    if banned is not None and len(banned):
        scores[banned] = -np.inf
    valid = np.isfinite(scores)
    n_valid = int(valid.sum())
    k = min(k, n_valid)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.flatnonzero(valid)
    if k < n_valid:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]


def indices_of(keys: Collection[str], index: Mapping[str, int]) -> np.ndarray:
    return np.fromiter((index[k] for k in keys if k in index), dtype=np.int64)


def decay(ages_seconds: np.ndarray, half_life_days: float) -> np.ndarray:
    """Exponential time decay: 1 now, 0.5 after one half-life."""
    if not half_life_days:
        return np.ones_like(ages_seconds, dtype=np.float64)
    ages = np.maximum(ages_seconds, 0.0) / 86400.0
    return np.power(0.5, ages / float(half_life_days))
