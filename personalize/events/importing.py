"""Bulk-loading historical interactions (a store's order history) from CSV.

Columns: ``shopper,product,kind,timestamp`` and optionally ``value,quantity``. ``shopper`` is
the store's own customer key (kept on ``Shopper.external_key``; new shoppers are created),
``product`` a product key checked against the catalogue in bulk, ``timestamp`` an ISO date or
date-time or POSIX seconds. Rows are streamed and written in batches; bad rows and unknown
products are reported with their line numbers and skipped, or, with ``strict``, fail the whole
import with nothing written.

Each row is checked by :func:`personalize.events.schema.event_values` (the checks of
``build_event``, without a model instance per row); on PostgreSQL a batch is written with one
``COPY`` (the database's fastest load), elsewhere with ``bulk_create``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from personalize.adapters import get_adapter
from personalize.caching import shoppers as shopper_state
from personalize.events.schema import EventValues, TrackingError, event_kinds, event_values
from personalize.models import Event, EventKind, Shopper

REQUIRED = ("shopper", "product", "kind", "timestamp")
OPTIONAL = ("value", "quantity")
MAX_REPORTED = 1000


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    unknown_products: int = 0
    shoppers_created: int = 0
    # (line number, message); the first MAX_REPORTED problems
    problems: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append((line, message))


class ImportFailed(Exception):
    """A strict import met bad rows: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.skipped} bad row(s); nothing imported")
        self.report = report


class BadHeader(ValueError):
    pass


def parse_timestamp(value: str) -> datetime:
    value = (value or "").strip()
    if not value:
        raise ValueError("timestamp is empty")
    if "-" not in value[1:] and ":" not in value:  # POSIX seconds ("1709300000", "1.7e9")
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    try:  # the usual ISO forms, in C (Django's parser below takes the rest)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None:
        return timezone.make_aware(parsed) if parsed.tzinfo is None else parsed
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        parsed = datetime(day.year, day.month, day.day) if day else None
    if parsed is None:
        raise ValueError(f"“{value[:40]}” is not a date-time")
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@dataclass
class _Row:
    line: int
    shopper: str
    product: str
    kind: str
    when: datetime
    value: str
    quantity: str


def _parse(line: int, values: list[str], columns: dict[str, int], report: ImportReport) -> _Row | None:
    raw = {name: values[index] if index < len(values) else "" for name, index in columns.items()}
    shopper = (raw.get("shopper") or "").strip()
    product = (raw.get("product") or "").strip()
    kind = (raw.get("kind") or "").strip()
    if not shopper:
        report.problem(line, "shopper: empty")
        return None
    if len(shopper) > 100:
        report.problem(line, "shopper: longer than 100 characters")
        return None
    if not product:
        report.problem(line, "product: empty")
        return None
    try:
        when = parse_timestamp(raw.get("timestamp") or "")
    except ValueError as exc:
        report.problem(line, f"timestamp: {exc}")
        return None
    return _Row(line, shopper, product, kind, when, (raw.get("value") or "").strip(), (raw.get("quantity") or "").strip() or "1")


def _shoppers(keys: set[str], report: ImportReport) -> dict[str, int]:
    """``{customer key: shopper pk}``, creating the shoppers not seen before (pks only: a batch
    names thousands of customers and no row needs more)."""
    found: dict[str, int] = {}
    postgres = connections[router.db_for_write(Shopper)].vendor == "postgresql"
    for external_key, pk in _existing_shoppers(keys) if postgres else (
        Shopper.objects.filter(external_key__in=keys).order_by("pk").values_list("external_key", "pk")
    ):
        found.setdefault(external_key, pk)
    missing = [key for key in keys if key not in found]
    if missing and postgres:
        found.update(_create_shoppers(missing))
        report.shoppers_created += len(missing)
    elif missing:
        created = Shopper.objects.bulk_create([Shopper(external_key=key) for key in missing])
        report.shoppers_created += len(missing)
        if all(shopper.pk is not None for shopper in created):  # the database returned the keys
            found.update((shopper.external_key, shopper.pk) for shopper in created)
        else:
            for external_key, pk in Shopper.objects.filter(external_key__in=missing).order_by("pk").values_list("external_key", "pk"):
                found.setdefault(external_key, pk)
    return found


@dataclass
class _Known:
    """What one import already looked up: product keys and customers repeat from batch to batch,
    so each is asked about once (bounded: a huge import starts over rather than grow)."""

    products: dict[str, str] = field(default_factory=dict)
    shoppers: dict[str, int] = field(default_factory=dict)

    def trim(self) -> None:
        for held in (self.products, self.shoppers):
            if len(held) > MAX_KNOWN:
                held.clear()


MAX_KNOWN = 500_000


def _existing_shoppers(external_keys: set[str]) -> list[tuple[str, int]]:
    """PostgreSQL: ``(customer key, pk)`` by ascending pk, with the keys as one array parameter
    (an ``IN`` list of thousands costs more to build than to run)."""
    connection = connections[router.db_for_write(Shopper)]
    quote = connection.ops.quote_name
    external_key, pk = quote(Shopper._meta.get_field("external_key").column), quote(Shopper._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {external_key}, {pk} FROM {quote(Shopper._meta.db_table)} WHERE {external_key} = ANY(%s) ORDER BY {pk}",
            [list(external_keys)],
        )
        return cursor.fetchall()


def _create_shoppers(external_keys: list[str]) -> dict[str, int]:
    """PostgreSQL: one ``INSERT ... SELECT FROM unnest(...) RETURNING`` for thousands of new
    shoppers (two array parameters, not a model instance and ten parameters per row). Every
    other column gets the model's default, read from the model, so a new field needs no change."""
    connection = connections[router.db_for_write(Shopper)]
    quote = connection.ops.quote_name
    template = Shopper()
    others = [f for f in Shopper._meta.concrete_fields if not f.primary_key and f.name not in ("key", "external_key")]
    columns = ", ".join(quote(f.column) for f in (Shopper._meta.get_field("key"), Shopper._meta.get_field("external_key"), *others))
    constants = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in others]
    statement = (
        f"INSERT INTO {quote(Shopper._meta.db_table)} ({columns}) "
        f"SELECT k, e{', %s' * len(others)} FROM unnest(%s::uuid[], %s::text[]) AS t(k, e) "
        f"RETURNING {quote(Shopper._meta.pk.column)}, {quote(Shopper._meta.get_field('external_key').column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*constants, [uuid.uuid4() for _key in external_keys], list(external_keys)])
        return {external_key: pk for pk, external_key in cursor.fetchall()}


def _write(rows: list[_Row], report: ImportReport, known: _Known, *, dry: bool) -> None:
    """Validate one batch against the catalogue and write it (one query per 900 products not
    seen in earlier batches)."""
    known.trim()
    new_keys = {row.product for row in rows if row.product not in known.products}
    if new_keys:
        known.products.update(get_adapter().resolve_keys(new_keys))
    products = known.products
    kinds = event_kinds()
    checked: list[tuple[_Row, str, EventValues]] = []
    for row in rows:
        key = products.get(row.product)
        if key is None:
            report.unknown_products += 1
            report.problem(row.line, f"product: unknown product “{row.product[:64]}”")
            continue
        if row.kind not in kinds:
            report.problem(row.line, str(TrackingError("kind", _("Unknown event kind “%(kind)s”.") % {"kind": row.kind[:40]})))
            continue
        lines = None
        if row.kind == EventKind.PURCHASE:
            price: Any = None
            if row.value:
                try:
                    price = Decimal(row.value) / max(int(row.quantity), 1)
                except Exception:
                    price = row.value  # event_values reports the bad number
            lines = [{"product": key, "quantity": row.quantity, "price": price}]
        try:
            values = event_values(row.kind, key, quantity=row.quantity, value=row.value or None, lines=lines, context=IMPORT_CONTEXT)
        except TrackingError as exc:
            report.problem(row.line, str(exc))
            continue
        checked.append((row, key, values))
    if dry or not checked:
        report.imported += len(checked) if not dry else 0
        return
    wanted = {row.shopper for row, _key, _values in checked}
    unseen = {key for key in wanted if key not in known.shoppers}
    if unseen:
        known.shoppers.update(_shoppers(unseen, report))
    shoppers = {key: known.shoppers[key] for key in wanted}
    if connections[router.db_for_write(Event)].vendor == "postgresql":
        _copy(checked, shoppers)
    else:
        Event.objects.bulk_create(
            [
                Event(shopper_id=shoppers[row.shopper], kind=row.kind, product_key=key, quantity=values.quantity,
                      value=values.value, query=values.query, context=values.context, created_at=row.when)
                for row, key, values in checked
            ],
            batch_size=1000,
        )  # fmt: skip
    # Imported rows send no events_tracked: the shoppers' cached profiles are renewed here
    # (after the commit, so no reader caches the profile without them under the new token).
    pks = list(shoppers.values())
    transaction.on_commit(lambda: shopper_state.bump(pks))
    report.imported += len(checked)


# Columns the importer's COPY fills (``client_id`` stays NULL: imported rows have no browser id).
COPY_FIELDS = ("shopper", "kind", "product_key", "quantity", "value", "query", "order_ref", "context", "created_at")
IMPORT_CONTEXT = {"source": "import"}
IMPORT_CONTEXT_JSON = json.dumps(IMPORT_CONTEXT)


def _copy(checked: list[tuple[_Row, str, EventValues]], shoppers: dict[str, int]) -> None:
    """One PostgreSQL ``COPY ... FROM STDIN`` for the batch (in the caller's transaction)."""
    connection = connections[router.db_for_write(Event)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Event._meta.get_field(name).column) for name in COPY_FIELDS)
    statement = f"COPY {quote(Event._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        write = copy.write_row
        for row, key, values in checked:
            context = values.context
            write((
                shoppers[row.shopper], row.kind, key, values.quantity, values.value, values.query, "",
                IMPORT_CONTEXT_JSON if context == IMPORT_CONTEXT else json.dumps(context), row.when,
            ))  # fmt: skip


def import_events(
    stream: TextIO | Iterable[str],
    *,
    strict: bool = False,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the CSV ``stream``; raises :class:`ImportFailed` (nothing written) when strict
    and any row is bad, :class:`BadHeader` when required columns are missing."""
    reader = csv.reader(stream)
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadHeader(f"missing column(s): {', '.join(missing)} (expected {', '.join(REQUIRED + OPTIONAL)})")
    columns = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    report = ImportReport()
    known = _Known()
    # strict: one transaction, rolled back on any bad row; otherwise one per batch
    with transaction.atomic() if strict else contextlib.nullcontext():
        batch: list[_Row] = []
        for values in reader:
            if not values:  # a blank line is no row (as csv.DictReader has it)
                continue
            report.rows += 1
            row = _parse(reader.line_num, values, columns, report)
            if row is not None:
                batch.append(row)
            if len(batch) >= batch_size:
                _flush(batch, report, strict, known)
                batch = []
                if progress is not None:
                    progress(report.rows)
        _flush(batch, report, strict, known)
        if progress is not None:
            progress(report.rows)
        if strict and report.skipped:
            transaction.set_rollback(True)
            report.imported = 0
            report.shoppers_created = 0
    if strict and report.skipped:
        raise ImportFailed(report)
    return report


def _flush(batch: list[_Row], report: ImportReport, strict: bool, known: _Known) -> None:
    if not batch:
        return
    # once a strict import has a bad row nothing will be kept: only validate the rest
    with transaction.atomic():
        _write(batch, report, known, dry=strict and report.skipped > 0)
