"""The stock check's one query: which of some product keys are visible, in stock and pass a
placement's rules, compiled once per window instead of once per list.

Building and compiling the queryset (the adapter's ``get_queryset()``, its ``stock_filter()``,
the rules) cost four times what the database's work and the rows do together. The statement
without the keys is compiled with the ORM once per database, rules and ``LOCAL_CACHE_SECONDS``
window (so a value a store's queryset computes in Python, such as "published before now", is
at most that old, the bound stock checks already have); each list then runs it with its keys
as a derived table's filter. Keys go through the primary key's ``get_db_prep_value`` and the
answers through the database's and the field's converters, as the ORM's would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connections, models, router

from personalize.adapters import DefaultAdapter
from personalize.caching import cache
from personalize.caching.local import LocalLayer
from personalize.sql import db_converter

ALIAS = "personalize_visible"
COLUMN = "personalize_pk"  # the derived table's one column (an annotation's alias is always written)


class Compiled(NamedTuple):
    adapter: DefaultAdapter  # the adapter it was compiled for (settings replace it)
    alias: str  # the database the adapter's queryset reads
    sql: str  # the statement without the keys
    params: tuple[Any, ...]
    convert: Callable[[Any], Any]  # the primary key's converter


# Statements of this process, until the end of their window (forgotten with every other layer).
compiled_statements = LocalLayer(cache, max_entries=64)


def visible_keys(
    keys: list[str], rules: models.Q, adapter: DefaultAdapter, *, condition: str, window: float
) -> set[str]:
    """The keys among ``keys`` naming products a list may show (one query; none for no keys).
    ``condition`` names ``rules`` (``str(rules)``); ``window`` is when the compiled statement
    stops being reused (:meth:`~personalize.caching.local.LocalLayer.window_end`)."""
    model = adapter.get_product_model()
    pk = model._meta.pk
    parsed = {}
    for key in keys:
        try:
            parsed[pk.to_python(adapter.to_python_key(key))] = None
        except (ValidationError, ValueError, TypeError):  # a malformed key is never shown
            continue
    if not parsed:
        return set()
    compiled = _statement(adapter, rules, condition, window)
    connection = connections[compiled.alias]
    values = [pk.get_db_prep_value(value, connection, prepared=False) for value in parsed]
    quote = connection.ops.quote_name
    column = f"{quote(ALIAS)}.{quote(COLUMN)}"
    statement = (
        f"SELECT {column} FROM ({compiled.sql}) {quote(ALIAS)} WHERE {column} IN ({', '.join(['%s'] * len(values))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*compiled.params, *values])
        return {str(compiled.convert(row[0])) for row in cursor.fetchall()}


def _statement(adapter: DefaultAdapter, rules: models.Q, condition: str, window: float) -> Compiled:
    model = adapter.get_product_model()
    digest = hashlib.sha256(condition.encode()).hexdigest()[:32]
    key = f"personalize:visible-sql:{router.db_for_read(model)}:{model._meta.label}:{digest}"
    hit, found = compiled_statements.held(key)
    if hit and found.adapter is adapter:
        return found
    shown = adapter.get_queryset().filter(adapter.stock_filter()).filter(rules).order_by()
    base = shown.annotate(**{COLUMN: models.F("pk")}).values_list(COLUMN, flat=True)
    sql, params = base.query.get_compiler(using=base.db).as_sql()
    found = Compiled(adapter, base.db, sql, tuple(params), db_converter(model, model._meta.pk.name, connections[base.db]))
    compiled_statements.hold(key, found, until=window)
    return found
