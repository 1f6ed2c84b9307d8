"""The one validator of events: what a kind needs, and the cleaning of quantities, values and lines.

:func:`build_event` raises :class:`TrackingError` naming the field; ``personalize.track`` logs
it, the beacon turns it into a 400 naming ``events[i].field``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.models import PRODUCT_KINDS, Event, EventKind, Shopper

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
