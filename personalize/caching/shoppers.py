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

Tokens and epochs are read from the shared cache itself, never through the in-process layer: a
purchase recorded by one worker must be seen by the next page another worker serves. One
``get_many`` reads the token, the epoch and the value together. They are random, never counters
(a cache restarted or cleared cannot bring an old one back); a missing token reads as
"changed". Entries expire after ``PROFILE_CACHE_SECONDS`` at the latest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

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


def _renew(pks: Iterable[Any], *, epoch: bool) -> None:
    pks = {pk for pk in pks if pk is not None}
    keys = {_token_key(pk): uuid.uuid4().hex for pk in pks}
    if epoch:
        keys.update({_epoch_key(pk): uuid.uuid4().hex for pk in pks})
    if not keys:
        return
    try:
        cache().set_many(keys, _timeout())
    except Exception:  # the entries still expire within PROFILE_CACHE_SECONDS
        logger.warning("personalize: could not renew %d shopper state tokens", len(pks), exc_info=True)


def touch(pks: Iterable[Any]) -> None:
    """Something was added to the shoppers' state: every process brings it up to date on its next read."""
    _renew(pks, epoch=False)


def bump(pks: Iterable[Any]) -> None:
    """The shoppers' cached state is wrong: every process reloads it from scratch on its next read."""
    _renew(pks, epoch=True)


def events_added(events: Iterable[tuple[Any, datetime | None]]) -> None:
    """``(shopper pk, event time)`` of events just stored: their shoppers are touched, or reset
    when an event is dated more than ``OVERLAP_SECONDS`` ago (a profile brought up to date reads
    only the events from ``OVERLAP_SECONDS`` before its last read: see
    :mod:`personalize.profiles.live`)."""
    oldest = timezone.now() - timedelta(seconds=OVERLAP_SECONDS)
    touched: set[Any] = set()
    reset: set[Any] = set()
    for pk, when in events:
        (reset if when is None or when < oldest else touched).add(pk)
    bump(reset)
    touch(touched - reset)


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
) -> Any:
    """``load()``'s value for shopper ``pk``, from the cache while the shopper's token and
    ``stamp`` (e.g. a generation the value also depends on) are unchanged.

    When only the token changed (:func:`touch`), or ``usable(value)`` says a value must not be
    used as it is, ``refresh(value)`` brings the cached value up to date (``None``: load
    instead). One cache round trip when warm; on a miss (or a cache
    outage) the value is computed and stored under the token read before computing it, so a
    change that lands meanwhile is never hidden by the stored value.
    """
    if not ps.PROFILE_CACHE_SECONDS or pk is None:
        return load()
    token_key, epoch_key, entry_key = _token_key(pk), _epoch_key(pk), _entry_key(name, pk)
    try:
        found = cache().get_many([token_key, epoch_key, entry_key])
    except Exception:
        logger.warning("personalize: shopper state unavailable", exc_info=True)
        return load()
    token, epoch, entry = found.get(token_key), found.get(epoch_key), found.get(entry_key)
    current = entry is not None and len(entry) == 4 and entry[1] == epoch and entry[2] == stamp
    if current and token is not None and entry[0] == token and (usable is None or usable(entry[3])):
        return entry[3]
    if token is None:
        token = uuid.uuid4().hex
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
        try:
            cache().set(entry_key, (token, epoch, stamp, value), _timeout())
        except Exception:
            logger.warning("personalize: could not cache a shopper's %s", name, exc_info=True)
    return value
