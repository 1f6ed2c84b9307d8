"""Recording what a shopper was shown: impressions, the sticky arm, and the offer contact.

Nothing is written here: the exposure and the contact go to the process's buffer
(:mod:`personalize.exposures`, flushed in one statement), and the request's state (kept in the
session) is updated so the next page decides without a query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from personalize import exposures
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

    Returns the assignment as it stands after this page (unsaved for a first exposure: its row
    is created by the next flush). A new offer contact is recorded for the fatigue cap.
    ``state``: the request's state, kept in step (and in the session) so the next request
    needs no query.
    """
    now = now or timezone.now()
    spec = choice.spec
    shown = 0 if choice.is_control else 1
    new_contact = spec.offer is not None and not choice.is_control and not already_contacted(spec, choice.assignment, now)
    assignment = choice.assignment
    reset = False
    if assignment is None:
        assignment = CampaignAssignment(
            campaign_id=spec.id, shopper=shopper, arm=choice.arm, first_seen=now, last_seen=now,
            impressions=shown, window_start=now, window_impressions=shown,
        )
        choice.assignment = assignment
    else:
        reset = bool(spec.frequency_hours) and assignment.window_start <= now - timedelta(hours=spec.frequency_hours)
        if reset:
            assignment.window_start, assignment.window_impressions = now, shown
        else:
            assignment.window_impressions += shown
        assignment.last_seen = now
        assignment.impressions += shown
    exposures.record_exposure(
        spec.id, shopper, assignment.arm, now, shown=shown, window_start=assignment.window_start, window_reset=reset
    )
    if new_contact:
        record_contact(shopper, Contact.Channel.ONSITE, spec.source, buffered=True)
    if state is not None:
        if new_contact:
            state.contacted()
        # A new contact or a capped campaign changes what the next page decides: saved now.
        state.remember(assignment, counted=bool(spec.frequency_cap) or new_contact)
    return assignment
