"""The beacon's shopper, remembered per process: no lookup on a warm post.

A browser posts a batch every few seconds and its profile's id never changes, so a process keeps
the row it looked up for a cookie key (or an account) for :data:`REMEMBER_SECONDS`. The memory
is never trusted with a write: :func:`recall` returns a :class:`ShopperGuard` naming the row as
remembered, and the insert writes nothing unless the row still is that one (same id, not merged,
the same key without an account, or the same account: :mod:`personalize.events.writing`). The
caller then forgets it and looks again, so an erasure, a login merge or an account claiming the
profile in another process never gets new events filed under a stale id. In this process a
saved or deleted shopper is forgotten at once (the receivers below). Other fields (email,
visits, last seen) are at most :data:`REMEMBER_SECONDS` old: an entry is remembered once after a
lookup and never extended. Off with ``LOCAL_CACHE_SECONDS = 0``, like every in-process layer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import router
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from personalize.caching import cache
from personalize.caching.local import LocalLayer
from personalize.conf import personalize_settings as ps
from personalize.identity import consent
from personalize.identity.resolution import _user, read_cookie_key
from personalize.models import Shopper

# Longer than a browser's pause between batches; the visit clock (``touch``) counts from the
# last seen time of the row as loaded, which is why an entry is never extended.
REMEMBER_SECONDS = 60
# Set by the beacon on a request whose shopper was looked up: the middleware remembers it after
# ``touch`` (so the remembered row has its new last-seen time).
REMEMBER_FLAG = "_personalize_remember"


@dataclass(frozen=True)
class ShopperGuard:
    """The shopper row as remembered: ``kind`` ``"key"`` (an anonymous browser's cookie key,
    no account) or ``"user"`` (the account's profile)."""

    pk: int
    kind: str
    key: uuid.UUID | None = None
    user_id: Any = None


class RememberedShoppers(LocalLayer):
    """Rows by ``k:<cookie key>`` / ``u:<user pk>``, in this process only."""

    def _bound(self) -> float:
        return float(REMEMBER_SECONDS) if ps.LOCAL_CACHE_SECONDS > 0 else 0.0


REMEMBERED = RememberedShoppers(cache, max_entries=20_000)
# Signed cookie values this process verified, with the key they carry: checking the signature
# cost more than the rest of a warm post's identity work (~50 µs). A value verified once stays
# valid (the same string always carries the same signature); a tampered one is never held.
VERIFIED_COOKIES = RememberedShoppers(cache, max_entries=20_000)
_FIELDS = tuple(field.attname for field in Shopper._meta.concrete_fields)


def _name(request: HttpRequest) -> tuple[str, ShopperGuard | None, Any]:
    """The memory's name for the request's shopper, and what its guard checks (pk filled later)."""
    user = _user(request)
    if user is not None:
        return f"u:{user.pk}", ShopperGuard(0, "user", user_id=user.pk), user
    key = cookie_key(request)
    if key is None:
        return "", None, None
    return f"k:{key.hex}", ShopperGuard(0, "key", key=key), None


def cookie_key(request: HttpRequest) -> uuid.UUID | None:
    """:func:`~personalize.identity.resolution.read_cookie_key`, from the values this process
    verified before when it can."""
    raw = request.COOKIES.get(ps.COOKIE_NAME)
    if not raw:
        return None
    name = f"{ps.COOKIE_SALT}:{raw}"
    hit, key = VERIFIED_COOKIES.held(name)
    if hit:
        return key
    key = read_cookie_key(request)
    if key is not None:
        VERIFIED_COOKIES.hold(name, key)
    return key


def recall(request: HttpRequest) -> ShopperGuard | None:
    """Set the request's shopper from this process's memory; its guard, or ``None`` (look it up)."""
    if REMEMBERED._bound() <= 0 or not consent.has_consent(request):
        return None
    name, guard, _who = _name(request)
    if guard is None:
        return None
    hit, values = REMEMBERED.held(name)
    if not hit:
        return None
    shopper = Shopper.from_db(router.db_for_read(Shopper), _FIELDS, values)
    request._personalize_shopper = shopper
    return ShopperGuard(shopper.pk, guard.kind, guard.key, guard.user_id)


def remember(request: HttpRequest, shopper: Shopper) -> None:
    """Keep ``shopper`` (looked up for this request) for the next posts: only a row that is the
    request's own as such (its cookie key without an account, or its account's), not merged."""
    if REMEMBERED._bound() <= 0 or shopper.pk is None or shopper.merged_into_id is not None:
        return
    name, guard, user = _name(request)
    if guard is None:
        return
    own = shopper.user_id == user.pk if user is not None else (shopper.user_id is None and shopper.key == guard.key)
    if own:
        REMEMBERED.hold(name, tuple(getattr(shopper, field) for field in _FIELDS))


def forget(request: HttpRequest) -> None:
    """Drop the request's entry (its guard failed: the row changed since)."""
    name, _guard, _who = _name(request)
    if name:
        REMEMBERED.forget([name])


@receiver(post_save, sender=Shopper, dispatch_uid="personalize.identity.remembered.save")
@receiver(post_delete, sender=Shopper, dispatch_uid="personalize.identity.remembered.delete")
def forget_changed(sender: Any, instance: Shopper, created: bool = False, **kwargs: Any) -> None:
    """A profile saved (merged, claimed by an account) or deleted (erased) in this process."""
    if created:
        return
    names = [f"k:{uuid.UUID(str(instance.key)).hex}"] if instance.key else []
    if instance.user_id is not None:
        names.append(f"u:{instance.user_id}")
    REMEMBERED.forget(names)
