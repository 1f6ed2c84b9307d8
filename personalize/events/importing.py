"""Bulk-loading historical interactions (a store's order history) from CSV.

Columns: ``shopper,product,kind,timestamp`` and optionally ``value,quantity``. ``shopper`` is
the store's own customer key (kept on ``Shopper.external_key``; new shoppers are created),
``product`` a product key checked against the catalogue in bulk, ``timestamp`` an ISO date or
date-time or POSIX seconds. Rows are streamed and written in batches; bad rows and unknown
products are reported with their line numbers and skipped, or, with ``strict``, fail the whole
import with nothing written.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from personalize.adapters import get_adapter
from personalize.caching import shoppers as shopper_state
from personalize.events import TrackingError, build_event
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
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
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


def _parse(line: int, raw: dict[str, Any], report: ImportReport) -> _Row | None:
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


def _shoppers(keys: set[str], report: ImportReport) -> dict[str, Shopper]:
    found: dict[str, Shopper] = {}
    for shopper in Shopper.objects.filter(external_key__in=keys).order_by("pk"):
        found.setdefault(shopper.external_key, shopper)
    missing = [key for key in keys if key not in found]
    if missing:
        Shopper.objects.bulk_create([Shopper(external_key=key) for key in missing])
        report.shoppers_created += len(missing)
        for shopper in Shopper.objects.filter(external_key__in=missing).order_by("pk"):
            found.setdefault(shopper.external_key, shopper)
    return found


def _write(rows: list[_Row], report: ImportReport, *, dry: bool) -> None:
    """Validate one batch against the catalogue and write it (one query per 900 products)."""
    products = get_adapter().resolve_keys({row.product for row in rows})
    placeholder = Shopper()
    events: list[tuple[_Row, Event]] = []
    for row in rows:
        key = products.get(row.product)
        if key is None:
            report.unknown_products += 1
            report.problem(row.line, f"product: unknown product “{row.product[:64]}”")
            continue
        lines = None
        if row.kind == EventKind.PURCHASE:
            price = None
            if row.value:
                try:
                    price = Decimal(row.value) / max(int(row.quantity), 1)
                except Exception:
                    price = row.value  # build_event reports the bad number
            lines = [{"product": key, "quantity": row.quantity, "price": price}]
        try:
            event = build_event(
                placeholder, row.kind, product=key, quantity=row.quantity, value=row.value or None,
                lines=lines, context={"source": "import"}, created_at=row.when,
            )
        except TrackingError as exc:
            report.problem(row.line, str(exc))
            continue
        events.append((row, event))
    if dry or not events:
        report.imported += len(events) if not dry else 0
        return
    shoppers = _shoppers({row.shopper for row, _event in events}, report)
    for row, event in events:
        event.shopper = shoppers[row.shopper]
    Event.objects.bulk_create([event for _row, event in events], batch_size=1000)
    # Imported rows send no events_tracked: the shoppers' cached profiles are renewed here
    # (after the commit, so no reader caches the profile without them under the new token).
    pks = [shopper.pk for shopper in shoppers.values()]
    transaction.on_commit(lambda: shopper_state.bump(pks))
    report.imported += len(events)


def import_events(
    stream: TextIO | Iterable[str],
    *,
    strict: bool = False,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the CSV ``stream``; raises :class:`ImportFailed` (nothing written) when strict
    and any row is bad, :class:`BadHeader` when required columns are missing."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadHeader(f"missing column(s): {', '.join(missing)} (expected {', '.join(REQUIRED + OPTIONAL)})")
    reader.fieldnames = header
    report = ImportReport()
    # strict: one transaction, rolled back on any bad row; otherwise one per batch
    with transaction.atomic() if strict else contextlib.nullcontext():
        batch: list[_Row] = []
        for raw in reader:
            report.rows += 1
            row = _parse(reader.line_num, raw, report)
            if row is not None:
                batch.append(row)
            if len(batch) >= batch_size:
                _flush(batch, report, strict)
                batch = []
                if progress is not None:
                    progress(report.rows)
        _flush(batch, report, strict)
        if progress is not None:
            progress(report.rows)
        if strict and report.skipped:
            transaction.set_rollback(True)
            report.imported = 0
            report.shoppers_created = 0
    if strict and report.skipped:
        raise ImportFailed(report)
    return report


def _flush(batch: list[_Row], report: ImportReport, strict: bool) -> None:
    if not batch:
        return
    # once a strict import has a bad row nothing will be kept: only validate the rest
    with transaction.atomic():
        _write(batch, report, dry=strict and report.skipped > 0)
