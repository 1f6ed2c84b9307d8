"""The shop's own cart, kept in the session.

Every change is reported to personalize (``personalize.track`` for the event and
``personalize.update_cart`` so personalize's cart snapshot always equals what the shopper sees).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import personalize
from django.http import HttpRequest

from demo_shop.catalog.models import Product

SESSION_KEY = "demo_cart"
MAX_LINE_QUANTITY = 20


@dataclass
class CartLine:
    product: Product
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.product.price

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


class SessionCart:
    """``{product pk: quantity}`` in the session, with the tracking calls around each change."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        raw = request.session.get(SESSION_KEY) or {}
        self.items: dict[str, int] = {str(k): int(v) for k, v in raw.items() if int(v) > 0}
        self._lines: list[CartLine] | None = None

    # --- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(self.items.values())

    def quantity_of(self, product: Product) -> int:
        return self.items.get(str(product.pk), 0)

    def lines(self) -> list[CartLine]:
        """The lines whose products still exist and are on sale (one query)."""
        if self._lines is None:
            products = Product.objects.active().select_related("category", "brand").in_bulk(
                [int(k) for k in self.items if k.isdigit()]
            )
            self._lines = [
                CartLine(products[int(key)], quantity) for key, quantity in self.items.items() if int(key) in products
            ]
        return self._lines

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines()), Decimal("0.00"))

    def personalize_lines(self) -> list[dict[str, Any]]:
        """The lines in the shape ``personalize.update_cart`` and purchase events take."""
        return [{"product": line.product, "quantity": line.quantity, "price": line.unit_price} for line in self.lines()]

    # --- changing -----------------------------------------------------------------------
    def set(self, product: Product, quantity: int) -> int:
        """Set the product's quantity (0 removes it); returns the quantity actually set."""
        quantity = max(0, min(int(quantity), MAX_LINE_QUANTITY, product.stock))
        before = self.quantity_of(product)
        if quantity == before:
            return quantity
        if quantity:
            self.items[str(product.pk)] = quantity
        else:
            self.items.pop(str(product.pk), None)
        delta = quantity - before
        kind = "add_to_cart" if delta > 0 else "remove_from_cart"
        personalize.track(self.request, kind, product=product, quantity=abs(delta))
        self._save()
        return quantity

    def add(self, product: Product, quantity: int = 1) -> int:
        return self.set(product, self.quantity_of(product) + max(1, int(quantity)))

    def remove(self, product: Product) -> None:
        self.set(product, 0)

    def replace(self, lines: Iterable[tuple[Product, int]]) -> None:
        """Rebuild the cart from ``(product, quantity)`` pairs (e.g. a cart-restore link)."""
        self.items = {}
        for product, quantity in lines:
            quantity = max(0, min(int(quantity), MAX_LINE_QUANTITY, product.stock))
            if quantity and product.is_active:
                self.items[str(product.pk)] = quantity
        self._save()

    def clear(self) -> None:
        """Empty the cart after a purchase (the purchase event already empties the snapshot)."""
        self.items = {}
        self._lines = None
        self.request.session[SESSION_KEY] = {}
        self.request.session.modified = True

    def _save(self) -> None:
        self._lines = None
        self.request.session[SESSION_KEY] = dict(self.items)
        self.request.session.modified = True
        personalize.update_cart(self.request, self.personalize_lines())


def restore_cart_hook(request: HttpRequest, lines: list[dict[str, Any]]) -> None:
    """``PERSONALIZE["EMAIL_RESTORE_CART_HOOK"]``: a lifecycle email's restore link refills the
    session cart (``lines``: ``{"product": <Product>, "quantity": n, ...}`` of products that exist)."""
    SessionCart(request).replace((line["product"], line["quantity"]) for line in lines)
