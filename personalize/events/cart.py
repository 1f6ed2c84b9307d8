"""Cart snapshots: the shopper's cart as personalize knows it (abandoned-cart emails, segments).

Events keep it in step (add/remove, a purchase empties it); :func:`update_cart` sets it from the
store's own cart and never raises. ``revision`` grows whenever the contents change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from personalize import identity, signals
from personalize.adapters import get_adapter
from personalize.events.schema import clean_lines, lines_value
from personalize.models import Cart, Event, EventKind, Shopper

logger = logging.getLogger("personalize")


def apply_to_cart(event: Event, request: HttpRequest | None) -> None:
    if event.kind == EventKind.PURCHASE:
        set_cart_lines(event.shopper, [], request=request)
        return
    if event.kind not in (EventKind.ADD_TO_CART, EventKind.REMOVE_FROM_CART):
        return
    cart = Cart.objects.filter(shopper=event.shopper).first()
    lines = list(cart.lines) if cart else []
    line = next((item for item in lines if item["product"] == event.product_key), None)
    sign = 1 if event.kind == EventKind.ADD_TO_CART else -1
    if line is None and sign > 0:
        price = str(event.value) if event.value is not None else None
        if price is None:
            product = get_adapter().get_product(event.product_key)
            unit = get_adapter().price(product) if product is not None else None
            price = str(unit) if unit is not None else None
        lines.append({"product": event.product_key, "quantity": event.quantity, "price": price})
    elif line is not None:
        line["quantity"] += sign * event.quantity
        if line["quantity"] <= 0:
            lines.remove(line)
    set_cart_lines(event.shopper, lines, request=request)


def set_cart_lines(shopper: Shopper, lines: list[dict[str, Any]], *, request: HttpRequest | None = None) -> Cart:
    """Replace the shopper's cart snapshot; bumps ``revision`` when the contents change."""
    cart, _created = Cart.objects.select_for_update().get_or_create(shopper=shopper)
    before = sorted((line["product"], line["quantity"]) for line in cart.lines)
    after = sorted((line["product"], line["quantity"]) for line in lines)
    cart.lines = lines
    cart.value = lines_value(lines)
    cart.item_count = sum(line["quantity"] for line in lines)
    if request is not None and getattr(request, "LANGUAGE_CODE", ""):
        cart.language = request.LANGUAGE_CODE[:16]
    if before != after:
        cart.revision += 1
    cart.updated_at = timezone.now()
    cart.save()
    # After the commit, like event_tracked: a failing receiver never undoes the snapshot.
    transaction.on_commit(lambda: _notify_cart(cart, request))
    return cart


def _notify_cart(cart: Cart, request: HttpRequest | None) -> None:
    for receiver, result in signals.cart_updated.send_robust(sender=Cart, cart=cart, request=request):
        if isinstance(result, Exception):
            logger.error("personalize: a cart_updated receiver failed (%s); the cart is stored", receiver, exc_info=result)


def update_cart(request: HttpRequest, lines: Iterable[Any]) -> Cart | None:
    """Set the shopper's cart snapshot from the store's own cart (products or keys + quantity)."""
    try:
        shopper = identity.ensure_shopper(request)
        if shopper is None:
            return None
        with transaction.atomic():
            return set_cart_lines(shopper, clean_lines(lines), request=request)
    except Exception:
        logger.exception("personalize: could not update the cart snapshot")
        return None
