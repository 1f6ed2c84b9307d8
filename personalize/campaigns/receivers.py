"""Campaign receivers: cache invalidation and the exposure buffer's flush (connected on import).

Purchases are not attributed here: the one rule in ``personalize.attribution`` is computed when a
report asks, and a campaign's lift is measured over its arms' purchases (``campaigns.stats``).
"""

from __future__ import annotations

import atexit
from typing import Any

from django.core.signals import request_finished
from django.db.models.signals import m2m_changed, post_delete, post_save

from personalize import exposures

from personalize.campaigns.specs import invalidate
from personalize.models import (
    Campaign,
    CampaignContent,
    CampaignVariant,
    Offer,
    Segment,
)

for _model in (Campaign, CampaignContent, CampaignVariant, Offer):
    post_save.connect(invalidate, sender=_model, dispatch_uid=f"personalize.campaigns.invalidate.save.{_model.__name__}")
    post_delete.connect(invalidate, sender=_model, dispatch_uid=f"personalize.campaigns.invalidate.del.{_model.__name__}")
m2m_changed.connect(invalidate, sender=Campaign.segments.through, dispatch_uid="personalize.campaigns.invalidate.m2m")


def _segment_changed(sender: Any, **kwargs: Any) -> None:
    invalidate()


# Segments' slugs and active flags are part of the cached campaigns.
post_save.connect(_segment_changed, sender=Segment, dispatch_uid="personalize.campaigns.invalidate.segment")
post_delete.connect(_segment_changed, sender=Segment, dispatch_uid="personalize.campaigns.invalidate.segment_del")

# The exposure buffer (personalize/exposures.py): flushed after a response once it is old
# enough, and when the process exits gracefully.
request_finished.connect(exposures.flush_if_due, dispatch_uid="personalize.campaigns.flush_exposures")
atexit.register(exposures.flush)
