"""Login merge: the browser's history and cart follow the shopper into the account."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

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
    source_cart = Cart.objects.filter(shopper=source).first()
    if source_cart is not None and source_cart.lines:
        target_cart = Cart.objects.filter(shopper=target).first()
        if target_cart is None or target_cart.is_empty or source_cart.updated_at >= target_cart.updated_at:
            Cart.objects.filter(shopper=target).delete()
            source_cart.shopper = target
            source_cart.save(update_fields=["shopper"])
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
