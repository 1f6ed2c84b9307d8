"""Per-shopper state tokens: what a shopper's cached profile is valid for.

A shopper's profile (their recent events, cart and purchases) is read on every list shown to
them; loading it costs two or three queries. :func:`cached` keeps it in the shared cache under
the shopper's token, and :func:`bump` gives the shopper a new token whenever something the
profile reads changes: an event of a profile kind is stored (``events_tracked``), the cart
changes (``cart_updated``), two profiles merge, events are imported or erased. The next read
then loads the profile again.

Tokens are read from the shared cache itself, never through the in-process layer: a purchase
recorded by one worker must be seen by the next page another worker serves (a cached profile
that missed it would show the product again). One ``get_many`` reads the token and the
profile together. Tokens are random, never counters (a cache restarted or cleared cannot bring
an old token back); a missing token reads as "changed". Entries expire after
``PROFILE_CACHE_SECONDS`` at the latest, which bounds what nothing signals (retention
purges, rows changed behind the ORM).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from personalize.caching.memo import cache
from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")


def _token_key(pk: Any) -> str:
    return f"personalize:shopper-state:{pk}"


def _entry_key(name: str, pk: Any) -> str:
    return f"personalize:shopper-{name}:{pk}"


def bump(pks: Iterable[Any]) -> None:
    """The shoppers' cached state is stale: every process reloads it on its next read."""
    keys = {_token_key(pk): uuid.uuid4().hex for pk in {pk for pk in pks if pk is not None}}
    if not keys:
        return
    try:
        cache().set_many(keys, _timeout())
    except Exception:  # the entries still expire within PROFILE_CACHE_SECONDS
        logger.warning("personalize: could not renew %d shopper state tokens", len(keys), exc_info=True)


def _timeout() -> float:
    return float(ps.PROFILE_CACHE_SECONDS)


def cached(name: str, pk: Any, stamp: Any, load: Callable[[], Any]) -> Any:
    """``load()``'s value for shopper ``pk``, from the cache while the shopper's token and
    ``stamp`` (e.g. a generation the value also depends on) are unchanged.

    One cache round trip when warm; on a miss (or a cache outage) ``load()`` runs and its
    value is stored under the token read before loading, so a change that lands while it
    loads is never hidden by the stored value.
    """
    if not ps.PROFILE_CACHE_SECONDS or pk is None:
        return load()
    token_key, entry_key = _token_key(pk), _entry_key(name, pk)
    try:
        found = cache().get_many([token_key, entry_key])
    except Exception:
        logger.warning("personalize: shopper state unavailable", exc_info=True)
        return load()
    token, entry = found.get(token_key), found.get(entry_key)
    if token is not None and entry is not None and entry[0] == token and entry[1] == stamp:
        return entry[2]
    if token is None:
        token = uuid.uuid4().hex
        try:
            if not cache().add(token_key, token, _timeout()):
                token = cache().get(token_key)  # another process created it first
        except Exception:
            logger.warning("personalize: shopper state unavailable", exc_info=True)
            return load()
    value = load()
    if token is not None:
        try:
            cache().set(entry_key, (token, stamp, value), _timeout())
        except Exception:
            logger.warning("personalize: could not cache a shopper's %s", name, exc_info=True)
    return value
