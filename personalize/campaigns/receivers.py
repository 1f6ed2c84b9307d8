"""Campaign receivers: cache invalidation and purchase attribution (connected on import)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from personalize.campaigns.selection import invalidate
from personalize.conf import personalize_settings as ps
from personalize.models import (
    Campaign,
    CampaignAssignment,
    CampaignContent,
    CampaignConversion,
    CampaignVariant,
    Event,
    EventKind,
    Offer,
)
from personalize.signals import event_tracked

logger = logging.getLogger("personalize")

for _model in (Campaign, CampaignContent, CampaignVariant, Offer):
    post_save.connect(invalidate, sender=_model, dispatch_uid=f"personalize.campaigns.invalidate.save.{_model.__name__}")
    post_delete.connect(invalidate, sender=_model, dispatch_uid=f"personalize.campaigns.invalidate.del.{_model.__name__}")
m2m_changed.connect(invalidate, sender=Campaign.segments.through, dispatch_uid="personalize.campaigns.invalidate.m2m")


def _segment_changed(sender: Any, **kwargs: Any) -> None:
    invalidate()


try:  # segments' slugs and active flags are part of the cached campaigns
    from personalize.models import Segment

    post_save.connect(_segment_changed, sender=Segment, dispatch_uid="personalize.campaigns.invalidate.segment")
    post_delete.connect(_segment_changed, sender=Segment, dispatch_uid="personalize.campaigns.invalidate.segment_del")
except ImportError:  # pragma: no cover - segments ship together with campaigns
    pass


def attribute_purchase(event: Event) -> CampaignConversion | None:
    """Credit a purchase to the last campaign the shopper saw (or was held out of) in the window."""
    if event.kind != EventKind.PURCHASE:
        return None
    since = event.created_at - timedelta(days=ps.CAMPAIGN_ATTRIBUTION_DAYS)
    last = (
        CampaignAssignment.objects.filter(shopper_id=event.shopper_id, last_seen__gte=since, last_seen__lte=event.created_at)
        .order_by("-last_seen", "-pk")
        .first()
    )
    if last is None:
        return None
    try:
        with transaction.atomic():
            return CampaignConversion.objects.create(
                campaign_id=last.campaign_id,
                arm=last.arm,
                shopper_id=event.shopper_id,
                event=event,
                order_ref=event.order_ref,
                value=event.value or 0,
                created_at=event.created_at,
            )
    except IntegrityError:  # already attributed
        return None


@receiver(event_tracked, dispatch_uid="personalize.campaigns.attribute")
def on_event(sender: Any, event: Event, **kwargs: Any) -> None:
    if event.kind != EventKind.PURCHASE:
        return
    try:
        attribute_purchase(event)
    except Exception:  # attribution must never fail a checkout
        logger.exception("personalize: could not attribute purchase %s to a campaign", event.pk)
