"""Typed-code guessing: a shopper or network that failed ``CODE_ATTEMPTS_PER_HOUR`` codes waits."""

from __future__ import annotations

from typing import Any

from personalize.caching.breaker import throttle_cache
from personalize.conf import personalize_settings as ps
from personalize.identity.agent import client_network
from personalize.models import Shopper


def _attempt_keys(request: Any, shopper: Shopper | None) -> list[str]:
    """Who is guessing: the shopper (cookie or account) and the client's network."""
    keys = [f"personalize:code_attempts:shopper:{shopper.key}"] if shopper is not None else []
    network = client_network(request) if request is not None else ""
    if network:
        keys.append(f"personalize:code_attempts:net:{network}")
    return keys


def too_many_attempts(request: Any, shopper: Shopper | None) -> bool:
    """Whether this shopper or address failed ``CODE_ATTEMPTS_PER_HOUR`` codes this hour."""
    limit = ps.CODE_ATTEMPTS_PER_HOUR
    if not limit:
        return False
    counts = throttle_cache().get_many(_attempt_keys(request, shopper))
    return any(int(value or 0) >= limit for value in counts.values())


def count_failed_attempt(request: Any, shopper: Shopper | None) -> None:
    store = throttle_cache()  # in-process counts while the shared cache is down
    for key in _attempt_keys(request, shopper):
        if not store.add(key, 1, 3600):
            store.incr(key)
