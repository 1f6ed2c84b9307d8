"""Unsubscribes: one row per address or shopper; pending retries stop at once."""

from __future__ import annotations

from django.db.models import Q

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

