"""What one shopper contributes to the shared lists: once per product, kind and window.

Trending/popularity, co-occurrence ("bought together", "also viewed") and the search
statistics are shared by every visitor, so a script must not be able to rig them by repeating
itself. Each counts a (shopper, product, kind) — for co-occurrence a (shopper, pair of
products) — at most once per ``CONTRIBUTION_WINDOW_HOURS`` window, however many events are
sent: 2,000 clicks from one cookie weigh what one honest shopper's click weighs. Windows are
fixed slices of time (``floor(epoch seconds / width)``), the same in SQL and in numpy.

Events hold no client address (nothing to cap per address here): per-address limits act when
events come in (``NEW_PROFILES_PER_NETWORK_PER_HOUR``, the beacon's throttle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db.models import BigIntegerField, Func

from personalize.conf import personalize_settings as ps

__all__ = ["window_seconds", "window_of", "window_middle", "WindowOf", "first_per_window"]


def window_seconds() -> int:
    """The contribution window's width in seconds (at least one second)."""
    return max(int(float(ps.CONTRIBUTION_WINDOW_HOURS or 0) * 3600), 1)


def window_of(times: np.ndarray, width: int | None = None) -> np.ndarray:
    """The window number of POSIX ``times`` (int64)."""
    width = width or window_seconds()
    return np.floor(np.asarray(times, dtype=np.float64) / width).astype(np.int64)


def window_middle(window: Any, width: int | None = None, *, now: float | None = None) -> Any:
    """The POSIX time in the middle of a window (never later than ``now``): the time one
    contribution is decayed from."""
    width = width or window_seconds()
    middle = np.asarray(window, dtype=np.float64) * width + width / 2.0
    return np.minimum(middle, now) if now is not None else middle


class WindowOf(Func):
    """``floor(epoch seconds of <datetime column> / width)``: the SQL twin of :func:`window_of`.

    The width is written into the SQL as an integer (not a parameter), so PostgreSQL sees the
    same expression in SELECT and GROUP BY.
    """

    output_field = BigIntegerField()

    def __init__(self, expression: Any, width: int | None = None, **extra: Any) -> None:
        self.width = int(width or window_seconds())
        super().__init__(expression, **extra)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # PostgreSQL and the rest
        template = f"CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s) / {self.width}) AS BIGINT)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # julianday: days since noon 4714 BC; 2440587.5 is the Unix epoch.
        template = f"CAST(((julianday(%(expressions)s) - 2440587.5) * 86400.0) / {self.width} AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"FLOOR(UNIX_TIMESTAMP(%(expressions)s) / {self.width})"
        return super().as_sql(compiler, connection, template=template, **extra)


def first_per_window(*columns: np.ndarray, times: np.ndarray, width: int | None = None) -> np.ndarray:
    """Indices keeping one entry per distinct ``columns`` tuple and window (the latest of each).

    ``columns`` are integer arrays of one length (shopper, product, kind...); ``times`` POSIX
    seconds. The indices come back sorted, so the kept entries stay in their original order.
    """
    if not len(times):
        return np.zeros(0, dtype=np.int64)
    windows = window_of(times, width)
    keys = [np.asarray(c, dtype=np.int64) for c in columns] + [windows]
    # lexsort: the last key is the primary one; the latest time first within each group
    order = np.lexsort((-np.asarray(times, dtype=np.float64), *reversed(keys)))
    sorted_keys = np.stack([k[order] for k in keys])
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = np.any(sorted_keys[:, 1:] != sorted_keys[:, :-1], axis=0)
    return np.sort(order[starts])
