"""Recording what shoppers do: the Python API behind ``personalize.track`` and the beacon.

:func:`track` and :func:`update_cart` never raise: personalisation must not break a store's
view. :func:`build_event` validates and raises :class:`TrackingError` naming the field, which
the API turns into a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from personalize import identity, signals
from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.models import PRODUCT_KINDS, Cart, Event, EventKind, Shopper

logger = logging.getLogger("personalize")

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_QUERY = 255
MAX_QUANTITY = 10_000
MAX_VALUE = Decimal("9999999999.99")


@dataclass
class TrackingError(Exception):
    """Invalid input for an event; ``field`` names what was wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def event_kinds() -> set[str]:
    return set(EventKind.values) | set(ps.EXTRA_EVENT_KINDS)


def product_key_of(product: Any, *, validate: bool = True) -> str:
    """The key of a product instance or of a raw id; ``TrackingError`` if malformed/unknown."""
    adapter = get_adapter()
    if product is None or product == "":
        return ""
    if hasattr(product, "_meta"):
        return adapter.product_key(product)
    key = str(product)
    if len(key) > 64 or not adapter.is_valid_key(key):
        raise TrackingError("product", _("“%(id)s” is not a valid product id.") % {"id": key[:80]})
    return key


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TrackingError(field, _("Enter a number.")) from None
    if not result.is_finite() or abs(result) > MAX_VALUE:
        raise TrackingError(field, _("Enter a number.")) from None
    return result.quantize(Decimal("0.01"))


def _quantity(value: Any) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        raise TrackingError("quantity", _("Enter a whole number.")) from None
    if not 0 < quantity <= MAX_QUANTITY:
        raise TrackingError("quantity", _("Must be between 1 and %(max)s.") % {"max": MAX_QUANTITY})
    return quantity


def clean_lines(lines: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Normalise cart or order lines to ``[{"product", "quantity", "price"}]``."""
    cleaned = []
    for line in lines or []:
        if isinstance(line, Mapping):
            product, quantity, price = line.get("product"), line.get("quantity", 1), line.get("price")
        else:
            product, quantity, price = (*line, 1, None)[:3] if len(line) < 2 else (*line, None)[:3]
        key = product_key_of(product)
        if not key:
            raise TrackingError("lines", _("Every line needs a product."))
        if price is None and hasattr(product, "_meta"):
            price = get_adapter().price(product)
        unit = _decimal(price, "lines")
        cleaned.append({"product": key, "quantity": _quantity(quantity), "price": str(unit) if unit is not None else None})
    return cleaned


def lines_value(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["price"] or 0) * line["quantity"] for line in lines), Decimal("0"))


def request_context(request: HttpRequest | None) -> dict[str, Any]:
    """Referrer domain and UTM parameters of the request (the visit's source)."""
    if request is None:
        return {}
    context: dict[str, Any] = {}
    referrer = request.META.get("HTTP_REFERER", "")
    if referrer:
        host = urlsplit(referrer).hostname or ""
        if host and host != request.get_host().split(":")[0]:
            context["referrer"] = host[:255]
    for key in UTM_KEYS:
        value = request.GET.get(key)
        if value:
            context[key] = value[:100]
    return context


def build_event(
    shopper: Shopper,
    kind: str,
    *,
    product: Any = None,
    quantity: Any = 1,
    value: Any = None,
    query: str = "",
    lines: Iterable[Any] | None = None,
    order_ref: str = "",
    context: Mapping[str, Any] | None = None,
    created_at: Any = None,
) -> Event:
    """An unsaved, validated event."""
    if kind not in event_kinds():
        raise TrackingError("kind", _("Unknown event kind “%(kind)s”.") % {"kind": str(kind)[:40]})
    key = product_key_of(product)
    if kind in PRODUCT_KINDS and not key:
        raise TrackingError("product", _("This event kind needs a product."))
    query = (query or "").strip()
    if kind == EventKind.SEARCH and not query:
        raise TrackingError("query", _("A search needs a query."))
    ctx = dict(context or {})
    if lines is not None:
        ctx["lines"] = clean_lines(lines)
    amount = _decimal(value, "value")
    if amount is None and kind == EventKind.PURCHASE and ctx.get("lines"):
        amount = lines_value(ctx["lines"])
    return Event(
        shopper=shopper,
        kind=kind,
        product_key=key,
        quantity=_quantity(quantity),
        value=amount,
        query=query[:MAX_QUERY],
        order_ref=str(order_ref or "")[:64],
        context=ctx,
        created_at=created_at or timezone.now(),
    )


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
        return save_events([event], request=request)[0]
    except Exception:
        logger.exception("personalize: could not track %r", kind)
        return None


@transaction.atomic
def save_events(events: list[Event], *, request: HttpRequest | None = None) -> list[Event]:
    """Store validated events (all or nothing) and keep cart snapshots in step."""
    saved = Event.objects.bulk_create(events)
    for event in saved:
        _apply_to_cart(event, request)
    for event in saved:
        signals.event_tracked.send(sender=Event, event=event, request=request)
    return saved


def _apply_to_cart(event: Event, request: HttpRequest | None) -> None:
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
    signals.cart_updated.send(sender=Cart, cart=cart, request=request)
    return cart


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
