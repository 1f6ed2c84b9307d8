"""Lifecycle-email receivers: purchases are credited to the email whose link was clicked."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from personalize.emails.attribution import attribute_purchase as attribute
from personalize.models import Event, EventKind
from personalize.signals import events_tracked

logger = logging.getLogger("personalize")

# Where the restore view leaves the send it came from (the purchase may happen on that device
# by a shopper personalize has not linked to the email's shopper).
SESSION_SEND_KEY = "personalize_email_send"


@receiver(events_tracked, sender=Event, dispatch_uid="personalize.emails.attribute_purchase")
def attribute_purchase(sender: Any, events: Any = (), request: Any = None, **kwargs: Any) -> None:
    """Once per stored batch (``events_tracked``): with no receiver left on the per-event
    signal, a beacon batch of 20 no longer pays 20 dispatches for a kind it never sends."""
    for event in events:
        if event.kind != EventKind.PURCHASE:
            continue
        try:
            session = getattr(request, "session", None) if request is not None else None
            send_id = session.get(SESSION_SEND_KEY) if session is not None else None
            if attribute(event, send_id) is not None and session is not None:
                session.pop(SESSION_SEND_KEY, None)
        except Exception:  # a checkout never fails because of attribution
            logger.exception("personalize: could not attribute a purchase to a lifecycle email")
