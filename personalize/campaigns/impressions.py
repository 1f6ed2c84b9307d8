"""Recording what a shopper was shown: impressions, the sticky arm, and the offer contact."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from personalize.campaigns.selection import Choice, ShopperState, already_contacted
from personalize.fatigue import record_contact
from personalize.models import (
    CampaignAssignment,
    Contact,
    Shopper,
)


def record_impression(
    shopper: Shopper, choice: Choice, now: datetime | None = None, *, state: ShopperState | None = None
) -> CampaignAssignment:
    """Count an impression (or, for the control, the exposure) and keep the arm sticky.

    A new offer contact is recorded for the fatigue cap. ``state``: the request's state, kept
    in step (and in the session) so the next request needs no query.
    """
    now = now or timezone.now()
    spec = choice.spec
    shown = 0 if choice.is_control else 1
    new_contact = spec.offer is not None and not choice.is_control and not already_contacted(spec, choice.assignment, now)
    assignment = choice.assignment
    if assignment is None:
        try:
            with transaction.atomic():
                assignment = CampaignAssignment.objects.create(
                    campaign_id=spec.id,
                    shopper=shopper,
                    arm=choice.arm,
                    first_seen=now,
                    last_seen=now,
                    impressions=shown,
                    window_start=now,
                    window_impressions=shown,
                )
        except IntegrityError:  # a concurrent request of the same shopper created it
            assignment = CampaignAssignment.objects.get(campaign_id=spec.id, shopper=shopper)
            choice.assignment = assignment
            return record_impression(shopper, choice, now, state=state)
    else:
        # F() keeps concurrent requests' counts right in the database; the object in memory
        # gets the expected values without reading the row back.
        fields: dict[str, Any] = {"last_seen": now, "impressions": F("impressions") + shown}
        if spec.frequency_hours and assignment.window_start <= now - timedelta(hours=spec.frequency_hours):
            fields.update(window_start=now, window_impressions=shown)
            assignment.window_start, assignment.window_impressions = now, shown
        else:
            fields["window_impressions"] = F("window_impressions") + shown
            assignment.window_impressions += shown
        CampaignAssignment.objects.filter(pk=assignment.pk).update(**fields)
        assignment.last_seen = now
        assignment.impressions += shown
    if new_contact:
        record_contact(shopper, Contact.Channel.ONSITE, spec.source)
    if state is not None:
        if new_contact:
            state.contacted()
        # A new contact or a capped campaign changes what the next page decides: saved now.
        state.remember(assignment, counted=bool(spec.frequency_cap) or new_contact)
    return assignment
