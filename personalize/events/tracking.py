"""Recording what shoppers do: the Python API behind ``personalize.track`` and the beacon.

:func:`track` and :func:`update_cart` never raise: personalisation must not break a store's
view. Validation is :mod:`personalize.events.schema`'s.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import connections, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from personalize import identity, signals
from personalize.batching import MAX_SQL_PARAMS
from personalize.caching import shoppers as shopper_state
from personalize.conf import personalize_settings as ps
from personalize.events.cart import apply_to_cart
from personalize.events.context import request_context
from personalize.events.schema import build_event
from personalize.models import PROFILE_KINDS, Event, EventKind

logger = logging.getLogger("personalize")


def track(request: HttpRequest, kind: str, product: Any = None, **fields: Any) -> Event | None:
    """Record one event for the request's shopper; returns it, or ``None`` (logged) on failure.

    ``fields``: ``quantity``, ``value``, ``query``, ``lines`` (for purchases), ``order_ref``,
    ``placement`` and any extra ``context``.
    """
    if not ps.TRACKING_ENABLED:
        return None
    try:
        shopper = identity.ensure_shopper(request)
        if shopper is None:
            return None
        context = {**request_context(request), **fields.pop("context", {})}
        placement = fields.pop("placement", None)
        if placement:
            context["placement"] = str(placement)[:64]
        event = build_event(shopper, kind, product=product, context=context, **fields)
        saved = save_events([event], request=request)[0]
        _remember(request, saved)
        return saved
    except Exception:
        logger.exception("personalize: could not track %r", kind)
        return None


# The events track() stored for a request: its page's profile shows them at once, even inside a
# transaction that has not committed them yet (ATOMIC_REQUESTS).
TRACKED_ATTR = "_personalize_tracked"


def _remember(request: HttpRequest, event: Event) -> None:
    request = getattr(request, "_request", request)  # a DRF request
    try:
        getattr(request, TRACKED_ATTR).append(event)
    except AttributeError:
        try:
            setattr(request, TRACKED_ATTR, [event])
        except AttributeError:  # an object that takes no attributes
            pass


def tracked_events(request: Any) -> list[Event]:
    """The events :func:`track` stored for ``request`` (oldest first)."""
    return list(getattr(getattr(request, "_request", request), TRACKED_ATTR, ()))


# Kinds that change the cart snapshot: a batch holding one needs a transaction around its insert.
CART_KINDS = frozenset({EventKind.ADD_TO_CART, EventKind.REMOVE_FROM_CART, EventKind.PURCHASE})
# What one multi-row insert writes (the primary key comes back from the database).
INSERT_FIELDS = ("shopper", "kind", "product_key", "quantity", "value", "query", "order_ref", "context", "created_at", "client_id")


def save_events(events: list[Event], *, request: HttpRequest | None = None, ignore_conflicts: bool = False) -> list[Event]:
    """Store validated events (all or nothing) and keep cart snapshots in step; returns the stored ones.

    ``ignore_conflicts``: an event whose ``client_id`` is already stored (a retried batch, or a
    concurrent retry that won the race) is skipped, and left out of the result where the
    database says which rows it wrote (PostgreSQL, SQLite: :func:`insert_events`).

    The receivers of ``event_tracked`` (one call per event) and ``events_tracked`` (one per
    batch) run after the commit, each on its own: a failing receiver (a cache outage, a bug in a
    store's listener) is logged and can never undo the write. Inside a caller's transaction
    they run when that commits, so nothing acts on events that were rolled back.
    """
    fast = fast_insert_supported()
    in_transaction = connections[router.db_for_write(Event)].in_atomic_block
    if fast and not any(event.kind in CART_KINDS for event in events):
        # One statement is atomic on its own: no BEGIN/COMMIT round trips of an explicit transaction.
        saved = insert_events(events)
        transaction.on_commit(lambda: notify_tracked(saved, request))
    else:
        saved = _save_with_cart(events, request, fast=fast, ignore_conflicts=ignore_conflicts)
    if in_transaction:
        # A caller's transaction (ATOMIC_REQUESTS, a test case) may serve more pages before it
        # commits: the shoppers' cached profiles are told now too, not only by the receivers.
        shopper_state.events_added((e.shopper_id, e.created_at) for e in saved if e.kind in PROFILE_KINDS)
    return saved


def _save_with_cart(events: list[Event], request: HttpRequest | None, *, fast: bool, ignore_conflicts: bool) -> list[Event]:
    with transaction.atomic():
        if fast:
            saved = insert_events(events)
        else:
            # ignore_conflicts: rows whose client_id a concurrent retry stored first are skipped.
            saved = Event.objects.bulk_create(events, ignore_conflicts=ignore_conflicts)
        for event in saved:
            apply_to_cart(event, request)
        transaction.on_commit(lambda: notify_tracked(saved, request))
    return saved


def fast_insert_supported() -> bool:
    """Whether the database answers ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL,
    SQLite 3.35+): one statement stores a batch and says which rows it wrote."""
    connection = connections[router.db_for_write(Event)]
    return connection.vendor in ("postgresql", "sqlite") and connection.features.can_return_rows_from_bulk_insert


def insert_events(events: list[Event]) -> list[Event]:
    """Store ``events`` with one multi-row ``INSERT`` (per chunk the database allows) that skips
    client ids already stored; returns the stored events, with their primary keys.

    The values go through the backend's own adapters (as the ORM's insert does), without the
    ORM's per-field compilation, which cost more than the database's work for a beacon batch.
    """
    if not events:
        return []
    connection = connections[router.db_for_write(Event)]
    ops = connection.ops
    fields = [Event._meta.get_field(name) for name in INSERT_FIELDS]
    value_field = Event._meta.get_field("value")
    stored: list[Event] = []
    size = max(1, MAX_SQL_PARAMS // len(fields))  # SQLite's bound-parameter limit; a beacon batch is one statement
    with connection.cursor() as cursor:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            params: list[Any] = []
            for event in chunk:
                if event.created_at is None:
                    event.created_at = timezone.now()
                value = event.value
                params += (
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
            cursor.execute(_insert_sql(connection.vendor, len(chunk)), params)
            stored += _match_returned(chunk, cursor.fetchall(), connection.alias)
    return stored


@functools.lru_cache(maxsize=128)
def _insert_sql(vendor: str, rows: int) -> str:
    connection = connections[router.db_for_write(Event)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Event._meta.get_field(name).column) for name in INSERT_FIELDS)
    row = "(" + ", ".join(["%s"] * len(INSERT_FIELDS)) + ")"
    pk, client_id = quote(Event._meta.pk.column), quote(Event._meta.get_field("client_id").column)
    return (
        f"INSERT INTO {quote(Event._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "
        f"ON CONFLICT ({client_id}) DO NOTHING RETURNING {pk}, {client_id}"
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


def notify_tracked(events: list[Event], request: HttpRequest | None = None) -> None:
    """Send ``event_tracked`` per event and ``events_tracked`` once; failures are logged."""
    results = []
    for event in events:
        results += signals.event_tracked.send_robust(sender=Event, event=event, request=request)
    if events:
        results += signals.events_tracked.send_robust(sender=Event, events=events, request=request)
    log_failed_receivers(results, "event_tracked")


def log_failed_receivers(results: list[tuple[Any, Any]], signal: str) -> None:
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error(
                "personalize: a %s receiver failed (%s); the event is stored", signal,
                getattr(receiver, "__qualname__", receiver), exc_info=result,
            )


def track_for(who: Any, kind: str, product: Any = None, **fields: Any) -> Event | None:
    """Record one event without a request: for webhooks, payment callbacks, staff orders and
    imports that know the customer but have no browser. Never raises (logged, ``None``).

    ``who``: a user, a :class:`~personalize.models.Shopper` or an email address (see
    :func:`personalize.identity.shopper_for`); ``fields`` as for :func:`track` (``created_at``
    too, for something that happened earlier). A purchase empties the shopper's cart snapshot.
    """
    if not ps.TRACKING_ENABLED:
        return None
    try:
        shopper = identity.shopper_for(who)
        if shopper is None:
            logger.warning("personalize: track_for(%r) names no shopper; %r not recorded", type(who).__name__, kind)
            return None
        context = dict(fields.pop("context", {}) or {})
        context.setdefault("source", "server")
        placement = fields.pop("placement", None)
        if placement:
            context["placement"] = str(placement)[:64]
        event = build_event(shopper, kind, product=product, context=context, **fields)
        return save_events([event])[0]
    except Exception:
        logger.exception("personalize: could not track %r without a request", kind)
        return None


