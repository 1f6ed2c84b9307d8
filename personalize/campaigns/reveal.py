"""Clicks and code reveals: the moments a campaign's exposure becomes worth a row at once.

A page only counts an exposure in the buffer (:mod:`personalize.exposures`) and shows a unique
code's offer with a signed "get your code" link instead of minting a code. The code is issued
when the shopper clicks the campaign, reveals the code, or reaches checkout with the offer
(:func:`personalize.offers.best_offer`): most banners are seen by shoppers who never use them,
and each of those used to cost a code row (and the session write remembering it).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from personalize import exposures
from personalize.campaigns.specs import CampaignSpec, load_all_campaigns
from personalize.experiments import CONTROL
from personalize.models import CampaignAssignment, Shopper
from personalize.offers.codes import issue_code


def spec_of(campaign_id: int) -> CampaignSpec | None:
    """The live campaign with this id (from the process's specs, no query when warm)."""
    return next((s for specs in load_all_campaigns().values() for s in specs if s.id == campaign_id), None)


def arm_of(shopper: Shopper, spec: CampaignSpec) -> str:
    """The shopper's arm: the stored assignment's (sticky), else the deterministic split's."""
    stored = CampaignAssignment.objects.filter(campaign_id=spec.id, shopper=shopper).values_list("arm", flat=True).first()
    return stored or spec.arm_for(shopper)


def record_click(shopper: Shopper, campaign_id: int, arm: str, now: datetime | None = None) -> bool:
    """Count a click on the shopper's assignment; ``False`` (nothing counted) if ``arm`` is not theirs.

    The process's buffered exposures are written first, so the row of a banner seen a second
    ago exists; an exposure still buffered in another worker is created here with the click (the
    deterministic split says whether the shopper is in ``arm``) and gets its impressions when
    that worker flushes.
    """
    exposures.flush()
    if shopper.pk is None:
        return False
    updated = CampaignAssignment.objects.filter(campaign_id=campaign_id, shopper=shopper, arm=arm).update(
        clicks=F("clicks") + 1
    )
    if updated:
        return True
    spec = spec_of(campaign_id)
    if spec is None or arm == CONTROL or CampaignAssignment.objects.filter(campaign_id=campaign_id, shopper=shopper).exists():
        return False  # the campaign ended, or the shopper is stored in another arm
    if spec.arm_for(shopper) != arm:
        return False
    now = now or timezone.now()
    exposures.upsert([exposures.Exposure(campaign_id, shopper.pk, arm, now, now, clicks=1, window_start=now)])
    return True


def reveal_code(shopper: Shopper, spec: CampaignSpec, *, session: object = None) -> str:
    """The shopper's code for the campaign's offer, issued now if they have none (a shared code
    as is); "" when the campaign carries no offer. The personal time limit counts from the
    shopper's first exposure."""
    if spec.offer is None or shopper.pk is None:
        return ""
    first_seen = (
        CampaignAssignment.objects.filter(campaign_id=spec.id, shopper=shopper).values_list("first_seen", flat=True).first()
    )
    deadline = spec.deadline(first_seen or timezone.now()) if spec.personal_minutes else None
    return issue_code(spec.offer, shopper, source=spec.source, expires_at=deadline, session=session)
