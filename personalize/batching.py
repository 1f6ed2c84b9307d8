"""Bounded queries: ``IN`` lists in chunks SQLite accepts, tables read in keyset-paginated batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# SQLite's default limit of bound parameters is 999; stay under it with room for other filters.
MAX_SQL_PARAMS = 900


def chunked(items: Sequence[T], size: int = MAX_SQL_PARAMS) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (for ``pk__in`` and friends)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def keyset_batches(queryset: Any, size: int, field: str = "pk") -> Iterator[list[Any]]:
    """Rows of ``queryset`` by ascending ``field``, ``size`` at a time: each batch is one bounded
    query and nothing is held between them (unlike OFFSET, cost does not grow with the page)."""
    last = None
    while True:
        qs = queryset.order_by(field)
        if last is not None:
            qs = qs.filter(**{f"{field}__gt": last})
        batch = list(qs[:size])
        if not batch:
            return
        last = getattr(batch[-1], field)
        yield batch
