"""A shopper's profile kept in the shared cache and brought up to date, not rebuilt per page.

Loading a returning shopper's profile reads up to ``PROFILE_EVENTS`` rows (and their older
purchases) and turns them into Python: the biggest part of a page's widgets. What the cache
holds is a :class:`ProfileState` (plain tuples, cheap to pickle) under the shopper's token
(:mod:`personalize.caching.shoppers`). A shopper who acted since has a new token
(:func:`events_stored` touches it after the commit); the next page then reads only the events
stored from ``shoppers.OVERLAP_SECONDS`` before the state's last read (one small query on the shopper's
index) and merges them in, instead of loading the profile again.

Why nothing is missed: an event the merge could miss is one older than that window that was
not yet committed when the state was last read, i.e. one dated more than ``OVERLAP_SECONDS``
before its commit (a long transaction, a queued beacon event, ``track_for(created_at=...)``).
:func:`events_stored` resets those shoppers' state (:func:`~personalize.caching.shoppers.bump`:
the next read loads it from scratch) instead of touching it. Merges, imports and erasures
reset it too; a full load every ``PROFILE_CACHE_SECONDS`` at the latest bounds the rest
(retention purges, rows changed behind the ORM).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connections, router
from django.db.models import Count, Max
from django.utils import timezone

from personalize.caching import shoppers as shopper_state
from personalize.conf import personalize_settings as ps
from personalize.events.tracking import tracked_events
from personalize.identity import created_now
from personalize.models import PROFILE_KINDS, Event, EventKind, Shopper
from personalize.profiles.core import (
    ShopperProfile,
    apply_rows,
    cart_keys,
    load_profile,
    older_purchases,
    profile_features,
)
from personalize.profiles.rows import ROW_ID, ROW_LINES, ROW_WHEN, ProfileRow, profile_rows

# The format of what the cache holds: a change here must not read an older entry.
STATE_FORMAT = 2
# A cut-off history counts its views per product over this many days (campaign rules on
# "viewed this product N times": personalize.campaigns.selection).
VIEW_COUNT_DAYS = 30
VIEW_COUNT_PRODUCTS = 500  # the most viewed ones; a product beyond them is asked of the database


class ProfileState(NamedTuple):
    """What the shared cache holds of a shopper's profile."""

    rows: tuple[ProfileRow, ...]  # the newest PROFILE_EVENTS events, newest first
    complete: bool  # rows are the whole history
    purchased: frozenset[str]  # every product ever bought
    viewed: tuple[tuple[str, datetime], ...]  # distinct viewed products and their last view, newest first
    viewed_more: bool  # there may be more viewed products than ``viewed`` holds
    cart: frozenset[str]  # the cart as last read (the request's shopper carries its own)
    read_at: datetime  # when the last read of the database started
    loaded_at: float  # when it was last loaded from scratch (time.time())
    # False: a transaction that had not committed when it was read may have left rows out (the
    # next read brings it up to date whatever the token says).
    settled: bool = True
    # A cut-off history only: views per product since ``counted_since`` (events merged in add to
    # them), the VIEW_COUNT_PRODUCTS most viewed; ``counted_more``: there were more products.
    counted: tuple[tuple[str, int], ...] | None = None
    counted_since: datetime | None = None
    counted_more: bool = False


class Pending(NamedTuple):
    """A request's own events inside a transaction that has not committed them yet (never stored)."""

    ids: frozenset[int] = frozenset()
    since: datetime | None = None  # the oldest one's time

    @classmethod
    def of(cls, events: list[Event]) -> Pending:
        return cls(frozenset(e.pk for e in events), min(e.created_at for e in events)) if events else cls()

    def settle(self, state: ProfileState) -> ProfileState:
        """``state`` as it may be stored: marked unsettled, with a last read no later than the
        pending events (so that the next read finds them once they are committed)."""
        if not self.ids:
            return state
        read_at = min(state.read_at, self.since) if self.since is not None else state.read_at
        return state._replace(settled=False, read_at=read_at)


def _viewed_kept() -> int:
    """How many viewed products the state remembers: what the widest recently viewed asks for."""
    return 2 * max(ps.WIDGET_MAX_LIMIT, ps.RECENTLY_VIEWED_LIMIT)


def _newest_views(
    rows: Iterable[ProfileRow], known: tuple[tuple[str, datetime], ...] = ()
) -> list[tuple[str, datetime]]:
    """Distinct viewed products and their last view, newest first: ``known`` (in that order)
    with the views of ``rows``. Views newer than every known one (a page's own) go in front
    without sorting ``known`` again."""
    views: dict[str, datetime] = {}
    for _pk, key, kind, _query, _lines, when in rows:
        if kind == EventKind.VIEW and key and (key not in views or views[key] < when):
            views[key] = when
    if not views:
        return list(known)
    newest = sorted(views.items(), key=itemgetter(1), reverse=True)
    if not known or newest[-1][1] > known[0][1]:
        return newest + [item for item in known if item[0] not in views]
    last = dict(known)
    for key, when in newest:
        if key not in last or last[key] < when:
            last[key] = when
    return sorted(last.items(), key=itemgetter(1), reverse=True)


def _row_order(row: ProfileRow) -> tuple[datetime, int]:
    return row[ROW_WHEN], row[ROW_ID]


def _newest_first(rows: tuple[ProfileRow, ...], added: list[ProfileRow]) -> tuple[ProfileRow, ...]:
    """``rows`` (newest first) and ``added`` in one list, newest first: rows newer than every
    held one (what a page adds) go in front without sorting the held ones again."""
    newest = sorted(added, key=_row_order, reverse=True)
    if not rows or _row_order(newest[-1]) > _row_order(rows[0]):
        return (*newest, *rows)
    return tuple(sorted((*rows, *added), key=_row_order, reverse=True))


def load_state(shopper: Shopper, *, pending: Pending = Pending()) -> ProfileState:
    """The state from scratch: the newest events, then (a long history only) older purchases
    and the viewed products beyond them."""
    started, loaded_at = timezone.now(), time.time()
    limit = ps.PROFILE_EVENTS
    rows = profile_rows(shopper, limit=limit)
    complete = len(rows) < limit
    rows = [row for row in rows if row[ROW_ID] not in pending.ids]
    purchased = {key for row in rows for key in row[ROW_LINES]}
    viewed = _newest_views(rows)
    kept = _viewed_kept()
    viewed_more = False
    if not complete and rows:
        purchased |= older_purchases(shopper, before=rows[-1][ROW_WHEN])
        if len(viewed) < kept:
            viewed = _viewed_from_database(shopper, kept, pending.ids)
        viewed_more = len(viewed) >= kept
    counted, counted_since, counted_more = None, None, False
    since = started - timedelta(days=VIEW_COUNT_DAYS)
    if not complete and rows and rows[-1][ROW_WHEN] >= since:  # the rows do not cover the window: count it
        (counted, counted_more), counted_since = _view_counts(shopper, since, pending.ids), since
    return pending.settle(ProfileState(
        rows=tuple(rows), complete=complete, purchased=frozenset(purchased), viewed=tuple(viewed[:kept]),
        viewed_more=viewed_more or len(viewed) > kept, cart=frozenset(cart_keys(shopper)), read_at=started,
        loaded_at=loaded_at, counted=counted, counted_since=counted_since, counted_more=counted_more,
    ))


def _view_counts(shopper: Shopper, since: datetime, pending: frozenset[int]) -> tuple[tuple[tuple[str, int], ...], bool]:
    queryset = Event.objects.filter(shopper=shopper, kind=EventKind.VIEW, created_at__gte=since).exclude(product_key="")
    if pending:
        queryset = queryset.exclude(pk__in=pending)
    rows = list(
        queryset.values("product_key").annotate(n=Count("id")).order_by("-n", "product_key")[: VIEW_COUNT_PRODUCTS + 1]
    )
    return tuple((row["product_key"], row["n"]) for row in rows[:VIEW_COUNT_PRODUCTS]), len(rows) > VIEW_COUNT_PRODUCTS


def new_state(shopper: Shopper, rows: list[ProfileRow], *, pending: Pending = Pending()) -> ProfileState:
    """The state of a shopper whose row this request made: only its own events (no read)."""
    started, cart = timezone.now(), cart_keys(shopper)
    empty = ProfileState(
        rows=(), complete=True, purchased=frozenset(), viewed=(), viewed_more=False, cart=frozenset(cart),
        read_at=started, loaded_at=time.time(),
    )
    return pending.settle(merge(empty, [row for row in rows if row[ROW_ID] not in pending.ids], read_at=started, cart=cart))


def _viewed_from_database(shopper: Shopper, limit: int, pending: frozenset[int]) -> list[tuple[str, datetime]]:
    queryset = Event.objects.filter(shopper=shopper, kind=EventKind.VIEW).exclude(product_key="")
    if pending:
        queryset = queryset.exclude(pk__in=pending)
    rows = queryset.values("product_key").annotate(last=Max("created_at")).order_by("-last")[:limit]
    return [(row["product_key"], row["last"]) for row in rows]


def refresh_state(shopper: Shopper, state: ProfileState, *, pending: Pending = Pending()) -> ProfileState | None:
    """``state`` with the events stored since its last read merged in (one query); ``None``
    when it must be loaded from scratch (too old, or more new events than a profile holds)."""
    if time.time() - state.loaded_at > ps.PROFILE_CACHE_SECONDS:
        return None
    started = timezone.now()
    limit = ps.PROFILE_EVENTS
    since = state.read_at - timedelta(seconds=shopper_state.OVERLAP_SECONDS)
    # Rows of the window it holds already are not read again (the page would build them for nothing).
    known = [row[ROW_ID] for row in state.rows if row[ROW_WHEN] >= since]
    new = profile_rows(shopper, since=since, limit=limit + 1, known=known)
    if len(new) > limit:
        return None
    merged = merge(state, [row for row in new if row[ROW_ID] not in pending.ids], read_at=started, cart=cart_keys(shopper))
    return pending.settle(merged._replace(settled=True))


def merge(state: ProfileState, new: list[ProfileRow], *, read_at: datetime, cart: Iterable[str]) -> ProfileState:
    """``state`` with ``new`` rows added (rows it holds already are not counted twice)."""
    held = {row[ROW_ID] for row in state.rows}
    added = [row for row in new if row[ROW_ID] not in held]
    cart = frozenset(cart)
    if not added and cart == state.cart and read_at == state.read_at:
        return state  # a page's own events, already caught up with
    rows, complete = state.rows, state.complete
    counted = state._replace(counted=_counted(state, added))
    if added:
        ordered = _newest_first(state.rows, added)
        limit = ps.PROFILE_EVENTS
        rows, complete = tuple(ordered[:limit]), complete and len(ordered) < limit
        if state.complete and not complete:  # the whole history, about to be cut: count it first
            counted = _with_counts(state, ordered, since=read_at - timedelta(days=VIEW_COUNT_DAYS))
    kept = _viewed_kept()
    viewed = _newest_views(added, state.viewed)
    return state._replace(
        rows=rows, complete=complete, purchased=state.purchased.union(*(row[ROW_LINES] for row in added)),
        viewed=tuple(viewed[:kept]), viewed_more=state.viewed_more or len(viewed) > kept, cart=cart,
        read_at=read_at, counted=counted.counted, counted_since=counted.counted_since, counted_more=counted.counted_more,
    )


def _with_counts(state: ProfileState, history: list[ProfileRow], *, since: datetime) -> ProfileState:
    """``state`` with the views per product of ``history`` (all of the shopper's events) since ``since``."""
    counts: dict[str, int] = {}
    for _pk, key, kind, _query, _lines, when in history:
        if kind == EventKind.VIEW and key and when >= since:
            counts[key] = counts.get(key, 0) + 1
    kept = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return state._replace(
        counted=tuple(kept[:VIEW_COUNT_PRODUCTS]), counted_since=since, counted_more=len(kept) > VIEW_COUNT_PRODUCTS
    )


def _counted(state: ProfileState, added: list[ProfileRow]) -> tuple[tuple[str, int], ...] | None:
    """``state``'s view counts with the views ``added`` (a product beyond them stops counting)."""
    if state.counted is None or state.counted_since is None:
        return state.counted
    views = [row for row in added if row[2] == EventKind.VIEW and row[1] and row[ROW_WHEN] >= state.counted_since]
    if not views:
        return state.counted
    counts = dict(state.counted)
    for row in views:
        if row[1] in counts or not state.counted_more:
            counts[row[1]] = counts.get(row[1], 0) + 1
    return tuple(counts.items())


def profile_from_state(
    shopper: Shopper, state: ProfileState, *, extra_features: dict[str, str] | None = None, live_cart: bool = False
) -> ShopperProfile:
    """The :class:`ShopperProfile` a state describes (``live_cart``: the cart the shopper object
    carries, not the one the state last read)."""
    profile = ShopperProfile(shopper=shopper)
    apply_rows(profile, state.rows)
    profile.purchased_keys = set(state.purchased)
    if not state.complete and state.rows:
        profile.truncated_at = state.rows[-1][ROW_WHEN]
    profile.viewed = tuple(key for key, _when in state.viewed)
    profile.viewed_more = state.viewed_more
    if state.counted is not None:
        profile.view_counts, profile.view_counts_since = dict(state.counted), state.counted_since
        profile.view_counts_more = state.counted_more
    profile.cart_keys = cart_keys(shopper) if live_cart else set(state.cart)
    profile.features = profile_features(shopper, extra_features)
    return profile


def _stamp() -> tuple[Any, ...]:
    return (STATE_FORMAT, ps.PROFILE_EVENTS, _viewed_kept())


def _cached_state(
    shopper: Shopper, pending: Pending = Pending(), own: list[ProfileRow] | None = None
) -> ProfileState:
    """The shopper's state from the cache: as it is, brought up to date with the events this
    thread stored since (no read), or refreshed from the database. ``own``: all there is of a
    shopper this request made (nothing to read when it is not cached yet)."""

    def catch_up(state: ProfileState, added: dict[int, ProfileRow]) -> ProfileState | None:
        if pending.ids or time.time() - state.loaded_at > ps.PROFILE_CACHE_SECONDS:
            return None
        # No database read: ``read_at`` stays that of the last one (the next refresh reads from there).
        return merge(state, list(added.values()), read_at=state.read_at, cart=state.cart)

    return shopper_state.cached(
        "profile", shopper.pk, _stamp(),
        lambda: new_state(shopper, own, pending=pending) if own is not None else load_state(shopper, pending=pending),
        lambda state: refresh_state(shopper, state, pending=pending),
        usable=lambda state: state.settled,
        catch_up=catch_up,
    )


def _carries_cart(shopper: Shopper) -> bool:
    return Shopper.cart.is_cached(shopper)


def request_profile(shopper: Shopper, request: Any, *, extra_features: dict[str, str] | None = None) -> ShopperProfile:
    """The profile of the request's shopper: the cached state (one cache round trip; plus
    one small query when they acted since), with the events this request tracked."""
    own = [event for event in tracked_events(request) if event.shopper_id == shopper.pk and event.pk is not None]
    rows = [row_of(event) for event in own if event.kind in PROFILE_KINDS]
    # Inside a transaction (ATOMIC_REQUESTS) the request's own events are not committed yet:
    # they are shown to this request only, never stored for others.
    pending = Pending.of(own) if own and _in_transaction() else Pending()
    if created_now(shopper) and not rows:
        # A row made now, with no event of a profile kind: nothing to read, nothing worth caching.
        state = new_state(shopper, [])
    else:
        state = _cached_state(shopper, pending, rows if created_now(shopper) else None)
    if rows:
        state = merge(state, rows, read_at=state.read_at, cart=state.cart)
    return profile_from_state(shopper, state, extra_features=extra_features, live_cart=_carries_cart(shopper))


def row_of(event: Event) -> ProfileRow:
    """An event as a profile's state holds it."""
    lines = tuple(line["product"] for line in event.lines) if event.kind == EventKind.PURCHASE else ()
    return (event.pk, event.product_key or "", event.kind, event.query or "", lines, event.created_at)


def _in_transaction() -> bool:
    return connections[router.db_for_read(Event)].in_atomic_block


def cached_profile(
    shopper: Shopper | None, *, extra_features: Callable[[], dict[str, str]] | None = None, stamp: Any = None
) -> ShopperProfile:
    """The profile of a shopper without a request (the API, exports, emails): the cached state;
    ``extra_features`` (segment memberships) is cached too, while ``stamp`` (the segments'
    generation) is unchanged. The shopper's own fields (country, device, account) are read
    from ``shopper`` every time."""
    if shopper is None or shopper.pk is None:
        return load_profile(shopper, extra_features=extra_features() if extra_features else None)
    state = _cached_state(shopper)
    extra = shopper_state.cached("features", shopper.pk, stamp, lambda: dict(extra_features() if extra_features else {}))
    return profile_from_state(shopper, state, extra_features=extra, live_cart=_carries_cart(shopper))


def events_stored(events: Iterable[Event]) -> None:
    """After the commit: shoppers with a new event of a profile kind get their cached state
    brought up to date; those with an event dated before the update's window, reloaded."""
    stored = [event for event in events if event.kind in PROFILE_KINDS]
    added: dict[Any, dict[int, ProfileRow]] = {}
    for event in stored:
        added.setdefault(event.shopper_id, {})[event.pk] = row_of(event)
    shopper_state.events_added(((event.shopper_id, event.created_at) for event in stored), added=added)
