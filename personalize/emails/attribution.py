"""Email clicks, and the order a restore link led to.

``attribute_purchase`` links a purchase to the send whose link was followed (also on another
device, through the session): ``EmailSend.order_ref``. Who gets the *credit* for the order is
decided by the one rule in ``personalize.attribution`` (a redeemed code wins over this click),
which every report reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.models import EmailSend, Event, EventKind

S = EmailSend.Status


def record_click(send: EmailSend, when: datetime | None = None) -> bool:
    """Mark the send clicked (the first click counts); whether this call set it."""
    return bool(EmailSend.objects.filter(pk=send.pk, clicked_at__isnull=True).update(clicked_at=when or timezone.now()))


def attribute_purchase(event: Event, send_id: int | None = None) -> EmailSend | None:
    """Credit a purchase to the email whose link the shopper clicked within the window.

    ``send_id`` is the send the restore link left in the session (another device); else the
    shopper's latest clicked send. One order is credited to one send, a send gets one order.
    """
    if event.kind != EventKind.PURCHASE:
        return None
    window = timedelta(hours=ps.ATTRIBUTION_WINDOW_HOURS)
    candidates = EmailSend.objects.filter(
        status=S.SENT, clicked_at__isnull=False, clicked_at__gte=event.created_at - window, clicked_at__lte=event.created_at, order_ref=""
    )
    send = None
    if send_id:
        send = candidates.filter(pk=send_id).first()
    if send is None:
        send = candidates.filter(shopper_id=event.shopper_id).order_by("-clicked_at").first()
    if send is None:
        return None
    order_ref = event.order_ref or f"event:{event.pk}"
    if EmailSend.objects.filter(order_ref=order_ref).exists():
        return None
    updated = EmailSend.objects.filter(pk=send.pk, order_ref="").update(
        order_ref=order_ref, order_value=event.value, recovered_at=event.created_at
    )
    return send if updated else None
