"""A small in-process layer in front of the shared cache, with one freshness bound.

Every request of a store reads the same few keys: the generations of the campaign, segment and
placement memos, the catalogue generation, the candidate lists of the products on show. Through
Django's Redis backend each read is a network round trip (~250 µs); :data:`local` keeps a
value read from the shared cache in the process for at most ``LOCAL_CACHE_SECONDS``, so a warm
request pays none. That is the freshness bound the docs promise: a value written by another
process (an admin edit bumping a generation, a product saved, a new model activated) is seen by
every process within ``LOCAL_CACHE_SECONDS``; the process that wrote it sees it at once.

Values whose key names the version they belong to (a model version's "similar" lists, the
cards and rendered lists of one catalogue generation) never change under that key: they are
held for ``LOCAL_VERSIONED_SECONDS`` (``versioned=True``). The freshness bound still holds for
them, since the generation or model version in their key is itself re-read within
``LOCAL_CACHE_SECONDS``.

:data:`personalize.caching.local` is the one instance. :meth:`LocalLayer.get_many` reads what is not held locally in one ``get_many`` round trip.
Values are shared between the threads of a process: callers must not mutate what they get
(the pipeline keeps tuples and builds new lists).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")

# Far more than a store's hot keys (generations, a few hundred products' lists and cards),
# small enough to never matter for memory (~a few MB).
MAX_ENTRIES = 4096


class LocalLayer:
    """Values of the shared cache held in this process for up to ``LOCAL_CACHE_SECONDS``."""

    # Every layer of the process, so tests forget them all at once (caching.memo.reset_memos).
    instances: ClassVar[list[LocalLayer]] = []

    def __init__(self, source: Callable[[], Any], max_entries: int = MAX_ENTRIES) -> None:
        self.source = source  # the shared cache accessor (personalize.caching.cache)
        self.max_entries = max_entries
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        LocalLayer.instances.append(self)

    def _bound(self) -> float:
        return float(ps.LOCAL_CACHE_SECONDS)

    def _life(self, versioned: bool) -> float:
        """How long a value read or written now is held: the freshness bound, or for a
        versioned key (one that names the generation or model version its value belongs to,
        so the value never changes under it) ``LOCAL_VERSIONED_SECONDS``. Nothing is held
        when the bound is 0."""
        bound = self._bound()
        if bound <= 0 or not versioned:
            return bound
        return max(bound, float(ps.LOCAL_VERSIONED_SECONDS))

    def _remember(self, key: str, value: Any, expires: float) -> None:
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (expires, value)
            while len(self._data) > self.max_entries:  # oldest first (dicts keep insertion order)
                self._data.pop(next(iter(self._data)))

    def held(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` when this process holds a fresh value for ``key``."""
        entry = self._data.get(key)
        if entry is not None and entry[0] > time.monotonic() and self._bound() > 0:
            return True, entry[1]
        return False, None

    def held_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The fresh values this process holds for ``keys`` (no round trip for the others)."""
        if self._bound() <= 0:
            return {}
        now, data = time.monotonic(), self._data
        found = {}
        for key in keys:
            entry = data.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
        return found

    def hold_many(self, values: Mapping[str, Any], *, versioned: bool = False, until: float | None = None) -> None:
        """:meth:`hold` for several keys at once; ``until`` (a :func:`time.monotonic` time, at
        most the usual life away) ends them all together."""
        if self._bound() > 0:
            expires = time.monotonic() + self._life(versioned)
            if until is not None:
                expires = min(expires, until)
            for key, value in values.items():
                self._remember(key, value, expires)

    def window_end(self) -> float:
        """The end of the current ``LOCAL_CACHE_SECONDS`` window (a :func:`time.monotonic`
        time): values held ``until`` it expire together, within the freshness bound."""
        bound = self._bound()
        if bound <= 0:
            return time.monotonic()
        return (time.monotonic() // bound + 1) * bound

    def get_many(self, keys: Iterable[str], *, versioned: bool = False) -> dict[str, Any]:
        """The values of ``keys`` that exist, reading the ones not held here in one round trip.

        A cache outage reads as "not there" (the caller recomputes), logged once per call.
        ``versioned``: the keys name the version of their values (see :meth:`_life`).
        """
        found: dict[str, Any] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            hit, value = self.held(key)
            if hit:
                found[key] = value
            else:
                missing.append(key)
        if missing and self._bound() > 0:
            fetched = self._fetch(missing)
            expires = time.monotonic() + self._life(versioned)
            for key, value in fetched.items():
                self._remember(key, value, expires)
            found.update(fetched)
        elif missing:
            found.update(self._fetch(missing))
        return found

    def _fetch(self, keys: list[str]) -> dict[str, Any]:
        try:
            return self.source().get_many(keys)
        except Exception:  # an unavailable cache reads as empty: the caller recomputes
            logger.warning("personalize: cache unavailable for %d keys", len(keys), exc_info=True)
            return {}

    def get(self, key: str, default: Any = None, *, versioned: bool = False) -> Any:
        return self.get_many([key], versioned=versioned).get(key, default)

    def set_many(self, values: Mapping[str, Any], timeout: float | None, *, versioned: bool = False) -> None:
        """Write to the shared cache and hold the values here (a failed write is logged)."""
        if not values:
            return
        try:
            self.source().set_many(dict(values), timeout)
        except Exception:
            logger.warning("personalize: could not write %d cache keys", len(values), exc_info=True)
        if self._bound() > 0:
            life = self._life(versioned)
            expires = time.monotonic() + min(life, timeout if timeout is not None else life)
            for key, value in values.items():
                self._remember(key, value, expires)

    def set(self, key: str, value: Any, timeout: float | None, *, versioned: bool = False) -> None:
        self.set_many({key: value}, timeout, versioned=versioned)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete from the shared cache and from this process (others: within the bound)."""
        keys = list(keys)
        with self._lock:
            for key in keys:
                self._data.pop(key, None)
        try:
            self.source().delete_many(keys)
        except Exception:
            logger.warning("personalize: could not delete %d cache keys", len(keys), exc_info=True)

    def hold(
        self, key: str, value: Any, *, seconds: float | None = None, versioned: bool = False, until: float | None = None
    ) -> None:
        """Keep ``value`` in this process only, for ``LOCAL_CACHE_SECONDS`` (a derived value
        every process computes for itself, e.g. which candidates are in stock); ``versioned``
        and at most ``seconds`` (see :meth:`_life`), or until ``until`` (see :meth:`hold_many`)."""
        if self._bound() > 0:
            life = self._life(versioned)
            expires = time.monotonic() + (min(life, seconds) if seconds is not None else life)
            self._remember(key, value, min(expires, until) if until is not None else expires)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys`` from this process only (the next read goes to the shared cache)."""
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything held in this process (tests, :func:`personalize.testing.reset_state`)."""
        with self._lock:
            self._data.clear()

