"""Prices as the store writes them: ``PERSONALIZE["PRICE_FORMAT"]`` around a localised amount.

Widgets and emails show prices from the adapter; without this they would print a bare
``57.98`` where the store shows ``€57.98`` (or ``57,98 zł``). ``{{ price|price }}`` in any
template after ``{% load personalize %}``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import number_format

from personalize.conf import personalize_settings as ps

__all__ = ["format_price", "register"]

register = template.Library()


def format_price(value: Any) -> str:
    """``value`` with two decimals in the active language's format, inside ``PRICE_FORMAT``."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return str(ps.PRICE_FORMAT).replace("{amount}", number_format(amount, 2, force_grouping=True))


@register.filter(name="price")
def price_filter(value: Any) -> str:
    return format_price(value)
