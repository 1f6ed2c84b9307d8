"""The one query a profile reads its events with, written as SQL once per database.

A returning shopper's page reads the events they stored since their cached profile was last
read (:mod:`personalize.profiles.live`): a handful of rows, on most product pages. Compiling
that query with the ORM (a ``CASE``, the list of kinds, an exclusion) cost more than the
database's work and the rows together, so the statement is built once per database, shape and
limit from the model's own table and column names; values go through the backend's adapters
and the fields' converters, as the ORM's would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import connections, router

from personalize.models import PROFILE_KINDS, Event, EventKind, Shopper, purchase_lines
from personalize.sql import db_converter

# One event as a profile reads it: (id, product key, kind, query, the products of a purchase,
# time). A plain tuple, not a named one: a cached profile holds hundreds, and named tuples
# cost ten times more to pickle.
ProfileRow = tuple[int, str, str, str, tuple[str, ...], datetime]
ROW_ID, ROW_LINES, ROW_WHEN = 0, 4, 5


def profile_rows(
    shopper: Shopper, *, since: datetime | None = None, limit: int, known: Iterable[int] = ()
) -> list[ProfileRow]:
    """The shopper's newest events of the profile's kinds (at most ``limit``; those from
    ``since`` on, without the ``known`` ids), newest first: one query.

    Only a purchase's context (its lines) is read: decoding the JSON of every view cost a third
    of the query on a full profile.
    """
    connection = connections[router.db_for_read(Event)]
    known = list(known)
    params: list[Any] = [EventKind.PURCHASE.value, shopper.pk, *(str(kind) for kind in PROFILE_KINDS)]
    if since is not None:
        params.append(connection.ops.adapt_datetimefield_value(since))
    params += known
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(connection.alias, since is not None, len(known), limit), params)
        fetched = cursor.fetchall()
    context_of, time_of = _converters(connection.alias)
    return [
        (pk, key or "", kind, query or "", tuple(line["product"] for line in purchase_lines(context_of(context))),
         time_of(when))
        for pk, key, kind, query, context, when in fetched
    ]


@functools.lru_cache(maxsize=256)
def _select_sql(alias: str, with_since: bool, known: int, limit: int) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = Event._meta

    def column(name: str) -> str:
        return f"{quote(meta.db_table)}.{quote(meta.get_field(name).column)}"

    kind = column("kind")
    where = [f"{column('shopper')} = %s", f"{kind} IN ({', '.join(['%s'] * len(PROFILE_KINDS))})"]
    if with_since:
        where.append(f"{column('created_at')} >= %s")
    if known:
        where.append(f"NOT ({column('id')} IN ({', '.join(['%s'] * known)}))")
    return (
        f"SELECT {column('id')}, {column('product_key')}, {kind}, {column('query')}, "
        f"CASE WHEN {kind} = %s THEN {column('context')} ELSE NULL END, {column('created_at')} "
        f"FROM {quote(meta.db_table)} WHERE {' AND '.join(where)} "
        f"ORDER BY {column('created_at')} DESC, {column('id')} DESC {connection.ops.limit_offset_sql(None, limit)}"
    )


@functools.lru_cache(maxsize=16)
def _converters(alias: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """What turns the database's context and time values into Python (the ORM's converters)."""
    connection = connections[alias]
    return db_converter(Event, "context", connection), db_converter(Event, "created_at", connection)
