"""Helpers for a store's own test suite.

Call :func:`reset_state` between tests (e.g. in an autouse fixture): personalize memoises
definitions per process and keeps generations in the cache, and a test's rolled-back
transaction sends no signal, so without it one test's campaigns or segments could reach the next.
"""

from __future__ import annotations

from personalize import exposures
from personalize.caching import breaker, cache, reset_memos
from personalize.recommenders import reset_recommenders


def reset_state(*, clear_cache: bool = True) -> None:
    """Forget every process memo and loaded recommender; clear the cache unless told not to."""
    breaker.reset()  # a cache outage simulated by one test must not open the circuit for the next
    if clear_cache:
        cache().clear()
    reset_memos()
    reset_recommenders()
    exposures.reset()  # one test's unwritten exposures never reach the next
