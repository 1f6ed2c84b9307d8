"""Campaign exposures and offer contacts, counted in the process and written in one statement.

A page that shows a campaign (or would have, for its control group) used to write a row per page:
the assignment's INSERT on a first visit, an impression UPDATE on every later page, a fatigue
``Contact``. Pages now only add to this buffer (a dict keyed by campaign and shopper: a few
microseconds); :func:`flush` writes everything gathered in one ``INSERT ... ON CONFLICT DO
UPDATE`` (per 100 assignments) that *adds* the counts, plus one ``bulk_create`` of contacts. Two
workers (or two hosts) each flush their own deltas, so nothing is counted twice; a buffer is
swapped out under a lock before it is written, so one process flushes an entry exactly once.

When it flushes: at the end of a request once the oldest entry is
``CAMPAIGN_EXPOSURE_FLUSH_SECONDS`` old (``request_finished``, after the response is sent), by
a daemon timer that interval after the first entry when no request came (an idle worker), as
soon as it holds ``CAMPAIGN_EXPOSURE_BUFFER_MAX`` entries, at process exit (``atexit``: a
gunicorn worker's graceful stop or ``max_requests`` restart), and before anything reads the rows
(checkout, a click, campaign results). A Celery beat job cannot do this: each buffer lives in its
web process. ``CAMPAIGN_EXPOSURE_FLUSH_SECONDS = 0`` writes every
exposure at once (the old cost, no buffer).

Loss policy (bounded): a process killed without a graceful exit (SIGKILL, OOM, a hard timeout)
loses what it gathered since its last flush: at most ``CAMPAIGN_EXPOSURE_FLUSH_SECONDS`` of its
exposures and never more than ``CAMPAIGN_EXPOSURE_BUFFER_MAX`` entries. A failed flush (database
down) keeps its entries for the next one; past twice the maximum the oldest are dropped and
logged. Exposures are counts for results and caps, never acknowledged events: events, clicks,
codes and redemptions are written at once as before.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections, router, transaction

from personalize.batching import chunked
from personalize.conf import personalize_settings as ps
from personalize.models import Campaign, CampaignAssignment, Contact, Shopper

logger = logging.getLogger("personalize")

# Rows per statement: 9 parameters each, under SQLite's 999-variable limit.
ROWS_PER_STATEMENT = 100
COLUMNS = ("campaign", "shopper", "arm", "first_seen", "last_seen", "impressions", "clicks", "window_start",
           "window_impressions")


@dataclass
class Exposure:
    """What one process saw of one shopper in one campaign since its last flush."""

    campaign_id: int
    shopper_id: int
    arm: str
    first_seen: datetime
    last_seen: datetime
    impressions: int = 0
    clicks: int = 0
    # The frequency cap's window: a later start than the row's replaces the row's window.
    window_start: datetime | None = None
    window_impressions: int = 0


@dataclass
class PendingContact:
    shopper_id: int
    channel: str
    source: str
    created_at: datetime


class Buffer:
    """One process's exposures and contacts (thread-safe)."""

    def __init__(self, *, timed: bool = False) -> None:
        # ``timed``: the process's own buffer, flushed by a timer when no request comes.
        self.timed = timed
        self.lock = threading.Lock()
        self.exposures: dict[tuple[int, int], Exposure] = {}
        self.contacts: list[PendingContact] = []
        self.oldest: float | None = None
        self.dropped = 0
        self.timer: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self.exposures) + len(self.contacts)

    def _started(self) -> None:
        if self.oldest is None:
            self.oldest = time.monotonic()
        if self.timed and self.timer is None:
            self.timer = _start_timer()

    def add_exposure(
        self, campaign_id: int, shopper_id: int, arm: str, now: datetime, *, shown: int, clicks: int = 0,
        window_start: datetime | None = None, window_reset: bool = False,
    ) -> None:
        with self.lock:
            self._started()
            entry = self.exposures.get((campaign_id, shopper_id))
            if entry is None:
                entry = self.exposures[(campaign_id, shopper_id)] = Exposure(
                    campaign_id, shopper_id, arm, now, now, window_start=window_start or now
                )
            entry.last_seen = max(entry.last_seen, now)
            entry.impressions += shown
            entry.clicks += clicks
            if window_reset:
                entry.window_start, entry.window_impressions = now, shown
            else:
                entry.window_impressions += shown

    def add_contact(self, shopper_id: int, channel: str, source: str, now: datetime) -> None:
        with self.lock:
            self._started()
            self.contacts.append(PendingContact(shopper_id, channel, source[:100], now))

    def contacted_since(self, shopper_id: int, since: datetime) -> bool:
        with self.lock:
            return any(c.shopper_id == shopper_id and c.created_at >= since for c in self.contacts)

    def of_shopper(self, shopper_id: int) -> list[Exposure]:
        with self.lock:
            return [e for (_c, s), e in self.exposures.items() if s == shopper_id]

    def take(self) -> tuple[list[Exposure], list[PendingContact]]:
        with self.lock:
            exposures, contacts = list(self.exposures.values()), self.contacts
            self.exposures, self.contacts, self.oldest = {}, [], None
            timer, self.timer = self.timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        return exposures, contacts

    def put_back(self, exposures: list[Exposure], contacts: list[PendingContact]) -> None:
        """A failed flush: keep its entries for the next one, within twice the maximum."""
        with self.lock:
            self._started()
            for entry in exposures:
                kept = self.exposures.get((entry.campaign_id, entry.shopper_id))
                if kept is None:
                    self.exposures[(entry.campaign_id, entry.shopper_id)] = entry
                    continue
                kept.first_seen = min(kept.first_seen, entry.first_seen)
                kept.impressions += entry.impressions
                kept.clicks += entry.clicks
                if entry.window_start and kept.window_start and entry.window_start >= kept.window_start:
                    kept.window_impressions += entry.window_impressions
            self.contacts = contacts + self.contacts
            limit = 2 * max(1, int(ps.CAMPAIGN_EXPOSURE_BUFFER_MAX))
            while len(self.exposures) > limit:
                self.exposures.pop(next(iter(self.exposures)))
                self.dropped += 1
            if len(self.contacts) > limit:
                self.dropped += len(self.contacts) - limit
                self.contacts = self.contacts[-limit:]

    def due(self) -> bool:
        if self.oldest is None:
            return False
        if len(self) >= int(ps.CAMPAIGN_EXPOSURE_BUFFER_MAX):
            return True
        return time.monotonic() - self.oldest >= float(ps.CAMPAIGN_EXPOSURE_FLUSH_SECONDS)


def _start_timer() -> threading.Timer | None:
    """The periodic flush of an idle process: a daemon timer one interval after the first entry
    (a busy process flushes at a request's end first, which cancels it)."""
    seconds = float(ps.CAMPAIGN_EXPOSURE_FLUSH_SECONDS)
    if seconds <= 0:
        return None
    timer = threading.Timer(seconds, _timed_flush)
    timer.daemon = True
    timer.start()
    return timer


def _timed_flush() -> None:
    try:
        flush()
    finally:
        connections.close_all()  # this thread's own connections


BUFFER = Buffer(timed=True)


def record_exposure(
    campaign_id: int, shopper_id: int, arm: str, now: datetime, *, shown: int, clicks: int = 0,
    window_start: datetime | None = None, window_reset: bool = False,
) -> None:
    """Count one exposure (``shown``: 1 for an impression, 0 for the control) of a saved shopper."""
    BUFFER.add_exposure(
        campaign_id, shopper_id, arm, now, shown=shown, clicks=clicks, window_start=window_start,
        window_reset=window_reset,
    )
    _flush_if_full()


def record_contact(shopper_id: int, channel: str, source: str, now: datetime) -> None:
    """Remember that an offer reached a saved shopper (written with the next flush)."""
    BUFFER.add_contact(shopper_id, channel, source, now)
    _flush_if_full()


def _flush_if_full() -> None:
    if float(ps.CAMPAIGN_EXPOSURE_FLUSH_SECONDS) <= 0 or len(BUFFER) >= int(ps.CAMPAIGN_EXPOSURE_BUFFER_MAX):
        flush()


def flush_if_due(**_kwargs: Any) -> None:
    """Flush when the oldest entry is old enough or the buffer is full (``request_finished``)."""
    if BUFFER.due():
        flush()


def flush(buffer: Buffer | None = None) -> int:
    """Write the process's buffer (or ``buffer``): one upsert per :data:`ROWS_PER_STATEMENT`
    assignments, one insert of contacts. Returns the number of entries written (0 if the
    database failed: the entries are kept for the next flush)."""
    buffer = BUFFER if buffer is None else buffer
    exposures, contacts = buffer.take()
    if not exposures and not contacts:
        return 0
    try:
        with transaction.atomic(using=router.db_for_write(CampaignAssignment)):
            written = _write(exposures, contacts)
    except DatabaseError:
        logger.warning("personalize: could not write %d campaign exposures; kept for the next flush",
                       len(exposures) + len(contacts), exc_info=True)
        buffer.put_back(exposures, contacts)
        return 0
    return written


def _write(exposures: list[Exposure], contacts: list[PendingContact]) -> int:
    shopper_ids = {e.shopper_id for e in exposures} | {c.shopper_id for c in contacts}
    # Shoppers erased (or campaigns deleted) since the page: their counts go with them.
    alive: set[int] = set()
    for batch in chunked(sorted(shopper_ids)):
        alive.update(Shopper.objects.filter(pk__in=batch).values_list("pk", flat=True))
    campaign_ids = {e.campaign_id for e in exposures}
    campaigns = set(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", flat=True)) if campaign_ids else set()
    # In key order: two processes flushing assignments they share lock them in the same order
    # (in any other order their multi-row upserts can deadlock).
    rows = sorted(
        (e for e in exposures if e.shopper_id in alive and e.campaign_id in campaigns),
        key=lambda e: (e.campaign_id, e.shopper_id),
    )
    for batch in chunked(rows, ROWS_PER_STATEMENT):
        upsert(batch)
    kept = [c for c in contacts if c.shopper_id in alive]
    Contact.objects.bulk_create(
        [Contact(shopper_id=c.shopper_id, channel=c.channel, source=c.source, created_at=c.created_at) for c in kept]
    )
    return len(rows) + len(kept)


def upsert(rows: list[Exposure]) -> None:
    """Add ``rows`` to their assignments in one statement (creating the missing ones; the arm of
    an existing assignment stays: arms are sticky)."""
    if not rows:
        return
    connection = connections[router.db_for_write(CampaignAssignment)]
    fields = {f.name: f for f in CampaignAssignment._meta.concrete_fields}
    names = COLUMNS
    params: list[Any] = []
    for row in rows:
        values = (row.campaign_id, row.shopper_id, row.arm, row.first_seen, row.last_seen, row.impressions,
                  row.clicks, row.window_start or row.first_seen, row.window_impressions)
        params.extend(fields[name].get_db_prep_save(value, connection) for name, value in zip(names, values))
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(connection.alias, len(rows)), params)


def _upsert_sql(alias: str, count: int) -> str:
    connection = connections[alias]
    q = connection.ops.quote_name
    meta = CampaignAssignment._meta
    table = q(meta.db_table)
    col = {f.name: q(f.column) for f in meta.concrete_fields}
    names = COLUMNS
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * count)

    def old(name: str) -> str:
        return f"{table}.{col[name]}"

    def new(name: str) -> str:
        return f"EXCLUDED.{col[name]}"

    reset = f"{new('window_start')} > {old('window_start')}"
    return (
        f"INSERT INTO {table} ({', '.join(col[n] for n in names)}) VALUES {values} "
        f"ON CONFLICT ({col['campaign']}, {col['shopper']}) DO UPDATE SET "
        f"{col['first_seen']} = CASE WHEN {new('first_seen')} < {old('first_seen')} THEN {new('first_seen')} ELSE {old('first_seen')} END, "
        f"{col['last_seen']} = CASE WHEN {new('last_seen')} > {old('last_seen')} THEN {new('last_seen')} ELSE {old('last_seen')} END, "
        f"{col['impressions']} = {old('impressions')} + {new('impressions')}, "
        f"{col['clicks']} = {old('clicks')} + {new('clicks')}, "
        f"{col['window_impressions']} = CASE WHEN {reset} THEN {new('window_impressions')} "
        f"ELSE {old('window_impressions')} + {new('window_impressions')} END, "
        f"{col['window_start']} = CASE WHEN {reset} THEN {new('window_start')} ELSE {old('window_start')} END"
    )


def pending_exposures(shopper_id: int) -> list[Exposure]:
    """This process's not yet written exposures of one shopper (checkout reads them)."""
    return BUFFER.of_shopper(shopper_id)


def contacted_since(shopper_id: int, since: datetime) -> bool:
    """Whether this process holds an unwritten contact of the shopper since ``since``."""
    return BUFFER.contacted_since(shopper_id, since)


def reset() -> None:
    """Forget the buffer without writing it (tests: ``personalize.testing.reset_state``)."""
    BUFFER.take()
    BUFFER.dropped = 0
