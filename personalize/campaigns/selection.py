"""Choosing the campaign a shopper sees at a placement, and recording that they saw it.

The active campaigns of a placement are loaded once per process and kept as plain
:class:`CampaignSpec` objects until a campaign, its content, variants or offer changes (a
generation number in the cache, bumped by signals) or ``CAMPAIGN_CACHE_SECONDS`` pass. A
request then costs: the shopper's segments (:func:`personalize.segments.segments_for`, cached
per session), one query for the shopper's assignments (only when a campaign matches), and one
for the fatigue cap (only when the winner carries an offer).

Eligibility, in order: active and in schedule; targeted segment matched (no segments: all);
not in the store-wide holdout; under the campaign's frequency cap; the personal time limit not
passed; for offers, the cross-channel fatigue cap. Then the shopper's sticky arm decides: a
control shopper sees nothing at this placement (that is what the control measures).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

from personalize import exposures
from personalize.campaigns.specs import (  # noqa: F401 - ARM_SALT: the salt of campaign arms, imported from here too
    ARM_SALT,
    CampaignSpec,
    ContentSpec,
    load_campaigns,
)
from personalize.conf import personalize_settings as ps
from personalize.fatigue import may_contact
from personalize.holdout import in_holdout
from personalize.identity import get_shopper, has_consent
from personalize.models import (
    CONTROL,
    CampaignAssignment,
    Event,
    EventKind,
    Shopper,
)
from personalize.placements.pipeline import profile_of
from personalize.profiles import ShopperProfile
from personalize.segments import segments_for

logger = logging.getLogger("personalize")

PRODUCT_VIEWS_DAYS = 30
# How stale the session's copy of an uncapped campaign's last impression may get (seconds).
LAST_SEEN_REFRESH_SECONDS = 60


# --- choosing --------------------------------------------------------------------------


@dataclass
class Choice:
    """The campaign a shopper gets at a placement and their arm in it."""

    spec: CampaignSpec
    arm: str
    assignment: CampaignAssignment | None
    content: ContentSpec | None
    deadline: datetime | None

    @property
    def is_control(self) -> bool:
        return self.arm == CONTROL


SESSION_KEY = "personalize_campaigns"


def _pack(assignment: CampaignAssignment) -> list:
    return [
        assignment.pk,
        assignment.arm,
        assignment.first_seen.timestamp(),
        assignment.last_seen.timestamp(),
        assignment.impressions,
        assignment.window_start.timestamp(),
        assignment.window_impressions,
    ]


def _unpack(campaign_id: int, shopper_id: int, row: list) -> CampaignAssignment:
    pk, arm, first, last, impressions, window_start, window_impressions = row
    utc = dt_timezone.utc
    return CampaignAssignment(
        pk=pk,
        campaign_id=campaign_id,
        shopper_id=shopper_id,
        arm=arm,
        first_seen=datetime.fromtimestamp(first, utc),
        last_seen=datetime.fromtimestamp(last, utc),
        impressions=impressions,
        window_start=datetime.fromtimestamp(window_start, utc),
        window_impressions=window_impressions,
    )


@dataclass
class ShopperState:
    """What choosing needs to know about one shopper, loaded at most once per request.

    The shopper's assignments and the fatigue answer are also kept in the session (for
    ``CAMPAIGN_STATE_SECONDS`` and ``CAMPAIGN_CONTACT_CHECK_SECONDS``) and updated on every
    impression, so a returning request chooses without a query.
    """

    shopper: Shopper | None
    segments: frozenset[str]
    language: str
    session: Any = None
    assignments: dict[int, CampaignAssignment] | None = None
    contactable: bool | None = None
    product_views: dict[str, int] = field(default_factory=dict)
    # The request's shopper profile (shared with the page's widgets), loaded when asked.
    profile: Callable[[], ShopperProfile] | None = None

    def _stored(self) -> dict | None:
        if self.session is None or self.shopper is None:
            return None
        try:
            stored = self.session.get(SESSION_KEY)
        except Exception:  # a broken session store: fall back to the database
            return None
        if not isinstance(stored, dict) or stored.get("s") != self.shopper.pk:
            return None
        return stored

    def _store(self, **values: Any) -> None:
        if self.session is None or self.shopper is None or self.shopper.pk is None:
            return
        stored = self._stored() or {"s": self.shopper.pk}
        stored.update(values)
        try:
            self.session[SESSION_KEY] = stored
        except Exception:
            logger.debug("personalize: could not keep the campaign state in the session", exc_info=True)

    def assignment(self, campaign_id: int) -> CampaignAssignment | None:
        if self.shopper is None:
            return None
        if self.assignments is None:
            self.assignments = self._load_assignments()
        return self.assignments.get(campaign_id)

    def _load_assignments(self) -> dict[int, CampaignAssignment]:
        if self.shopper.pk is None:
            # Not saved (a first visit's row waits for the flush): what this process holds of it.
            pending: dict[int, CampaignAssignment] = {}
            with_pending(pending, exposures.pending_exposures(self.shopper))
            return pending
        stored = self._stored()
        if stored and "a" in stored and time.time() - stored.get("at", 0) < ps.CAMPAIGN_STATE_SECONDS:
            return {int(cid): _unpack(int(cid), self.shopper.pk, row) for cid, row in stored["a"].items()}
        assignments = {a.campaign_id: a for a in CampaignAssignment.objects.filter(shopper=self.shopper)}
        with_pending(assignments, exposures.pending_exposures(self.shopper))
        self._store(at=time.time(), a={str(cid): _pack(a) for cid, a in assignments.items()})
        return assignments

    def remember(self, assignment: CampaignAssignment, *, counted: bool = True) -> None:
        """Keep a just-recorded impression in the request's and the session's state.

        ``counted=False`` (a campaign without a frequency cap: its counts decide nothing here)
        leaves the session alone while its copy is new and its ``last_seen`` (the fatigue
        window's start) at most :data:`LAST_SEEN_REFRESH_SECONDS` old: a banner shown on every
        page does not rewrite the session on every page.
        """
        if self.assignments is None:
            self.assignments = self._load_assignments()
        self.assignments[assignment.campaign_id] = assignment
        stored = self._stored()
        if stored and "a" in stored:
            kept = stored["a"].get(str(assignment.campaign_id))
            if (
                not counted
                and isinstance(kept, list)
                and kept[0] == assignment.pk
                and kept[1] == assignment.arm
                and assignment.last_seen.timestamp() - kept[3] < LAST_SEEN_REFRESH_SECONDS
            ):
                return
            stored["a"][str(assignment.campaign_id)] = _pack(assignment)
            self._store(a=stored["a"])

    def contacted(self) -> None:
        """An offer just reached the shopper: no other offer for the fatigue window."""
        self.contactable = False
        self._store(fc=[False, time.time() + ps.FATIGUE_WINDOW_MINUTES * 60])

    def views_of(self, product_key: str) -> int:
        """How often the shopper viewed ``product_key`` in the last 30 days (one query, memoised)."""
        if not product_key or self.shopper is None or self.shopper.pk is None:
            return 0
        if product_key not in self.product_views:
            since = timezone.now() - timedelta(days=PRODUCT_VIEWS_DAYS)
            if self.profile is not None:  # the page's profile (one events query for every widget)
                counted = self.profile().views_since(product_key, since)
                if counted is not None:
                    self.product_views[product_key] = counted
                    return counted
            self.product_views[product_key] = Event.objects.filter(
                shopper=self.shopper, kind=EventKind.VIEW, product_key=product_key, created_at__gte=since
            ).count()
        return self.product_views[product_key]

    def may_contact(self) -> bool:
        if self.contactable is None:
            stored = self._stored()
            cached = stored.get("fc") if stored else None
            if cached and time.time() < cached[1]:
                self.contactable = bool(cached[0])
            else:
                self.contactable = may_contact(self.shopper)
                self._store(fc=[self.contactable, time.time() + ps.CAMPAIGN_CONTACT_CHECK_SECONDS])
        return self.contactable


def with_pending(assignments: dict[int, CampaignAssignment], pending: list[exposures.Exposure]) -> None:
    """Add this process's unwritten exposures to the stored assignments (a first visit's second
    page, before the flush): the offer it already showed is not a new contact, its deadline
    runs from the first page."""
    for entry in pending:
        stored = assignments.get(entry.campaign_id)
        if stored is None:
            assignments[entry.campaign_id] = CampaignAssignment(
                campaign_id=entry.campaign_id, shopper_id=entry.shopper_id, arm=entry.arm,
                first_seen=entry.first_seen, last_seen=entry.last_seen, impressions=entry.impressions,
                window_start=entry.window_start or entry.first_seen, window_impressions=entry.window_impressions,
            )
            continue
        stored.last_seen = max(stored.last_seen, entry.last_seen)
        stored.impressions += entry.impressions
        if entry.window_start and entry.window_start > stored.window_start:
            stored.window_start, stored.window_impressions = entry.window_start, entry.window_impressions
        else:
            stored.window_impressions += entry.window_impressions


def request_state(request: Any) -> ShopperState:
    """The request's :class:`ShopperState` (memoised on the request)."""
    state = getattr(request, "_personalize_campaign_state", None)
    if state is None:
        # The real object, not the middleware's lazy proxy: it is saved in place later.
        shopper = get_shopper(request)
        language = getattr(request, "LANGUAGE_CODE", "") or get_language() or settings.LANGUAGE_CODE
        state = ShopperState(
            shopper=shopper,
            segments=segments_for(request),
            language=language,
            session=getattr(request, "session", None),
            profile=lambda: profile_of(request)[1],
        )
        request._personalize_campaign_state = state
    return state


def choose(request: Any, placement: str, *, product_key: str = "") -> Choice | None:
    """The best eligible campaign for the request's shopper at ``placement`` (no writes).

    ``product_key``: the product the page shows (for "viewed N times" campaigns).
    """
    if not has_consent(request):
        return None  # campaigns are assigned and counted per person: none without consent
    state = request_state(request)
    if state.shopper is None or in_holdout(state.shopper):
        return None
    return choose_for(state, placement, product_key=product_key)


def choose_for(
    state: ShopperState, placement: str, now: datetime | None = None, *, product_key: str = ""
) -> Choice | None:
    now = now or timezone.now()
    for spec in load_campaigns(placement):
        if not spec.in_schedule(now) or not spec.targets(state.segments):
            continue
        if spec.min_product_views and state.views_of(product_key) < spec.min_product_views:
            continue
        assignment = state.assignment(spec.id)
        if spec.cap_reached(assignment, now):
            continue
        deadline = spec.deadline(assignment.first_seen if assignment else now)
        if deadline is not None and deadline <= now:
            continue
        arm = assignment.arm if assignment is not None else spec.arm_for(state.shopper)
        if spec.offer is not None and arm != CONTROL and not already_contacted(spec, assignment, now):
            if not state.may_contact():
                continue
        content = None if arm == CONTROL else spec.content(arm, state.language)
        if arm != CONTROL and content is None:
            continue
        return Choice(spec=spec, arm=arm, assignment=assignment, content=content, deadline=deadline)
    return None


def already_contacted(spec: CampaignSpec, assignment: CampaignAssignment | None, now: datetime) -> bool:
    """Showing the same offer again within the fatigue window is not a new contact."""
    if assignment is None or assignment.is_control or not assignment.impressions:
        return False
    return assignment.last_seen >= now - timedelta(minutes=ps.FATIGUE_WINDOW_MINUTES)
