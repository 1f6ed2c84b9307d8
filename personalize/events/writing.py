"""One statement per batch of events: ``INSERT ... ON CONFLICT (client_id) DO NOTHING RETURNING``.

The insert skips client ids stored before (a retried batch, or a concurrent retry that won the
race) and says which rows it wrote, so there is no lookup first. On PostgreSQL the rows travel
as one JSON parameter read with the table's own row type (``jsonb_populate_recordset``):
psycopg's client-side binding quotes every parameter in Python, and it parses a statement with
over 50 parameters again on every execute, so ten values per event cost more than the
database's work for a beacon batch (measured in docs/benchmarks.md, "Beacon, session 4").
SQLite gets one multi-row ``VALUES`` per chunk it can bind.

A :class:`~personalize.identity.remembered.ShopperGuard` makes the insert conditional on the
shopper row still being what the caller remembered; when it is not, nothing is written and the
caller looks the shopper up again (see :func:`personalize.events.ingest.ingest`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.db import connections, router
from django.utils import timezone

from personalize.batching import MAX_SQL_PARAMS
from personalize.identity.remembered import ShopperGuard
from personalize.models import Event, Shopper

# What one insert writes (the primary key comes back from the database).
INSERT_FIELDS = ("shopper", "kind", "product_key", "quantity", "value", "query", "order_ref", "context", "created_at", "client_id")


def fast_insert_supported() -> bool:
    """Whether the database answers ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL,
    SQLite 3.35+): one statement stores a batch and says which rows it wrote."""
    connection = connections[router.db_for_write(Event)]
    return connection.vendor in ("postgresql", "sqlite") and connection.features.can_return_rows_from_bulk_insert


def insert_events(events: list[Event], guard: ShopperGuard | None = None) -> list[Event]:
    """Store ``events`` with one ``INSERT`` (per chunk SQLite can bind) that skips client ids
    already stored; returns the stored events, with their primary keys.

    ``guard``: write only while the shopper row is still the one the guard names (else nothing
    is written and ``[]`` returned). The values go through the backend's own adapters, without
    the ORM's per-field compilation.
    """
    if not events:
        return []
    connection = connections[router.db_for_write(Event)]
    for event in events:
        if event.created_at is None:
            event.created_at = timezone.now()
    guard_params = _guard_params(guard, connection) if guard is not None else []
    stored: list[Event] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            chunks = [events]
        else:
            size = max(1, (MAX_SQL_PARAMS - len(guard_params)) // len(INSERT_FIELDS))
            chunks = [events[start : start + size] for start in range(0, len(events), size)]
        for chunk in chunks:
            if connection.vendor == "postgresql":
                params = [_rows_json(chunk, connection)]
            else:
                params = [value for event in chunk for value in _row_values(event, connection)]
            rows = 0 if connection.vendor == "postgresql" else len(chunk)  # one statement for any number
            cursor.execute(_insert_sql(connection.alias, rows, guard.kind if guard else ""), params + guard_params)
            stored += _match_returned(chunk, cursor.fetchall(), connection.alias)
    return stored


def _row_values(event: Event, connection: Any) -> tuple[Any, ...]:
    ops = connection.ops
    value, value_field = event.value, Event._meta.get_field("value")
    return (
        event.shopper_id,
        event.kind,
        event.product_key,
        event.quantity,
        None if value is None else ops.adapt_decimalfield_value(value, value_field.max_digits, value_field.decimal_places),
        event.query,
        event.order_ref,
        ops.adapt_json_value(event.context, None),
        ops.adapt_datetimefield_value(event.created_at),
        event.client_id,
    )


def _rows_json(events: list[Event], connection: Any) -> str:
    """The rows as one JSON array of objects keyed by column (``jsonb_populate_recordset``)."""
    columns = _columns()
    ops = connection.ops
    value_field = Event._meta.get_field("value")
    rows = []
    for event in events:
        value = event.value
        if value is not None:
            value = str(ops.adapt_decimalfield_value(value, value_field.max_digits, value_field.decimal_places))
        created_at = ops.adapt_datetimefield_value(event.created_at)
        rows.append(dict(zip(columns, (
            event.shopper_id, event.kind, event.product_key, event.quantity, value, event.query, event.order_ref,
            event.context, created_at.isoformat() if hasattr(created_at, "isoformat") else created_at, event.client_id,
        ))))  # fmt: skip
    return json.dumps(rows, cls=Event._meta.get_field("context").encoder)


def _guard_params(guard: ShopperGuard, connection: Any) -> list[Any]:
    if guard.kind == "key":
        return [guard.pk, Shopper._meta.get_field("key").get_db_prep_value(guard.key, connection)]
    return [guard.pk, guard.user_id]


@functools.lru_cache(maxsize=1)
def _columns() -> tuple[str, ...]:
    return tuple(Event._meta.get_field(name).column for name in INSERT_FIELDS)


@functools.lru_cache(maxsize=256)
def _insert_sql(alias: str, rows: int, guard: str) -> str:
    """The statement for ``rows`` events (PostgreSQL: any number, one JSON parameter), written
    only while the shopper row passes ``guard`` (``"key"``, ``"user"`` or ``""`` for none)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    columns = ", ".join(quote(column) for column in _columns())
    if connection.vendor == "postgresql":
        source = f"SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    else:
        row = "(" + ", ".join(["%s"] * len(INSERT_FIELDS)) + ")"
        source = f"SELECT * FROM (VALUES {', '.join([row] * rows)})"
    if guard:
        source += f" WHERE EXISTS ({_guard_sql(connection, guard)})"
    elif connection.vendor == "sqlite":
        source += " WHERE true"  # SQLite: an INSERT ... SELECT before ON CONFLICT needs a WHERE
    pk, client_id = quote(Event._meta.pk.column), quote(Event._meta.get_field("client_id").column)
    return f"INSERT INTO {table} ({columns}) {source} ON CONFLICT ({client_id}) DO NOTHING RETURNING {pk}, {client_id}"


def _guard_sql(connection: Any, guard: str) -> str:
    """The shopper row as remembered: same id, not merged, and the same cookie key without an
    account (``"key"``) or the same account (``"user"``)."""
    quote = connection.ops.quote_name
    column = {name: quote(Shopper._meta.get_field(name).column) for name in ("id", "key", "user", "merged_into")}
    who = f"{column['key']} = %s AND {column['user']} IS NULL" if guard == "key" else f"{column['user']} = %s"
    return (
        f"SELECT 1 FROM {quote(Shopper._meta.db_table)} WHERE {column['id']} = %s "
        f"AND {column['merged_into']} IS NULL AND {who}"
    )


def _match_returned(chunk: list[Event], returned: list[tuple[Any, Any]], alias: str) -> list[Event]:
    """The events of ``chunk`` the database wrote, given its ``RETURNING (pk, client_id)`` rows."""
    by_client_id = {client_id: pk for pk, client_id in returned if client_id is not None}
    without_id = iter([pk for pk, client_id in returned if client_id is None])
    stored = []
    for event in chunk:
        pk = by_client_id.pop(event.client_id, None) if event.client_id is not None else next(without_id, None)
        if pk is None:
            continue  # its client id was stored before (or earlier in this batch)
        event.pk = pk
        event._state.adding = False
        event._state.db = alias
        stored.append(event)
    return stored
