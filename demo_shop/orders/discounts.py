"""The checkout's discount hook.

The shop asks one question, "what discount applies to this cart?", and records the answer with
the order. personalize's campaigns answer it (``personalize.offers.best_offer``); until they are
wired in here, no discount applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import HttpRequest


@dataclass
class Discount:
    amount: Decimal = Decimal("0.00")
    label: str = ""
    code: str = ""
    free_shipping: bool = False
    # A message for the shopper when a code they typed cannot be used (expired, used, foreign).
    error: str = ""
    # Whatever the offer engine needs later to redeem it (campaign, code object...).
    source: Any = None

    def __bool__(self) -> bool:
        return bool(self.amount) or self.free_shipping


NO_DISCOUNT = Discount()


def apply_discount(request: HttpRequest, lines: list, code: str = "") -> Discount:
    """The discount for ``lines`` (``orders.cart.CartLine``) and an optional code the shopper typed.

    Called on the cart, checkout page and when placing the order. Must never raise.
    """
    return Discount()


def redeem_discount(request: HttpRequest, discount: Discount, order: Any) -> str:
    """Mark the discount used by ``order`` inside the order's transaction.

    Returns "" on success or a message for the shopper when it can no longer be used (for example
    a single-use code another checkout redeemed a moment ago); the order is then rolled back.
    """
    return ""
