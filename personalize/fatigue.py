"""One fatigue cap across channels: a shopper who just got an offer by email is not shown a
pop-up the same hour, and the other way round.

Campaigns call :func:`may_contact` before showing an offer and :func:`record_contact` after;
lifecycle emails do the same for the email channel (they also keep their own daily cap).
An on-site contact is buffered with the page's exposure (:mod:`personalize.exposures`, one
insert per flush, not a row per page); :func:`may_contact` also reads this process's buffer.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from personalize import exposures
from personalize.conf import personalize_settings as ps
from personalize.identity import is_deferred
from personalize.models import Contact, Shopper


def may_contact(shopper: Shopper | None, *, window_minutes: int | None = None) -> bool:
    """Whether no offer reached this shopper within the fatigue window (any channel)."""
    if shopper is None:
        return True
    minutes = ps.FATIGUE_WINDOW_MINUTES if window_minutes is None else window_minutes
    if minutes <= 0:
        return True
    since = timezone.now() - timedelta(minutes=minutes)
    if exposures.contacted_since(shopper, since):
        return False
    # Not saved: only this process's buffer can hold a contact (a first visit's earlier page).
    return shopper.pk is None or not Contact.objects.filter(shopper=shopper, created_at__gte=since).exists()


def record_contact(shopper: Shopper, channel: str, source: str = "", *, buffered: bool = False) -> Contact | None:
    """Remember that an offer reached the shopper (skipped for unsaved shoppers).

    ``buffered`` (a page's contact): added to the process's buffer and written with its next
    flush (returns ``None``; a first visit's deferred row too); otherwise the row is written at once.
    """
    if shopper is None or (shopper.pk is None and not (buffered and is_deferred(shopper))):
        return None
    if buffered:
        exposures.record_contact(shopper, channel, source, timezone.now())
        return None
    return Contact.objects.create(shopper=shopper, channel=channel, source=source[:100])
