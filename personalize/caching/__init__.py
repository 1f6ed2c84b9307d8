"""The cache personalize uses, and the one process-memo scheme built on it.

Every cache call personalize makes goes through :func:`cache` (so timeouts and a circuit breaker
wrap them in one place: :mod:`personalize.caching.breaker`); definitions every request reads
(campaigns, segments, placement rules) are memoised per process by
:class:`~personalize.caching.memo.VersionedMemo`.
"""

from personalize.caching.memo import VersionedMemo, cache, local, rendered, reset_memos

__all__ = ["VersionedMemo", "cache", "local", "rendered", "reset_memos"]
