"""Sticky splits: the one way personalize puts a shopper in an A/B arm, a control group or a holdout.

A shopper's point in [0, 1) is a hash of their key and a salt, so the same shopper always lands in
the same arm of the same experiment, and different experiments (different salts) are independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

CONTROL = "control"


def bucket(key: Any, salt: str = "") -> float:
    """A stable number in [0, 1) for ``key`` under ``salt``."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_share(key: Any, salt: str, percent: float) -> bool:
    """Whether ``key`` falls in the first ``percent`` % of the split ``salt`` (a holdout)."""
    return percent > 0 and bucket(key, salt) * 100 < percent


def assign(key: Any, salt: str, arms: Sequence[tuple[str, float]], control_share: float = 0.0) -> str:
    """The arm of ``key``: :data:`CONTROL` for the first ``control_share`` (0-1), then ``arms``
    (``(name, weight)`` pairs) in proportion to their weights. ``arms`` must not be empty."""
    point = bucket(key, salt)
    if point < control_share:
        return CONTROL
    point = (point - control_share) / (1 - control_share)
    total = sum(max(weight, 0) for _name, weight in arms)
    if total <= 0:
        return arms[0][0]
    running = 0.0
    for name, weight in arms:
        running += max(weight, 0) / total
        if point < running:
            return name
    return arms[-1][0]
