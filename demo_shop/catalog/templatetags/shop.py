"""Small template helpers for the demo shop's own templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.utils.formats import number_format

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{getattr(settings, 'SHOP_CURRENCY_SYMBOL', '€')}{number_format(amount, 2, force_grouping=True)}"


@register.simple_tag(takes_context=True)
def cart_count(context: Any) -> int:
    """Items in the session cart (no query)."""
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return 0
    raw = request.session.get("demo_cart") or {}
    return sum(int(v) for v in raw.values())


@register.simple_tag
def nav_categories() -> list:
    from demo_shop.catalog.models import Category

    return list(Category.objects.all())


@register.filter
def initials(title: str) -> str:
    words = [w for w in str(title).split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper()
