"""Recording what shoppers do: the Python API behind ``personalize.track`` and the beacon.

:func:`track` and :func:`update_cart` never raise: personalisation must not break a store's
view. Validation is :mod:`personalize.events.schema`'s.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections, router, transaction
from django.http import HttpRequest

from personalize import identity, signals
from personalize.caching import shoppers as shopper_state
from personalize.conf import personalize_settings as ps
from personalize.events.cart import apply_to_cart
from personalize.events.context import request_context
from personalize.events.schema import build_event
from personalize.events.writing import fast_insert_supported, insert_events
from personalize.identity.remembered import ShopperGuard
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


def save_events(
    events: list[Event], *, request: HttpRequest | None = None, ignore_conflicts: bool = False, guard: ShopperGuard | None = None
) -> list[Event]:
    """Store validated events (all or nothing) and keep cart snapshots in step; returns the stored ones.

    ``ignore_conflicts``: an event whose ``client_id`` is already stored (a retried batch, or a
    concurrent retry that won the race) is skipped, and left out of the result where the
    database says which rows it wrote (PostgreSQL, SQLite: :func:`insert_events`). ``guard``
    (fast path only): nothing is written unless the shopper row is still the one it names.

    The receivers of ``event_tracked`` (one call per event) and ``events_tracked`` (one per
    batch) run after the commit, each on its own: a failing receiver (a cache outage, a bug in a
    store's listener) is logged and can never undo the write. Inside a caller's transaction
    they run when that commits, so nothing acts on events that were rolled back.
    """
    fast = fast_insert_supported()
    in_transaction = connections[router.db_for_write(Event)].in_atomic_block
    if fast and not any(event.kind in CART_KINDS for event in events):
        # One statement is atomic on its own: no BEGIN/COMMIT round trips of an explicit transaction.
        saved = insert_events(events, guard)
        transaction.on_commit(lambda: notify_tracked(saved, request))
    else:
        saved = _save_with_cart(events, request, fast=fast, ignore_conflicts=ignore_conflicts, guard=guard)
    if in_transaction:
        # A caller's transaction (ATOMIC_REQUESTS, a test case) may serve more pages before it
        # commits: the shoppers' cached profiles are told now too, not only by the receivers.
        shopper_state.events_added((e.shopper_id, e.created_at) for e in saved if e.kind in PROFILE_KINDS)
    return saved


def _save_with_cart(
    events: list[Event], request: HttpRequest | None, *, fast: bool, ignore_conflicts: bool, guard: ShopperGuard | None
) -> list[Event]:
    with transaction.atomic():
        if fast:
            saved = insert_events(events, guard)
        else:
            # ignore_conflicts: rows whose client_id a concurrent retry stored first are skipped.
            saved = Event.objects.bulk_create(events, ignore_conflicts=ignore_conflicts)
        for event in saved:
            apply_to_cart(event, request)
        transaction.on_commit(lambda: notify_tracked(saved, request))
    return saved


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


