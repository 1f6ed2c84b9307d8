"""The checkout's discount hook.

The shop asks one question, "what discount applies to this cart?", and records the answer with
the order. personalize's campaigns answer it (``personalize.offers.best_offer``) and
``personalize.offers.redeem`` uses it once, inside the order's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import HttpRequest

logger = logging.getLogger("demo_shop")


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
    from personalize.offers import best_offer

    try:
        decision = best_offer(
            request,
            [{"product": line.product, "quantity": line.quantity, "price": line.unit_price} for line in lines],
            code=code,
            shipping=_shipping_fee(),
        )
    except Exception:  # the shop sells without a discount rather than not at all
        logger.exception("demo_shop: could not compute the discount")
        return Discount()
    if not decision.applies:
        return Discount(error=decision.error)
    return Discount(
        amount=decision.discount,
        # The offer ("10% off", in the shopper's language), not the reason: that names the
        # campaign, a marketer's internal label.
        label=decision.offer.describe() if decision.offer is not None else decision.reason,
        code=decision.code,
        free_shipping=decision.free_shipping,
        error=decision.error,
        source=decision,
    )


def _shipping_fee() -> Decimal:
    from demo_shop.orders.checkout import shipping_fee

    return shipping_fee()


def redeem_discount(request: HttpRequest, discount: Discount, order: Any) -> str:
    """Mark the discount used by ``order`` inside the order's transaction.

    Returns "" on success or a message for the shopper when it can no longer be used (for example
    a single-use code another checkout redeemed a moment ago); the order is then rolled back.
    """
    from personalize.offers import OfferDecision, OfferError, redeem

    if not isinstance(discount.source, OfferDecision):
        return ""
    try:
        # The order's address: a shared code "once per customer" is once per address too.
        redeem(request, discount.source, order.number, email=order.email)
    except OfferError as exc:
        return exc.message
    return ""
