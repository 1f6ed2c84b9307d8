"""Issuing offer codes: the same shared code for everyone, or a unique single-use code.

:func:`issue_code` is what campaigns and lifecycle emails call to put a code in front of a
shopper; codes issued to a shopper are applied at checkout without typing them
(:mod:`personalize.offers`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from personalize.models import Offer, OfferCode, Shopper, normalize_code

# No 0/O, 1/I/L: codes are read from emails and typed on phones.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RANDOM_LENGTH = 8
ATTEMPTS = 5


def new_code(prefix: str = "") -> str:
    """A random code like ``WELCOME-7KQ2-MX9P`` (40 bits of entropy)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    body = f"{body[:4]}-{body[4:]}"
    prefix = normalize_code(prefix)
    return f"{prefix}-{body}" if prefix else body


def code_expiry(offer: Offer, now=None):
    """When a unique code issued now expires: its validity days, never after the offer ends."""
    now = now or timezone.now()
    expires = now + timedelta(days=offer.code_valid_days) if offer.code_valid_days else None
    if offer.valid_until and (expires is None or offer.valid_until < expires):
        expires = offer.valid_until
    return expires


def issue_code(offer: Offer, shopper: Shopper, *, source: str = "", expires_at=None) -> str:
    """The code to show ``shopper`` for ``offer``.

    A shared code is returned as is. For unique codes the shopper's unused, unexpired code is
    reused (showing the banner twice does not mint two codes), else a new one is created.
    The shopper must be saved (``identity.ensure_shopper``). ``expires_at`` shortens a new
    code's life (a campaign's personal time limit).
    """
    if not offer.is_unique_codes:
        return offer.code
    if shopper is None or shopper.pk is None:
        raise ValueError("A unique code can only be issued to a saved shopper.")
    now = timezone.now()
    existing = (
        OfferCode.objects.filter(offer=offer, shopper=shopper, used_at__isnull=True)
        .exclude(expires_at__lte=now)
        .order_by("-created_at")
        .values_list("code", flat=True)
        .first()
    )
    if existing:
        return existing
    expiry = code_expiry(offer, now)
    if expires_at is not None and (expiry is None or expires_at < expiry):
        expiry = expires_at
    for _attempt in range(ATTEMPTS):
        code = new_code(offer.code_prefix)
        try:
            with transaction.atomic():
                OfferCode.objects.create(
                    offer=offer, shopper=shopper, code=code, source=source[:100], created_at=now, expires_at=expiry
                )
            return code
        except IntegrityError:  # a collision of random codes: try another
            continue
    raise RuntimeError("Could not generate a unique offer code.")
