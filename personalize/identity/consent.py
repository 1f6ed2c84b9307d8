"""Consent to personalisation: until a person agrees, personalize stores and sets nothing.

The choice comes from the banner (``{% personalize_consent %}`` posting to
:func:`personalize.identity.views.consent`) or from the store's own consent manager through
:func:`set_consent`. It is remembered in a small cookie of its own (``CONSENT_COOKIE_NAME``),
which is strictly necessary: it records a refusal as much as an acceptance.

``CONSENT_REQUIRED`` (on by default) makes "no choice yet" count as "no". ``DNT: 1`` and
``Sec-GPC: 1`` count as "no" even when consent is not required (``CONSENT_HONOR_DNT``,
``CONSENT_HONOR_GPC``); a person who then explicitly accepts is tracked: their specific choice
beats a browser-wide setting. See docs/privacy.md.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse

from personalize import signals
from personalize.conf import personalize_settings as ps
from personalize.models import Shopper

logger = logging.getLogger("personalize")

GRANTED, DENIED = "granted", "denied"
# The request's explicit choice, set by set_consent (wins over the cookie for this request).
CHOICE_ATTR = "_personalize_consent_choice"
# (granted, remember) waiting to be written to the response.
PENDING_ATTR = "_personalize_consent_pending"


def cookie_choice(request: HttpRequest) -> bool | None:
    """The choice remembered in the consent cookie: ``True``, ``False`` or ``None`` (none yet)."""
    value = request.COOKIES.get(ps.CONSENT_COOKIE_NAME, "")
    return {GRANTED: True, DENIED: False}.get(value)


def explicit_choice(request: HttpRequest | None) -> bool | None:
    """What the person chose (this request's :func:`set_consent`, else the cookie)."""
    if request is None:
        return None
    chosen = getattr(request, CHOICE_ATTR, None)
    return chosen if chosen is not None else cookie_choice(request)


def browser_opts_out(request: HttpRequest) -> bool:
    """``DNT: 1`` or ``Sec-GPC: 1`` sent, and honoured by the settings."""
    meta = request.META
    return (ps.CONSENT_HONOR_DNT and meta.get("HTTP_DNT", "").strip() == "1") or (
        ps.CONSENT_HONOR_GPC and meta.get("HTTP_SEC_GPC", "").strip() == "1"
    )


def has_consent(request: HttpRequest | None) -> bool:
    """Whether personalize may store and use data about this request's person.

    ``None`` (server-side work without a request: imports, jobs) is allowed: those act on
    profiles that only exist because consent was given when they were made.
    """
    if request is None:
        return True
    chosen = explicit_choice(request)
    if chosen is not None:
        return chosen
    if browser_opts_out(request):
        return False
    return not ps.CONSENT_REQUIRED


def needs_asking(request: HttpRequest | None) -> bool:
    """Whether the banner should ask: consent required, no choice yet, no browser opt-out."""
    if request is None or not ps.CONSENT_REQUIRED:
        return False
    return explicit_choice(request) is None and not browser_opts_out(request)


def set_consent(request: HttpRequest, granted: bool, *, remember: bool = True) -> None:
    """Record the person's choice for this request and (``remember``) in the consent cookie.

    For stores with their own consent manager: call it with what the person chose (in a
    middleware before ``PersonalizeMiddleware``, or in the view that receives the choice).
    ``granted=False`` withdraws: the shopper cookie is deleted on the response and listeners of
    ``personalize.signals.consent_changed`` (the privacy receivers) erase an anonymous profile.
    """
    granted = bool(granted)
    before = has_consent(request)
    setattr(request, CHOICE_ATTR, granted)
    if remember and cookie_choice(request) is not granted:
        setattr(request, PENDING_ATTR, granted)
    # The shopper resolved earlier in this request was resolved under the old choice.
    if hasattr(request, "_personalize_shopper"):
        del request._personalize_shopper
    if before != granted:
        signals.consent_changed.send(sender=set_consent, request=request, granted=granted)


def apply_to_response(request: HttpRequest, response: HttpResponse) -> None:
    """Write a pending choice to the consent cookie; drop the shopper cookie on withdrawal."""
    pending = getattr(request, PENDING_ATTR, None)
    if pending is not None:
        response.set_cookie(
            ps.CONSENT_COOKIE_NAME,
            GRANTED if pending else DENIED,
            max_age=int(ps.CONSENT_COOKIE_AGE_DAYS) * 24 * 3600,
            secure=ps.COOKIE_SECURE,
            httponly=False,  # a store's own scripts may read the choice
            samesite="Lax",
        )
        delattr(request, PENDING_ATTR)
    if getattr(request, CHOICE_ATTR, None) is False and ps.COOKIE_NAME in request.COOKIES:
        response.delete_cookie(ps.COOKIE_NAME, samesite=ps.COOKIE_SAMESITE)


def account_shopper(request: HttpRequest | None) -> Shopper | None:
    """The logged-in account's saved profile, whatever the consent: for what the store owes the
    person under its contract (a discount code issued to them is theirs at checkout), never for
    personalisation. Read only; ``None`` for a visitor without an account or profile."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return Shopper.objects.filter(user=user).first()
