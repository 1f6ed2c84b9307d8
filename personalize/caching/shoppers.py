"""Per-shopper state tokens: what a shopper's cached profile is valid for.

A shopper's profile (their recent events, cart and purchases) is read on every page that shows
them a list. :func:`cached` keeps it in the shared cache under the shopper's **token** and
**epoch**:

* :func:`touch` gives the shopper a new token: something was *added* (an event of a profile
  kind was stored, the cart changed). The next read may bring the cached value up to date
  (``refresh``: the profile reads only the events stored since its last read) instead of
  loading it again.
* :func:`bump` gives the shopper a new token *and* a new epoch: what was cached is wrong, not
  just behind (two profiles merged, events imported or erased, rows changed behind the ORM).
  The next read loads the value from scratch.

Events need no read at all: where the cache counts atomically (Redis, memcached, locmem), a
touch for one shopper's events adds one to their token and stores what that **step** added (the
events as the cached value holds them) under the new token, in the shared cache (on Redis in
the same atomic script) and in this thread. A read that finds the cached value only steps
behind (up to ``STEPS``, each of them found: this thread's own, or another worker's in the
shared cache) brings it up to date from them (``catch_up``), and writes the result back only
once it is ``STORE_AFTER`` steps behind (a shopper's next pages apply the same few steps
again instead of writing their whole profile each time). Any other change in between (a cart
change, a bump, a step that was not stored) makes the steps not line up, and the value is
refreshed as before.

A read right after this thread's own touch, in the same request (a product page reads the
profile its own view just touched) reads neither the token nor the value: the thread holds the
value it last read or made of the shopper with its token, and the touch just got the new token
from the shared counter. Every change between the two tokens was a counted step (a bump or a
renewal starts the counter elsewhere), so the held value is brought up to date with them: no
round trip when they are all this thread's own, one small one for other workers' steps
(:func:`_after_own_step`). Only once per touch, within ``FRESH_SECONDS`` and never across
requests (``request_started`` / ``request_finished`` end it): a later read goes to the shared
cache as below.

Otherwise tokens and epochs are read from the shared cache itself, never through the in-process layer: a
purchase recorded by one worker must be seen by the next page another worker serves. One
``get_many`` reads the token, the epoch and the value together. They start at random (a cache
restarted or cleared cannot bring an old one back; a counter that starts below ``MIN_TOKEN``
was made by the cache, not by us, and is replaced); a missing token reads as "changed".
Entries expire after ``PROFILE_CACHE_SECONDS`` at the latest.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.utils import timezone

from personalize.caching.memo import cache
from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")

# How far before a cached profile's last read the next update reads again: an event committed
# later than this after its own time resets the shopper's state instead (events_added).
OVERLAP_SECONDS = 5.0


def _token_key(pk: Any) -> str:
    return f"personalize:shopper-state:{pk}"


def _epoch_key(pk: Any) -> str:
    return f"personalize:shopper-epoch:{pk}"


def _entry_key(name: str, pk: Any) -> str:
    return f"personalize:shopper-{name}:{pk}"


def _step_prefix(pk: Any) -> str:
    return f"personalize:shopper-step:{pk}:"


# Tokens start at random above this: a smaller one was made by the cache (Redis makes a missing
# counter at 1), and a value cached under it in an earlier life of the key could come back. They
# stay below breaker.EXACT_COUNTS (what Redis's script counts exactly) for a long while.
MIN_TOKEN = 2**40
TOKEN_SPAN = 2**52
# How many steps a read applies at most; a thread remembers as many of its own per shopper, for
# OWN_SHOPPERS shoppers. A step is kept in the shared cache for STEP_SECONDS at most.
STEPS = 8
OWN_SHOPPERS = 64
OWN_EVENTS = 50  # a bigger step (a batch, an import) is read back instead of remembered
STEP_SECONDS = 900.0
# A value caught up this many steps (or more) is written back for every process.
STORE_AFTER = 4

# How long after this thread's touch its next read of the shopper may skip the shared cache.
FRESH_SECONDS = 1.0

_own = threading.local()


class Held(NamedTuple):
    """A value this thread read or made of a shopper, and the tokens it is valid for."""

    token: int
    epoch: Any
    stamp: Any
    value: Any
    stored: int  # the token the shared cache holds the value under


def _held() -> dict[tuple[str, Any], Held]:
    """(value name, shopper pk) -> what this thread last read or made of it (``OWN_SHOPPERS`` at most)."""
    held = getattr(_own, "held", None)
    if held is None:
        held = _own.held = {}
    return held


def _fresh() -> dict[Any, tuple[int, float]]:
    """Shopper pk -> (the token this thread's touch just made, when): the next read's shortcut."""
    fresh = getattr(_own, "fresh", None)
    if fresh is None:
        fresh = _own.fresh = {}
    return fresh


def end_request(*args: Any, **kwargs: Any) -> None:
    """A request starts or ends: a touch of an earlier one no longer lets a read skip the cache."""
    _fresh().clear()


def _hold(name: str, pk: Any, held: Held) -> None:
    values = _held()
    values.pop((name, pk), None)
    values[(name, pk)] = held  # the newest last
    while len(values) > OWN_SHOPPERS:
        values.pop(next(iter(values)))


def _new_token() -> int:
    return MIN_TOKEN + secrets.randbelow(TOKEN_SPAN)


def _steps() -> dict[Any, dict[int, Mapping[Any, Any]]]:
    """This thread's own steps: shopper pk -> {token a touch made: {event id: what it added}}."""
    steps = getattr(_own, "steps", None)
    if steps is None:
        steps = _own.steps = {}
    return steps


def _remember_step(pk: Any, token: int, added: Mapping[Any, Any]) -> None:
    steps = _steps()
    mine = steps.pop(pk, {})
    mine[token] = added
    while len(mine) > STEPS:
        mine.pop(next(iter(mine)))
    steps[pk] = mine  # the newest shopper last
    while len(steps) > OWN_SHOPPERS:
        steps.pop(next(iter(steps)))


def steps_between(pk: Any, since: Any, token: Any) -> dict[Any, Any] | None:
    """What the touches of shopper ``pk`` from token ``since`` to ``token`` added (``{event id:
    ...}``): this thread's own steps, the others read from the shared cache in one round trip;
    ``None`` unless every step between them is found."""
    if not isinstance(since, int) or not isinstance(token, int) or not 0 < token - since <= STEPS:
        return None
    mine = _steps().get(pk, {})
    missing = [step for step in range(since + 1, token + 1) if step not in mine]
    found: dict[int, Mapping[Any, Any]] = {}
    if missing:
        prefix = _step_prefix(pk)
        try:
            stored = cache().get_many([f"{prefix}{step}" for step in missing])
        except Exception:
            logger.warning("personalize: could not read a shopper's steps", exc_info=True)
            return None
        found = {step: stored[f"{prefix}{step}"] for step in missing if f"{prefix}{step}" in stored}
        if len(found) < len(missing):
            return None
    added: dict[Any, Any] = {}
    for step in range(since + 1, token + 1):
        added.update(mine[step] if step in mine else found[step])
    return added


def _count_up(pk: Any, added: Mapping[Any, Any]) -> bool:
    """Add one to the shopper's token and store the step; False when the cache cannot count it
    (the caller renews the token instead)."""
    try:
        token = cache().count_and_store(
            _token_key(pk), _step_prefix(pk), dict(added), start=_new_token(), timeout=_timeout(),
            value_timeout=min(STEP_SECONDS, _timeout()),
        )
    except Exception:
        logger.warning("personalize: could not count a shopper state token", exc_info=True)
        return False
    if token is None or token <= MIN_TOKEN:  # a counter someone else made
        return False
    _remember_step(pk, token, added)
    _fresh()[pk] = (token, time.monotonic())
    return True


def _renew(pks: Iterable[Any], *, epoch: bool) -> None:
    pks = {pk for pk in pks if pk is not None}
    fresh = _fresh()
    for pk in pks:
        fresh.pop(pk, None)
    keys = {_token_key(pk): _new_token() for pk in pks}
    if epoch:
        keys.update({_epoch_key(pk): _new_token() for pk in pks})
    if not keys:
        return
    try:
        cache().set_many(keys, _timeout())
    except Exception:  # the entries still expire within PROFILE_CACHE_SECONDS
        logger.warning("personalize: could not renew %d shopper state tokens", len(pks), exc_info=True)


def touch(pks: Iterable[Any], *, added: Mapping[Any, Any] | None = None) -> None:
    """Something was added to the shoppers' state: every process brings it up to date on its
    next read. ``added`` (``{event id: the event as cached values hold it}``), when it is all
    one shopper was given: this thread's next read of them may apply it instead of reading."""
    pks = {pk for pk in pks if pk is not None}
    if added is not None and len(pks) == 1 and len(added) <= OWN_EVENTS and _count_up(next(iter(pks)), added):
        return
    _renew(pks, epoch=False)


# The names values are cached under (see :func:`cached`); a bump deletes them.
ENTRY_NAMES = {"profile", "features"}


def bump(pks: Iterable[Any]) -> None:
    """The shoppers' cached state is wrong: every process reloads it from scratch on its next
    read. What was cached of them (values, stored steps) is deleted, not only left unreachable
    until it expires: an erased shopper's events leave the cache with them."""
    pks = {pk for pk in pks if pk is not None}
    if not pks:
        return
    _forget(pks)
    _renew(pks, epoch=True)


FORGET_BATCH = 500  # shoppers per round trip (an import bumps every shopper of a chunk)


def _forget(pks: set[Any]) -> None:
    steps, held = _steps(), _held()
    for pk in pks:
        steps.pop(pk, None)
        for name in ENTRY_NAMES:
            held.pop((name, pk), None)
    listed = list(pks)
    for start in range(0, len(listed), FORGET_BATCH):
        batch = listed[start:start + FORGET_BATCH]
        try:
            tokens = cache().get_many([_token_key(pk) for pk in batch])
            keys = [_entry_key(name, pk) for pk in batch for name in sorted(ENTRY_NAMES)]
            for pk in batch:
                token = tokens.get(_token_key(pk))
                if isinstance(token, int):
                    keys.extend(f"{_step_prefix(pk)}{step}" for step in range(token - STEPS + 1, token + 1))
            cache().delete_many(keys)
        except Exception:  # unreachable under the new epoch anyway, and they expire
            logger.warning("personalize: could not delete %d shoppers' cached state", len(batch), exc_info=True)


def events_added(
    events: Iterable[tuple[Any, datetime | None]], *, added: Mapping[Any, Mapping[Any, Any]] | None = None
) -> None:
    """``(shopper pk, event time)`` of events just stored: their shoppers are touched, or reset
    when an event is dated more than ``OVERLAP_SECONDS`` ago (a profile brought up to date reads
    only the events from ``OVERLAP_SECONDS`` before its last read: see
    :mod:`personalize.profiles.live`). ``added``: per shopper, the events as cached values hold
    them (see :func:`touch`)."""
    oldest = timezone.now() - timedelta(seconds=OVERLAP_SECONDS)
    touched: set[Any] = set()
    reset: set[Any] = set()
    for pk, when in events:
        (reset if when is None or when < oldest else touched).add(pk)
    bump(reset)
    touched -= reset
    if len(touched) == 1 and added is not None and next(iter(touched)) in added:
        pk = next(iter(touched))
        touch([pk], added=added[pk])
    else:
        touch(touched)


def _timeout() -> float:
    return float(ps.PROFILE_CACHE_SECONDS)


def cached(
    name: str,
    pk: Any,
    stamp: Any,
    load: Callable[[], Any],
    refresh: Callable[[Any], Any] | None = None,
    *,
    usable: Callable[[Any], bool] | None = None,
    catch_up: Callable[[Any, dict[Any, Any]], Any] | None = None,
) -> Any:
    """``load()``'s value for shopper ``pk``, from the cache while the shopper's token and
    ``stamp`` (e.g. a generation the value also depends on) are unchanged.

    When only the token changed (:func:`touch`), or ``usable(value)`` says a value must not be
    used as it is, ``refresh(value)`` brings the cached value up to date (``None``: load
    instead). One cache round trip when warm; on a miss (or a cache
    outage) the value is computed and stored under the token read before computing it, so a
    change that lands meanwhile is never hidden by the stored value. ``catch_up(value, added)``
    brings a value that is only steps behind up to date with what they added (see
    :func:`touch`; ``None``: refresh instead).
    """
    if not ps.PROFILE_CACHE_SECONDS or pk is None:
        return load()
    ENTRY_NAMES.add(name)
    token_key, epoch_key, entry_key = _token_key(pk), _epoch_key(pk), _entry_key(name, pk)
    if catch_up is not None:
        value = _after_own_step(name, pk, stamp, usable, catch_up)
        if value is not None:
            return value
    try:
        found = cache().get_many([token_key, epoch_key, entry_key])
    except Exception:
        logger.warning("personalize: shopper state unavailable", exc_info=True)
        return load()
    token, epoch, entry = found.get(token_key), found.get(epoch_key), found.get(entry_key)
    current = entry is not None and len(entry) == 4 and entry[1] == epoch and entry[2] == stamp
    if current and token is not None and (usable is None or usable(entry[3])):
        if entry[0] == token:
            if catch_up is not None:
                _hold(name, pk, Held(token, epoch, stamp, entry[3], stored=token))
            return entry[3]
        if catch_up is not None:
            value = _caught_up(name, pk, Held(entry[0], epoch, stamp, entry[3], stored=entry[0]), token, catch_up)
            if value is not None:
                return value
    if token is None:
        token = _new_token()
        try:
            if not cache().add(token_key, token, _timeout()):
                token = cache().get(token_key)  # another process created it first
        except Exception:
            logger.warning("personalize: shopper state unavailable", exc_info=True)
            return load()
    value = refresh(entry[3]) if current and refresh is not None else None
    if value is None:
        value = load()
    if token is not None:
        _store(name, entry_key, (token, epoch, stamp, value))
        if catch_up is not None and isinstance(token, int):  # only what the shortcut can use is held
            _hold(name, pk, Held(token, epoch, stamp, value, stored=token))
    return value


def _after_own_step(
    name: str, pk: Any, stamp: Any, usable: Callable[[Any], bool] | None, catch_up: Callable[[Any, dict[Any, Any]], Any]
) -> Any:
    """The value right after this thread's own touch of the shopper, or ``None``: the held value
    brought up to date with every step from its token to the touch's (this thread's own, and
    other workers' read in one small round trip: no other change can lie between them)."""
    fresh = _fresh().pop(pk, None)
    held = _held().get((name, pk))
    if fresh is None or held is None or time.monotonic() - fresh[1] > FRESH_SECONDS:
        return None
    if held.stamp != stamp or (usable is not None and not usable(held.value)):
        return None
    return _caught_up(name, pk, held, fresh[0], catch_up)


def _caught_up(name: str, pk: Any, held: Held, token: int, catch_up: Callable[[Any, dict[Any, Any]], Any]) -> Any:
    """``held`` brought up to date with the steps up to ``token`` (``None``: a step is not
    found, or ``catch_up`` declines), written back once ``STORE_AFTER`` steps ahead of what the
    shared cache holds, and held by this thread."""
    added = steps_between(pk, held.token, token)
    value = catch_up(held.value, added) if added is not None else None
    if value is None:
        return None
    stored = held.stored
    if token - stored >= STORE_AFTER:
        _store(name, _entry_key(name, pk), (token, held.epoch, held.stamp, value))
        stored = token
    _hold(name, pk, Held(token, held.epoch, held.stamp, value, stored=stored))
    return value


def _store(name: str, entry_key: str, entry: tuple[Any, Any, Any, Any]) -> None:
    try:
        cache().set(entry_key, entry, _timeout())
    except Exception:
        logger.warning("personalize: could not cache a shopper's %s", name, exc_info=True)
