"""Process memos shared-invalidated through a generation stored in the cache.

A :class:`VersionedMemo` keeps a loaded value in the process for up to ``ttl`` seconds and as
long as the cache's generation for its name is unchanged. :meth:`VersionedMemo.bump` (called by
signal receivers when an admin edits a definition) writes a new random generation, so every
process reloads on its next read. Generations are random tokens, never counters: a counter
restarted after a cache clear could repeat an old value and serve stale definitions.
With the cache down the memo still expires after ``ttl`` seconds, so an edit takes effect
within that bound on any cache, including a per-process one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from personalize.caching.breaker import guarded_cache
from personalize.caching.local import LocalLayer

logger = logging.getLogger("personalize")

T = TypeVar("T")


def cache() -> Any:
    """The cache personalize reads and writes: ``CACHE_ALIAS`` with connect/read timeouts,
    behind a circuit breaker (:mod:`personalize.caching.breaker`): a dead or hanging cache
    reads as empty within milliseconds instead of hanging the request."""
    return guarded_cache()


# The one in-process layer in front of :func:`cache` (freshness bound ``LOCAL_CACHE_SECONDS``).
local = LocalLayer(cache)
# Rendered HTML (widget lists and their items), held in this process only: many more keys than
# the values every page reads (generations, candidate lists, cards), so kept apart, where its
# churn cannot push those out of ``local`` (entries leave oldest first).
RENDERED_MAX_ENTRIES = 8192
rendered = LocalLayer(cache, max_entries=RENDERED_MAX_ENTRIES)


class VersionedMemo(Generic[T]):
    """A per-process memo of ``loader()``, valid for ``ttl()`` seconds and one cache generation."""

    registry: ClassVar[list[VersionedMemo[Any]]] = []

    def __init__(self, name: str, loader: Callable[[], T], ttl: Callable[[], float]) -> None:
        self.name = name
        self.key = f"personalize:generation:{name}"
        self.loader = loader
        self.ttl = ttl
        self._lock = threading.Lock()
        self._state: tuple[str | None, float, T] | None = None
        VersionedMemo.registry.append(self)

    def version(self) -> str | None:
        """The current generation (created when missing); ``None`` when the cache is unavailable."""
        try:
            # Read through the in-process layer: no round trip within LOCAL_CACHE_SECONDS.
            generation = local.get(self.key)
            if generation is None:
                cache().add(self.key, uuid.uuid4().hex, None)
                local.forget([self.key])
                generation = local.get(self.key)
        except Exception:  # a cache outage falls back to the ttl alone
            logger.warning("personalize: cache unavailable for the %s generation", self.name, exc_info=True)
            return None
        return generation

    def get(self) -> T:
        """The memoised value, reloaded when the generation changed or ``ttl`` passed."""
        generation = self.version()
        state = self._state
        if state is not None and state[0] == generation and state[1] > time.monotonic():
            return state[2]
        with self._lock:
            value = self.loader()
            self._state = (generation, time.monotonic() + float(self.ttl()), value)
        return value

    def peek(self) -> T | None:
        """The value loaded last, without reloading (``None`` before the first load)."""
        state = self._state
        return state[2] if state is not None else None

    def bump(self) -> None:
        """Invalidate the value in every process (the next read reloads)."""
        self._state = None
        # This process sees the new generation at once, the others within LOCAL_CACHE_SECONDS
        # (a cache outage is logged and must not block saving a definition).
        local.set(self.key, uuid.uuid4().hex, None)

    def clear(self) -> None:
        """Forget the value in this process only."""
        self._state = None


def reset_memos() -> None:
    """Forget every memo's value in this process (tests; see :func:`personalize.testing.reset_state`)."""
    for memo in VersionedMemo.registry:
        memo.clear()
    for layer in LocalLayer.instances:  # ``local`` and the layers other modules keep
        layer.clear()
