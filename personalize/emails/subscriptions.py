"""Unsubscribes (one row per address or shopper; pending retries stop at once) and opt-ins."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.identity import get_shopper
from personalize.models import EmailSend, Shopper, Unsubscribe

S = EmailSend.Status


def unsubscribe(shopper: Shopper | None, email: str, *, source: str = "link") -> Unsubscribe:
    """Record that ``email`` (and its shopper) wants no more lifecycle email; idempotent."""
    email = (email or "").strip().lower()
    existing = Unsubscribe.objects.filter(Q(email=email, email__gt="") | Q(shopper=shopper) if shopper else Q(email=email)).first()
    if existing is not None:
        return existing
    unsub = Unsubscribe.objects.create(shopper=shopper, email=email, source=source[:32])
    # A pending retry must not go out after the shopper asked to stop.
    pending = EmailSend.objects.filter(status=S.RETRY)
    pending = pending.filter(Q(shopper=shopper) | Q(email__iexact=email)) if shopper else pending.filter(email__iexact=email)
    pending.update(status=S.SKIPPED, error="unsubscribed", next_attempt_at=None)
    return unsub



def may_email(shopper: Shopper) -> bool:
    """Whether this shopper agreed to lifecycle (marketing) email.

    A guest needs ``email_consent`` (an unticked box the store showed). An account holder needs
    the same, unless ``EMAIL_SIGNUP_CONSENT_COUNTS`` says the store's sign-up asked for it; then
    the adapter's ``user_email_consent(user)`` decides. Unsubscribes and suppression are checked
    separately (``policy``), in bulk.
    """
    if shopper.email_consent:
        return True
    if shopper.user_id and ps.EMAIL_SIGNUP_CONSENT_COUNTS and shopper.user is not None:
        return bool(get_adapter().user_email_consent(shopper.user))
    return False


def consent_q(prefix: str = "") -> Q:
    """The database side of :func:`may_email` (``prefix``: e.g. ``"shopper__"`` from a cart)."""
    condition = Q(**{f"{prefix}email_consent": True})
    if ps.EMAIL_SIGNUP_CONSENT_COUNTS:
        condition |= Q(**{f"{prefix}user__isnull": False})  # the adapter decides per account
    return condition


def set_email_consent(request_or_shopper: Any, granted: bool) -> Shopper | None:
    """Record an opt-in (or opt-out) to lifecycle emails for a shopper or a request's account.

    From a request: the logged-in account's profile (created if missing: the choice itself is
    what the person asked to store), else the request's shopper if it exists. Opting out also
    stops pending retries, like an unsubscribe.
    """
    shopper = request_or_shopper if isinstance(request_or_shopper, Shopper) else _shopper_of(request_or_shopper)
    if shopper is None:
        return None
    shopper.email_consent = bool(granted)
    Shopper.objects.filter(pk=shopper.pk).update(email_consent=shopper.email_consent)
    if not granted:
        EmailSend.objects.filter(shopper=shopper, status=S.RETRY).update(
            status=S.SKIPPED, error="email consent withdrawn", next_attempt_at=None
        )
    return shopper


def _shopper_of(request: Any) -> Shopper | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        shopper, _created = Shopper.objects.get_or_create(user=user)
        return shopper
    shopper = get_shopper(request)
    return shopper if shopper.pk is not None else None
