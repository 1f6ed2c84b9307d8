"""A fake payment provider: every card is charged except the documented test card."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from demo_shop.orders.forms import DECLINED_CARD


class PaymentDeclined(Exception):
    pass


def charge(card_number: str, amount: Decimal) -> str:
    """Charge ``amount``; returns a transaction id or raises :class:`PaymentDeclined`."""
    if card_number == DECLINED_CARD:
        raise PaymentDeclined(_("Your card was declined. Try another card."))
    return f"fake_{card_number[-4:]}_{amount}"
