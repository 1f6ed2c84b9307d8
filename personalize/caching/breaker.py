"""Fail fast when the cache is down or hangs: timeouts on its connections and a circuit breaker.

personalize reads the cache on every page (model versions, campaign specs, throttles). A cache
that refuses connections raises on every call; one that accepts and never answers (a full
network queue, a frozen Redis) hangs every request until the OS gives up. Two defences:

- :func:`build_backend` makes personalize's own backend instance from the store's
  ``CACHES`` entry with connect and read timeouts added when the entry has none
  (``CACHE_CONNECT_TIMEOUT_SECONDS``, ``CACHE_SOCKET_TIMEOUT_SECONDS``; Django's Redis and
  memcached backends and django-redis are known);
- :class:`GuardedCache` runs every call through a per-process :class:`CircuitBreaker`: after
  ``CACHE_BREAKER_FAILURES`` failures in a row it opens for ``CACHE_BREAKER_RESET_SECONDS``,
  during which calls cost a few microseconds and answer the neutral value (a miss, nothing
  stored); then one call probes the cache again. Failures are logged once per opening.

A cache failure therefore degrades to "nothing cached": pages render from the database, events
are written, throttles fall back to an in-process counter (``fallback``).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from personalize.conf import personalize_settings as ps

try:
    from redis.exceptions import ResponseError as RedisResponseError
except ImportError:  # no Redis backend without redis-py: nothing to catch
    RedisResponseError = ()  # type: ignore[assignment,misc]

logger = logging.getLogger("personalize")

# Backends whose connection options are known: (connect timeout option, read timeout option).
REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache",)
DJANGO_REDIS_BACKENDS = ("django_redis.cache.RedisCache",)
PYMEMCACHE_BACKENDS = ("django.core.cache.backends.memcached.PyMemcacheCache",)
PYLIBMC_BACKENDS = ("django.core.cache.backends.memcached.PyLibMCCache",)
# Backends that never wait on a network.
LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
)


def timeout_options(backend: str, options: dict[str, Any], connect: float, read: float) -> dict[str, Any] | None:
    """``options`` with the backend's timeout options added where missing; ``None`` if unknown."""
    options = dict(options)
    if backend in REDIS_BACKENDS:
        options.setdefault("socket_connect_timeout", connect)
        options.setdefault("socket_timeout", read)
    elif backend in DJANGO_REDIS_BACKENDS:
        options.setdefault("SOCKET_CONNECT_TIMEOUT", connect)
        options.setdefault("SOCKET_TIMEOUT", read)
    elif backend in PYMEMCACHE_BACKENDS:
        options.setdefault("connect_timeout", connect)
        options.setdefault("timeout", read)
    elif backend in PYLIBMC_BACKENDS:
        behaviors = dict(options.get("behaviors") or {})
        behaviors.setdefault("connect_timeout", int(connect * 1000))
        behaviors.setdefault("receive_timeout", int(read * 1_000_000))
        behaviors.setdefault("send_timeout", int(read * 1_000_000))
        options["behaviors"] = behaviors
    elif backend not in LOCAL_BACKENDS:
        return None
    return options


def has_timeouts(params: dict[str, Any]) -> bool:
    """Whether a ``CACHES`` entry sets its own connect and read timeouts (or needs none)."""
    backend, options = params.get("BACKEND", ""), params.get("OPTIONS") or {}
    if backend in LOCAL_BACKENDS:
        return True
    if backend in REDIS_BACKENDS:
        return "socket_timeout" in options and "socket_connect_timeout" in options
    if backend in DJANGO_REDIS_BACKENDS:
        return "SOCKET_TIMEOUT" in options and "SOCKET_CONNECT_TIMEOUT" in options
    if backend in PYMEMCACHE_BACKENDS:
        return "timeout" in options and "connect_timeout" in options
    if backend in PYLIBMC_BACKENDS:
        return "connect_timeout" in (options.get("behaviors") or {})
    return False


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's Redis client, keeping one ``redis.Redis`` per connection pool.

    Django builds a new ``redis.Redis`` object for every cache call (~110 µs on this machine,
    more than the round trip it makes); the object is thread-safe over its pool, so one per
    pool is enough."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


def _redis_incr(backend: RedisCache, key: str, start: int | None, timeout: float | None) -> int | None:
    """``SET NX`` of ``start`` and ``INCR`` in one pipeline (Django's ``incr`` asks whether the
    key exists first: two round trips, and not atomic together)."""
    key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(key, write=True)
    try:
        if start is None:
            if not client.exists(key):
                return None
            return int(client.incr(key))
        pipeline = client.pipeline(transaction=False)
        pipeline.set(key, start, nx=True, px=int(timeout * 1000) if timeout else None)
        pipeline.incr(key)
        return int(pipeline.execute()[-1])
    except RedisResponseError:  # the key holds something else (a token of an earlier release): the cache is fine
        return None


# Counts a key up (made at ARGV[1] first, for ARGV[2] ms) and stores ARGV[3] under KEYS[2] with
# the new count appended (for ARGV[4] ms), in one atomic step. Lua numbers are doubles: a count beyond 2**53
# cannot name its key exactly, and answers -1 (the caller replaces the counter).
EXACT_COUNTS = 2**53  # what _COUNT_AND_STORE can count to
_COUNT_AND_STORE = f"""
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local count = redis.call('INCR', KEYS[1])
if count >= {EXACT_COUNTS} then return -1 end
redis.call('SET', KEYS[2] .. string.format('%d', count), ARGV[3], 'PX', ARGV[4])
return count
"""


def _redis_count_and_store(
    backend: RedisCache, key: str, prefix: str, value: Any, start: int, timeout: float, value_timeout: float
) -> int | None:
    """:meth:`GuardedCache.count_and_store` on Django's Redis backend: one script, one round trip."""
    made_key, made_prefix = backend.make_and_validate_key(key), backend.make_and_validate_key(prefix)
    if backend.make_key(prefix + "1") != made_prefix + "1":  # a KEY_FUNCTION that is not a prefix
        return _count_then_store(backend, key, prefix, value, start, timeout, value_timeout)
    client = backend._cache.get_client(made_key, write=True)
    script = getattr(client, "_personalize_count_and_store", None)
    if script is None:
        script = client._personalize_count_and_store = client.register_script(_COUNT_AND_STORE)
    payload = backend._cache._serializer.dumps(value)
    try:
        count = int(script(keys=[made_key, made_prefix], args=[start, _ms(timeout), payload, _ms(value_timeout)]))
    except RedisResponseError:  # the key holds something else (a token of an earlier release)
        return None
    return count if count >= 0 else None


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _count_then_store(
    backend: BaseCache, key: str, prefix: str, value: Any, start: int, timeout: float, value_timeout: float
) -> int | None:
    """The same in two calls (the stored value follows its count: a reader between them finds it missing)."""
    count = _redis_incr(backend, key, start, timeout) if isinstance(backend, RedisCache) else _add_incr(backend, key, start, timeout)
    if count is not None:
        backend.set(f"{prefix}{count}", value, value_timeout)
    return count


def _add_incr(backend: BaseCache, key: str, start: int | None, timeout: float | None) -> int | None:
    if start is not None:
        backend.add(key, start, timeout)
    try:
        return backend.incr(key)
    except (TypeError, ValueError):  # missing, or it holds something else (a token of an earlier release)
        return None


def _counts_atomically(backend: BaseCache) -> bool:
    return isinstance(backend, (RedisCache, LocMemCache, BaseMemcachedCache)) or type(backend).__module__.startswith("django_redis")


def build_backend(alias: str, *, connect: float, read: float) -> BaseCache:
    """A new backend for ``CACHES[alias]`` with timeouts added (the store's own stays as it is)."""
    params = copy.deepcopy(settings.CACHES[alias])
    backend = params.pop("BACKEND")
    location = params.pop("LOCATION", "")
    options = timeout_options(backend, params.get("OPTIONS") or {}, connect, read)
    if options is not None:
        params["OPTIONS"] = options
    instance = import_string(backend)(location, params)
    if backend in REDIS_BACKENDS and getattr(instance, "_class", None) is RedisCacheClient:
        instance._class = ReusingRedisCacheClient
    return instance


class CircuitBreaker:
    """Closed (calls go through), open (calls skipped) for ``reset_seconds`` after ``failures``
    failures in a row, then half-open: one call probes, its outcome closes or re-opens it."""

    def __init__(self, failures: int = 1, reset_seconds: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = max(1, int(failures))
        self.reset_seconds = float(reset_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        """Whether a call may go to the cache now."""
        if self._opened_at is None:
            return True
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self.clock() - self._opened_at < self.reset_seconds:
                return False
            self._probing = True  # one caller probes; the others keep skipping
            return True

    def record_success(self) -> None:
        if self._count or self._opened_at is not None:
            with self._lock:
                was_open = self._opened_at is not None
                self._count, self._opened_at, self._probing = 0, None, False
            if was_open:
                logger.warning("personalize: the cache answers again; circuit closed")

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self._count += 1
            reopened = self._probing
            self._probing = False
            if self._count < self.failures and not reopened:
                return
            first = self._opened_at is None
            self._opened_at = self.clock()
        if first:
            logger.warning(
                "personalize: cache call failed (%s: %s); skipping the cache for %.0f s",
                type(exc).__name__, exc, self.reset_seconds,
            )

    def reset(self) -> None:
        with self._lock:
            self._count, self._opened_at, self._probing = 0, None, False


class GuardedCache:
    """A cache backend whose failures cost nothing: each call goes through the breaker and a
    failed or skipped call answers the neutral value (or goes to ``fallback`` when given)."""

    def __init__(self, backend: BaseCache, breaker: CircuitBreaker, fallback: BaseCache | None = None) -> None:
        self.backend = backend
        self.breaker = breaker
        self.fallback = fallback

    def _call(self, name: str, neutral: Any, *args: Any, call: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        if self.breaker.allow():
            try:
                result = call(self.backend, *args, **kwargs) if call is not None else getattr(self.backend, name)(*args, **kwargs)
            except (TypeError, ValueError) as exc:
                # Django's contract (incr of a missing key) or a caller's bug: the cache
                # answered, so it is healthy; the caller sees the error as from Django's cache.
                self.breaker.record_success()
                raise exc
            except Exception as exc:  # noqa: BLE001 - any other backend failure means "no cache"
                self.breaker.record_failure(exc)
            else:
                self.breaker.record_success()
                return result
        if self.fallback is not None:
            return getattr(self.fallback, name)(*args, **kwargs)
        return neutral() if callable(neutral) else neutral

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._call("get", lambda: default, key, default, version=version)

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        return self._call("get_many", dict, list(keys), version=version)

    def set(self, key: str, value: Any, timeout: Any = ..., version: int | None = None) -> None:
        kwargs = {"version": version} if timeout is ... else {"timeout": timeout, "version": version}
        self._call("set", None, key, value, **kwargs)

    def add(self, key: str, value: Any, timeout: Any = ..., version: int | None = None) -> bool:
        kwargs = {"version": version} if timeout is ... else {"timeout": timeout, "version": version}
        return self._call("add", False, key, value, **kwargs)

    def set_many(self, data: dict[str, Any], timeout: Any = ..., version: int | None = None) -> list[str]:
        kwargs = {"version": version} if timeout is ... else {"timeout": timeout, "version": version}
        return self._call("set_many", lambda: list(data), data, **kwargs)

    def delete(self, key: str, version: int | None = None) -> bool:
        return self._call("delete", False, key, version=version)

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        self._call("delete_many", None, list(keys), version=version)

    def touch(self, key: str, timeout: Any = ..., version: int | None = None) -> bool:
        kwargs = {"version": version} if timeout is ... else {"timeout": timeout, "version": version}
        return self._call("touch", False, key, **kwargs)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int | None:
        """The new value, or ``None`` when the key is missing or the cache is unavailable."""
        try:
            return self._call("incr", None, key, delta, version=version)
        except ValueError:  # missing key: Django's contract, not a cache failure
            return None

    def atomic_incr(self, key: str, *, start: int | None = None, timeout: float | None = None) -> int | None:
        """``key``'s value plus one, counted atomically by the cache itself (two processes
        adding at once get two different answers); a missing key is made at ``start`` first
        (for ``timeout`` seconds). One round trip on Redis. ``None`` when the key is missing
        and no ``start`` is given, the cache is unavailable or cannot count atomically (a
        database or file cache reads, then writes)."""
        backend = self.backend
        if isinstance(backend, RedisCache):
            return self._call("atomic_incr", None, key, start, timeout, call=_redis_incr)
        if _counts_atomically(backend):
            return self._call("atomic_incr", None, key, start, timeout, call=_add_incr)
        return None

    def count_and_store(
        self, key: str, prefix: str, value: Any, *, start: int, timeout: float, value_timeout: float
    ) -> int | None:
        """:meth:`atomic_incr` of ``key``, then ``value`` stored under ``prefix`` + the new count
        (for ``value_timeout`` seconds): on Redis one atomic script, so whoever reads the count
        finds the value; elsewhere two calls. ``None`` as for :meth:`atomic_incr` (nothing stored)."""
        backend = self.backend
        args = (key, prefix, value, start, timeout, value_timeout)
        if isinstance(backend, RedisCache):
            return self._call("count_and_store", None, *args, call=_redis_count_and_store)
        if _counts_atomically(backend):
            return self._call("count_and_store", None, *args, call=_count_then_store)
        return None

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self._call("has_key", False, key, version=version)

    def get_or_set(self, key: str, default: Any, timeout: Any = ..., version: int | None = None) -> Any:
        value = self.get(key, version=version)
        if value is None:
            value = default() if callable(default) else default
            if value is not None:
                self.set(key, value, timeout, version=version)
        return value

    def clear(self) -> None:
        self._call("clear", None)

    def close(self, **kwargs: Any) -> None:
        try:
            self.backend.close(**kwargs)
        except Exception:  # noqa: BLE001 - closing a dead connection
            logger.debug("personalize: closing the cache failed", exc_info=True)

    def __getattr__(self, name: str) -> Any:
        # Anything else (make_key, validate_key, default_timeout...) is the backend's own.
        return getattr(self.backend, name)


# --- the accessor's state: one breaker per process, one backend per thread -----------------

_breaker: CircuitBreaker | None = None
_local = threading.local()
_generation = 0  # bumped when CACHES or PERSONALIZE change (tests): backends are rebuilt


def breaker() -> CircuitBreaker:
    """This process's breaker for personalize's cache."""
    global _breaker
    if _breaker is None:
        _breaker = CircuitBreaker(ps.CACHE_BREAKER_FAILURES, ps.CACHE_BREAKER_RESET_SECONDS)
    return _breaker


def guarded_cache() -> GuardedCache:
    """personalize's cache: the ``CACHE_ALIAS`` entry with timeouts, behind the breaker.

    One backend per thread (as Django keeps its own: not every client is thread-safe), one
    breaker per process (a dead cache is dead for every thread).
    """
    current = getattr(_local, "cache", None)
    if current is None or _local.generation != _generation:
        backend = build_backend(
            ps.CACHE_ALIAS, connect=ps.CACHE_CONNECT_TIMEOUT_SECONDS, read=ps.CACHE_SOCKET_TIMEOUT_SECONDS
        )
        current = _local.cache = GuardedCache(backend, breaker())
        _local.generation = _generation
    return current


def throttle_cache() -> GuardedCache:
    """The cache throttles count in: personalize's, falling back to a bounded in-process
    counter while the shared cache is unavailable (limits still hold, per process)."""
    current = getattr(_local, "throttle", None)
    if current is None or _local.throttle_generation != _generation:
        current = _local.throttle = GuardedCache(guarded_cache().backend, breaker(), fallback=_fallback())
        _local.throttle_generation = _generation
    return current


_fallback_cache: BaseCache | None = None


def _fallback() -> BaseCache:
    global _fallback_cache
    if _fallback_cache is None:
        # Bounded: locmem culls a third of its entries past MAX_ENTRIES.
        _fallback_cache = LocMemCache("personalize-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
    return _fallback_cache


def reset() -> None:
    """Forget backends and breaker state (settings changed, or a test starts afresh)."""
    global _breaker, _generation
    _breaker = None
    _generation += 1


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", "PERSONALIZE"):
        reset()


setting_changed.connect(_settings_changed)
