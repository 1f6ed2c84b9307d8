"""The demo's adapter: the default one (its Product uses the field names the default reads), plus
the live cart, so an offer "on your cart" is judged by the session cart the shopper sees."""

from __future__ import annotations

from typing import Any

from personalize.adapters import DefaultAdapter

from demo_shop.orders.cart import SessionCart


class DemoAdapter(DefaultAdapter):
    def cart_item_count(self, request: Any) -> int | None:
        if getattr(request, "session", None) is None:
            return None
        return sum(line.quantity for line in SessionCart(request).lines())
