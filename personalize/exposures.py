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

A first visit's shopper row waits here too (``identity.ensure_shopper(defer=True)``): a page that
only shows a campaign writes nothing; the flush inserts the new rows (``ON CONFLICT DO NOTHING``:
a worker that saw the same browser, or a later event of the request, may have made it), then
resolves every entry's shopper by its cookie key in one query. Entries are keyed by that key, so
a first visit's second page (before the flush) finds its first page's exposure and contact.
A browser that withdraws consent or erases its data in that time (:func:`forget`) leaves a
marker in the cache for an hour that stops any worker's flush from writing its row.

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
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections, router, transaction

from personalize.batching import chunked
from personalize.caching import cache
from personalize.conf import personalize_settings as ps
from personalize.models import Campaign, CampaignAssignment, Contact, Shopper

logger = logging.getLogger("personalize")

# Rows per statement: 9 parameters each, under SQLite's 999-variable limit.
ROWS_PER_STATEMENT = 100
COLUMNS = ("campaign", "shopper", "arm", "first_seen", "last_seen", "impressions", "clicks", "window_start",
           "window_impressions")
# A forgotten browser's marker (:func:`forget`): long enough to outlive a failed flush's retries.
FORGOTTEN_PREFIX = "personalize:exposures:forgotten:"
FORGOTTEN_SECONDS = 3600


@dataclass
class Exposure:
    """What one process saw of one shopper in one campaign since its last flush."""

    campaign_id: int
    shopper_id: int | None  # None until the flush resolves ``shopper_key`` (a first visit's row)
    arm: str
    first_seen: datetime
    last_seen: datetime
    impressions: int = 0
    clicks: int = 0
    # The frequency cap's window: a later start than the row's replaces the row's window.
    window_start: datetime | None = None
    window_impressions: int = 0
    shopper_key: uuid.UUID | None = None

    def merge(self, other: Exposure) -> None:
        """Add ``other`` (the same campaign and shopper, gathered apart) to this entry."""
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.impressions += other.impressions
        self.clicks += other.clicks
        # The frequency window that started last is the row's; two entries of one window add up.
        mine, theirs = self.window_start or self.first_seen, other.window_start or other.first_seen
        if theirs > mine:
            self.window_start, self.window_impressions = theirs, other.window_impressions
        elif theirs == mine:
            self.window_impressions += other.window_impressions


@dataclass
class PendingContact:
    shopper_key: uuid.UUID
    channel: str
    source: str
    created_at: datetime


def _new_row(shopper: Shopper) -> Shopper:
    """A copy of a first visit's unsaved shopper for the flush's insert (the request keeps its own)."""
    return Shopper(**{f.attname: getattr(shopper, f.attname) for f in Shopper._meta.concrete_fields if not f.primary_key})


class Buffer:
    """One process's exposures and contacts (thread-safe)."""

    def __init__(self, *, timed: bool = False) -> None:
        # ``timed``: the process's own buffer, flushed by a timer when no request comes.
        self.timed = timed
        self.lock = threading.Lock()
        self.exposures: dict[tuple[int, uuid.UUID], Exposure] = {}
        self.contacts: list[PendingContact] = []
        self.shoppers: dict[uuid.UUID, Shopper] = {}  # first visits' rows, written by the flush
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

    def _hold(self, shopper: Shopper) -> None:
        if shopper.pk is None and shopper.key not in self.shoppers:
            self.shoppers[shopper.key] = _new_row(shopper)

    def add_exposure(
        self, campaign_id: int, shopper: Shopper, arm: str, now: datetime, *, shown: int, clicks: int = 0,
        window_start: datetime | None = None, window_reset: bool = False,
    ) -> None:
        with self.lock:
            self._started()
            self._hold(shopper)
            entry = self.exposures.get((campaign_id, shopper.key))
            if entry is None:
                entry = self.exposures[(campaign_id, shopper.key)] = Exposure(
                    campaign_id, shopper.pk, arm, now, now, window_start=window_start or now, shopper_key=shopper.key
                )
            entry.last_seen = max(entry.last_seen, now)
            entry.impressions += shown
            entry.clicks += clicks
            if window_reset:
                entry.window_start, entry.window_impressions = now, shown
            else:
                entry.window_impressions += shown

    def add_contact(self, shopper: Shopper, channel: str, source: str, now: datetime) -> None:
        with self.lock:
            self._started()
            self._hold(shopper)
            self.contacts.append(PendingContact(shopper.key, channel, source[:100], now))

    def _holds_nothing_of(self, shopper: Shopper) -> bool:
        # An unsaved shopper's entries exist only with its row held here: no scan for the rest.
        return shopper.pk is None and shopper.key not in self.shoppers

    def contacted_since(self, shopper: Shopper, since: datetime) -> bool:
        if self._holds_nothing_of(shopper):
            return False
        with self.lock:
            return any(c.shopper_key == shopper.key and c.created_at >= since for c in self.contacts)

    def of_shopper(self, shopper: Shopper) -> list[Exposure]:
        if self._holds_nothing_of(shopper):
            return []
        with self.lock:
            return [e for (_c, key), e in self.exposures.items() if key == shopper.key]

    def forget(self, key: uuid.UUID) -> None:
        """Drop everything held of the shopper with ``key`` (erased, or consent withdrawn)."""
        with self.lock:
            self.exposures = {k: e for k, e in self.exposures.items() if k[1] != key}
            self.contacts = [c for c in self.contacts if c.shopper_key != key]
            self.shoppers.pop(key, None)

    def take(self) -> tuple[list[Exposure], list[PendingContact], dict[uuid.UUID, Shopper]]:
        with self.lock:
            exposures, contacts, shoppers = list(self.exposures.values()), self.contacts, self.shoppers
            self.exposures, self.contacts, self.shoppers, self.oldest = {}, [], {}, None
            timer, self.timer = self.timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        return exposures, contacts, shoppers

    def put_back(
        self, exposures: list[Exposure], contacts: list[PendingContact], shoppers: dict[uuid.UUID, Shopper] | None = None,
    ) -> None:
        """A failed flush: keep its entries for the next one, within twice the maximum."""
        with self.lock:
            self._started()
            for entry in exposures:
                kept = self.exposures.get((entry.campaign_id, entry.shopper_key))
                if kept is None:
                    self.exposures[(entry.campaign_id, entry.shopper_key)] = entry
                else:
                    kept.merge(entry)
            self.contacts = contacts + self.contacts
            for key, row in (shoppers or {}).items():
                self.shoppers.setdefault(key, row)
            limit = 2 * max(1, int(ps.CAMPAIGN_EXPOSURE_BUFFER_MAX))
            while len(self.exposures) > limit:
                self.exposures.pop(next(iter(self.exposures)))
                self.dropped += 1
            if len(self.contacts) > limit:
                self.dropped += len(self.contacts) - limit
                self.contacts = self.contacts[-limit:]
            held = {key for _c, key in self.exposures} | {c.shopper_key for c in self.contacts}
            self.shoppers = {key: row for key, row in self.shoppers.items() if key in held}

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
    campaign_id: int, shopper: Shopper, arm: str, now: datetime, *, shown: int, clicks: int = 0,
    window_start: datetime | None = None, window_reset: bool = False,
) -> None:
    """Count one exposure (``shown``: 1 for an impression, 0 for the control) of a shopper
    (saved, or a first visit's row deferred to the flush)."""
    BUFFER.add_exposure(
        campaign_id, shopper, arm, now, shown=shown, clicks=clicks, window_start=window_start,
        window_reset=window_reset,
    )
    _flush_if_full()


def record_contact(shopper: Shopper, channel: str, source: str, now: datetime) -> None:
    """Remember that an offer reached a shopper (written with the next flush)."""
    BUFFER.add_contact(shopper, channel, source, now)
    _flush_if_full()


def _flush_if_full() -> None:
    if float(ps.CAMPAIGN_EXPOSURE_FLUSH_SECONDS) <= 0 or len(BUFFER) >= int(ps.CAMPAIGN_EXPOSURE_BUFFER_MAX):
        flush()


def flush_if_due(**_kwargs: Any) -> None:
    """Flush when the oldest entry is old enough or the buffer is full (``request_finished``)."""
    if BUFFER.due():
        flush()


def flush(buffer: Buffer | None = None) -> int:
    """Write the process's buffer (or ``buffer``): first visits' shopper rows in one insert, one
    upsert per :data:`ROWS_PER_STATEMENT` assignments, one insert of contacts. Returns the number
    of entries written (0 if the database failed: the entries are kept for the next flush)."""
    buffer = BUFFER if buffer is None else buffer
    exposures, contacts, shoppers = buffer.take()
    if not exposures and not contacts:
        return 0
    try:
        with transaction.atomic(using=router.db_for_write(CampaignAssignment)):
            written = _write(exposures, contacts, shoppers)
    except DatabaseError:
        logger.warning("personalize: could not write %d campaign exposures; kept for the next flush",
                       len(exposures) + len(contacts), exc_info=True)
        buffer.put_back(exposures, contacts, shoppers)
        return 0
    return written


def _write(exposures: list[Exposure], contacts: list[PendingContact], shoppers: dict[uuid.UUID, Shopper]) -> int:
    _insert_new(shoppers)
    # Every entry's shopper by its key: erased shoppers (and deleted campaigns) since the page
    # have no row, and their counts go with them.
    ids = _ids_of({e.shopper_key for e in exposures} | {c.shopper_key for c in contacts})
    campaign_ids = {e.campaign_id for e in exposures}
    campaigns = set(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", flat=True)) if campaign_ids else set()
    rows = [e for e in exposures if e.shopper_key in ids and e.campaign_id in campaigns]
    for entry in rows:
        entry.shopper_id = ids[entry.shopper_key]
    # In key order: two processes flushing assignments they share lock them in the same order
    # (in any other order their multi-row upserts can deadlock).
    rows.sort(key=lambda e: (e.campaign_id, e.shopper_id))
    for batch in chunked(rows, ROWS_PER_STATEMENT):
        upsert(batch)
    kept = [c for c in contacts if c.shopper_key in ids]
    Contact.objects.bulk_create(
        [Contact(shopper_id=ids[c.shopper_key], channel=c.channel, source=c.source, created_at=c.created_at) for c in kept]
    )
    return len(rows) + len(kept)


def _insert_new(shoppers: dict[uuid.UUID, Shopper]) -> None:
    """First visits' rows, but none of a browser forgotten since (another worker's marker); a
    row another worker or the request itself wrote meanwhile stays as it is."""
    if not shoppers:
        return
    names = {FORGOTTEN_PREFIX + key.hex: key for key in shoppers}
    forgotten = {names[name] for name in cache().get_many(list(names))}
    # In key order, as the assignments below: two workers' inserts of one browser cannot deadlock.
    rows = [row for key, row in sorted(shoppers.items()) if key not in forgotten]
    Shopper.objects.bulk_create(rows, batch_size=ROWS_PER_STATEMENT, ignore_conflicts=True)


def _ids_of(keys: set[uuid.UUID | None]) -> dict[uuid.UUID, int]:
    ids: dict[uuid.UUID, int] = {}
    for batch in chunked(sorted(key for key in keys if key is not None)):
        ids.update(Shopper.objects.filter(key__in=batch).values_list("key", "pk"))
    return ids


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


def pending_exposures(shopper: Shopper) -> list[Exposure]:
    """This process's not yet written exposures of one shopper (checkout reads them)."""
    return BUFFER.of_shopper(shopper)


def contacted_since(shopper: Shopper, since: datetime) -> bool:
    """Whether this process holds an unwritten contact of the shopper since ``since``."""
    return BUFFER.contacted_since(shopper, since)


def forget(key: uuid.UUID) -> None:
    """A browser erased or without consent: drop what this process holds of it, and mark it so
    no other worker's flush writes a first visit's row for it."""
    BUFFER.forget(key)
    cache().set(FORGOTTEN_PREFIX + key.hex, 1, FORGOTTEN_SECONDS)


def reset() -> None:
    """Forget the buffer without writing it (tests: ``personalize.testing.reset_state``)."""
    BUFFER.take()
    BUFFER.dropped = 0
