"""Campaign copy: placeholders filled per shopper ({first_name|there}, {code}, {offer}, {free_shipping_gap})."""

from __future__ import annotations

import re
from decimal import Decimal

from personalize.conf import personalize_settings as ps
from personalize.identity import is_deferred
from personalize.models import (
    Cart,
    Shopper,
)

# {name} or {name|fallback}: the fallback stands in when the value is unknown ("Hi {first_name|there}").
PLACEHOLDER = re.compile(r"\{(first_name|code|offer|free_shipping_gap)(?:\|([^{}]*))?\}")


_GONE = "\x00"


# An empty placeholder takes its separating comma/space with it: "for you, {first_name}." -> "for you."
_ORPHANS = (re.compile(r"^\x00[,;:]?[ \t]*"), re.compile(r"[ \t]*,?[ \t]*\x00(?=[\s.!?,;:]|$)"))


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace the known placeholders (never ``str.format``: marketer text)."""

    def value(match: re.Match) -> str:
        return values.get(match.group(1)) or match.group(2) or _GONE

    filled = PLACEHOLDER.sub(value, text)
    for orphan in _ORPHANS:
        filled = orphan.sub("", filled)
    return filled.replace(_GONE, "")


def needs_value(text: str, name: str) -> bool:
    """Whether ``text`` uses ``{name}`` without a fallback (so it reads wrong when ``name`` is unknown)."""
    return any(match.group(1) == name and match.group(2) is None for match in PLACEHOLDER.finditer(text or ""))


def free_shipping_gap(shopper: Shopper | None) -> Decimal | None:
    """How much more the shopper's cart needs for free shipping (None when not applicable)."""
    threshold = ps.FREE_SHIPPING_THRESHOLD
    if threshold is None or shopper is None or (shopper.pk is None and not is_deferred(shopper)):
        return None

    try:
        value = shopper.cart.value
    except Cart.DoesNotExist:
        value = Decimal("0")
    gap = Decimal(str(threshold)) - value
    return gap if gap > 0 else None
