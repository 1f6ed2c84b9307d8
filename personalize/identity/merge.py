"""Login merge: the browser's history and cart follow the shopper into the account."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from personalize import signals
from personalize.identity import consent
from personalize.identity.resolution import read_cookie_key
from personalize.models import Cart, Event, Shopper

logger = logging.getLogger("personalize")


@transaction.atomic
def merge_shoppers(source: Shopper, target: Shopper) -> Shopper:
    """Move ``source``'s history and cart into ``target`` and mark ``source`` merged."""
    if source.pk == target.pk:
        return target
    Event.objects.filter(shopper=source).update(shopper=target)
    merge_carts(source, target)
    target.visits = max(target.visits, source.visits)
    target.first_seen = min(target.first_seen, source.first_seen)
    for field in ("language", "country", "device", "email"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    target.save()
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    signals.shopper_merged.send(sender=Shopper, source=source, target=target)
    return target


def merge_carts(source: Shopper, target: Shopper) -> Cart | None:
    """Fold ``source``'s cart snapshot into ``target``'s.

    A browser without a cart leaves the account's as it is. Otherwise the two are united (a
    product in both keeps the quantity of the cart changed last) and the revision moves past
    both, never backwards, so lifecycle flows restart instead of colliding with an email cycle
    of either cart.
    """
    carts = {cart.shopper_id: cart for cart in Cart.objects.select_for_update().filter(shopper__in=[source, target])}
    mine, theirs = carts.get(target.pk), carts.get(source.pk)
    if theirs is None or theirs.is_empty:
        if theirs is not None:
            theirs.delete()
        return mine
    older, newer = (mine, theirs) if mine is None or mine.updated_at <= theirs.updated_at else (theirs, mine)
    lines = {str(line["product"]): dict(line) for line in (older.lines if older is not None else [])}
    lines.update({str(line["product"]): dict(line) for line in newer.lines})
    merged = list(lines.values())
    revision = max(mine.revision if mine is not None else 0, theirs.revision)
    theirs.delete()
    cart = mine or Cart(shopper=target)
    changed = sorted((ln["product"], ln["quantity"]) for ln in cart.lines) != sorted((ln["product"], ln["quantity"]) for ln in merged)
    cart.lines = merged
    cart.item_count = sum(int(line["quantity"]) for line in merged)
    cart.value = sum((Decimal(str(line.get("price") or 0)) * int(line["quantity"]) for line in merged), Decimal("0"))
    cart.language = newer.language or cart.language
    cart.revision = revision + 1 if changed else max(cart.revision, revision)
    cart.updated_at = timezone.now() if changed else newer.updated_at
    cart.save()
    if changed:
        signals.cart_updated.send(sender=Cart, cart=cart, request=None)
    return cart


def attach_user(request: HttpRequest, user: Any) -> Shopper | None:
    """On login: the browser's history follows the shopper into the account's profile."""
    if not consent.has_consent(request):
        return None  # without consent this browser's profile is neither read nor extended
    key = read_cookie_key(request)
    browser = Shopper.objects.filter(key=key).first() if key else None
    if browser is not None and browser.merged_into_id:
        browser = Shopper.objects.filter(pk=browser.merged_into_id).first()
    account = Shopper.objects.filter(user=user).first()
    if account is None and browser is not None and browser.user_id is None:
        browser.user = user
        browser.save(update_fields=["user"])
        account = browser
    elif account is not None and browser is not None and browser.user_id is None:
        account = merge_shoppers(browser, account)
    if hasattr(request, "_personalize_shopper"):
        del request._personalize_shopper
    if account is not None:
        request._personalize_shopper = account
        request._personalize_set_cookie = True
    return account


@receiver(user_logged_in, dispatch_uid="personalize.merge_on_login")
def merge_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """History made before login follows the shopper into the account."""
    if request is None:
        return
    try:
        attach_user(request, user)
    except Exception:  # a store's login must never fail because of personalisation
        logger.exception("personalize: could not merge the shopper on login")
