"""Issuing offer codes: the same shared code for everyone, or a unique single-use code.

:func:`issue_code` is what campaigns and lifecycle emails call to put a code in front of a
shopper; codes issued to a shopper are applied at checkout without typing them
(:mod:`personalize.offers`). A campaign issues a unique code when the shopper clicks it or
reveals the code, or at checkout; its banner only shows a code the session already holds
(:func:`shown_code`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from personalize.conf import personalize_settings as ps
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


# Where a page's session remembers the unique codes it showed: {offer pk: [shopper pk, code,
# expiry timestamp or None, checked at]}. A banner shown on every page then costs no query;
# redeeming through a request forgets the entry at once, anything else (another device, a
# payment callback) within CAMPAIGN_STATE_SECONDS.
SESSION_KEY = "personalize_codes"


def _remembered(session: Any, offer: Offer, shopper: Shopper) -> str | None:
    if session is None:
        return None
    try:
        entry = (session.get(SESSION_KEY) or {}).get(str(offer.pk))
    except Exception:  # a broken session store: ask the database
        return None
    if not isinstance(entry, list) or len(entry) != 4 or entry[0] != shopper.pk:
        return None
    _pk, code, expires, checked = entry
    now = time.time()
    if checked + ps.CAMPAIGN_STATE_SECONDS <= now or (expires is not None and expires <= now):
        return None
    return str(code)


def shown_code(session: Any, offer: Offer, shopper: Shopper) -> str:
    """The unique code this session already showed or revealed for ``offer`` ("" if none): a
    page asks the session only; the database is asked when the code is revealed or used."""
    if shopper is None or shopper.pk is None:
        return ""
    return _remembered(session, offer, shopper) or ""


def _remember(session: Any, offer: Offer, shopper: Shopper, code: str, expires: datetime | None) -> None:
    if session is None:
        return
    try:
        codes = dict(session.get(SESSION_KEY) or {})
        codes[str(offer.pk)] = [shopper.pk, code, expires.timestamp() if expires else None, time.time()]
        session[SESSION_KEY] = codes
    except Exception:  # the session is an optimisation only
        return


def forget_codes(session: Any, offer_ids: Iterable[Any]) -> None:
    """Drop the session's remembered codes of these offers (a code was just redeemed)."""
    if session is None:
        return
    try:
        codes = dict(session.get(SESSION_KEY) or {})
        if any(codes.pop(str(pk), None) is not None for pk in list(offer_ids)):
            session[SESSION_KEY] = codes
    except Exception:
        return


def issue_code(
    offer: Offer, shopper: Shopper, *, source: str = "", expires_at=None, session: Any = None, fresh: bool = False
) -> str:
    """The code to show ``shopper`` for ``offer``.

    A shared code is returned as is. For unique codes the shopper's unused, unexpired code is
    reused (showing the banner twice does not mint two codes), else a new one is created.
    The shopper must be saved (``identity.ensure_shopper``). ``expires_at`` shortens a new
    code's life (a campaign's personal time limit). ``session`` (a page's): the code shown is
    remembered there, so showing it again costs no query (:data:`SESSION_KEY`). ``fresh``: the
    shopper was created by this request, so there is no code to reuse (no lookup).
    """
    if not offer.is_unique_codes:
        return offer.code
    if shopper is None or shopper.pk is None:
        raise ValueError("A unique code can only be issued to a saved shopper.")
    remembered = _remembered(session, offer, shopper)
    if remembered:
        return remembered
    now = timezone.now()
    existing = None if fresh else (
        OfferCode.objects.filter(offer=offer, shopper=shopper, used_at__isnull=True)
        .exclude(expires_at__lte=now)
        .order_by("-created_at")
        .values_list("code", "expires_at")
        .first()
    )
    if existing:
        _remember(session, offer, shopper, existing[0], existing[1])
        return existing[0]
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
            _remember(session, offer, shopper, code, expiry)
            return code
        except IntegrityError:  # a collision of random codes: try another
            continue
    raise RuntimeError("Could not generate a unique offer code.")
