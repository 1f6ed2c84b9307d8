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

from personalize.caching import VersionedMemo
from personalize.conf import personalize_settings as ps
from personalize.experiments import assign
from personalize.fatigue import may_contact
from personalize.holdout import in_holdout
from personalize.identity import get_shopper, has_consent
from personalize.placements.pipeline import profile_of
from personalize.profiles import ShopperProfile
from personalize.models import (
    CONTROL,
    Campaign,
    CampaignAssignment,
    CampaignContent,
    CampaignVariant,
    Event,
    EventKind,
    Offer,
    Shopper,
)
from personalize.segments import segments_for

logger = logging.getLogger("personalize")

ARM_SALT = "personalize.campaign"
PRODUCT_VIEWS_DAYS = 30
# How stale the session's copy of an uncapped campaign's last impression may get (seconds).
LAST_SEEN_REFRESH_SECONDS = 60


@dataclass(frozen=True)
class ContentSpec:
    headline: str
    text: str
    image_url: str
    image_alt: str
    cta_label: str
    link: str
    language: str


@dataclass
class CampaignSpec:
    """A campaign as the request path needs it: no further queries to use it."""

    id: int
    name: str
    placement: str
    priority: int
    starts_at: datetime
    ends_at: datetime | None
    segments: frozenset[str]
    frequency_cap: int
    frequency_hours: int
    control_percent: int
    personal_minutes: int
    min_product_views: int
    show_countdown: bool
    default_language: str
    variants: tuple[tuple[str, int], ...]
    contents: dict[tuple[str, str], ContentSpec] = field(default_factory=dict)
    offer: Offer | None = None

    @property
    def source(self) -> str:
        return f"campaign:{self.id}"

    def in_schedule(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def targets(self, slugs: frozenset[str]) -> bool:
        return not self.segments or not self.segments.isdisjoint(slugs)

    def arm_for(self, shopper: Shopper) -> str:
        """The shopper's arm from a stable hash: control first, then variants by weight."""
        return assign(shopper.key, f"{ARM_SALT}:{self.id}", self.variants, self.control_percent / 100)

    def content(self, variant: str, language: str) -> ContentSpec | None:
        """The variant's content in ``language``, else its base language, else the default."""
        base = language.split("-")[0]
        for lang in (language, base, self.default_language, self.default_language.split("-")[0]):
            found = self.contents.get((variant, lang))
            if found is not None:
                return found
        return next((c for (v, _l), c in self.contents.items() if v == variant), None)

    def deadline(self, first_seen: datetime | None) -> datetime | None:
        """When the offer ends for a shopper who first saw it at ``first_seen``."""
        ends = [self.ends_at] if self.ends_at else []
        if self.personal_minutes and first_seen is not None:
            ends.append(first_seen + timedelta(minutes=self.personal_minutes))
        return min(ends) if ends else None

    def cap_reached(self, assignment: CampaignAssignment | None, now: datetime) -> bool:
        if not self.frequency_cap or assignment is None:
            return False
        if self.frequency_hours and assignment.window_start <= now - timedelta(hours=self.frequency_hours):
            return False  # the window is over: a fresh one starts at the next impression
        return assignment.window_impressions >= self.frequency_cap


# --- loading and caching ---------------------------------------------------------------

def _load_by_placement() -> dict[str, list[CampaignSpec]]:
    by_placement: dict[str, list[CampaignSpec]] = {}
    for spec in _query_campaigns():
        by_placement.setdefault(spec.placement, []).append(spec)
    return by_placement


definitions = VersionedMemo("campaigns", _load_by_placement, lambda: ps.CAMPAIGN_CACHE_SECONDS)


def invalidate(**kwargs: Any) -> None:
    """Forget the cached campaigns in every process (signal receiver)."""
    definitions.bump()


def load_campaigns(placement: str) -> list[CampaignSpec]:
    """Active campaigns not yet ended at ``placement``, best first (cached, see module doc)."""
    return load_all_campaigns().get(placement, [])


def load_all_campaigns() -> dict[str, list[CampaignSpec]]:
    """Every placement's campaigns: one load (four queries) for all placements."""
    return definitions.get()


def _query_campaigns() -> list[CampaignSpec]:
    """Four plain queries (no per-instance prefetch: that costs more than the rows)."""
    from django.core.files.storage import default_storage
    from django.db.models import Q

    now = timezone.now()
    campaigns = list(
        Campaign.objects.filter(is_active=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .filter(Q(offer__isnull=True) | Q(offer__is_active=True))
        .select_related("offer")
        .order_by("-priority", "-starts_at", "pk")
    )
    ids = [c.pk for c in campaigns]
    contents: dict[int, dict[tuple[str, str], ContentSpec]] = {}
    for row in CampaignContent.objects.filter(campaign_id__in=ids).values(
        "campaign_id", "variant", "language", "headline", "text", "image", "image_alt", "cta_label", "link"
    ):
        contents.setdefault(row["campaign_id"], {})[(row["variant"], row["language"])] = ContentSpec(
            headline=row["headline"],
            text=row["text"],
            image_url=default_storage.url(row["image"]) if row["image"] else "",
            image_alt=row["image_alt"],
            cta_label=row["cta_label"],
            link=row["link"],
            language=row["language"],
        )
    weights: dict[int, dict[str, int]] = {}
    for campaign_id, key, weight in CampaignVariant.objects.filter(campaign_id__in=ids).values_list(
        "campaign_id", "key", "weight"
    ):
        weights.setdefault(campaign_id, {})[key] = weight
    targeted: dict[int, set[str]] = {}
    active: dict[int, set[str]] = {}
    through = Campaign.segments.through
    for campaign_id, slug, is_active in through.objects.filter(campaign_id__in=ids).values_list(
        "campaign_id", "segment__slug", "segment__is_active"
    ):
        targeted.setdefault(campaign_id, set()).add(slug)
        if is_active:
            active.setdefault(campaign_id, set()).add(slug)
    specs = []
    for campaign in campaigns:
        content = contents.get(campaign.pk)
        if not content:
            continue  # nothing to show
        if targeted.get(campaign.pk) and not active.get(campaign.pk):
            continue  # every targeted segment is switched off: nobody, not everybody
        # A variant is any key the content uses; weights are optional (default 1).
        own = weights.get(campaign.pk, {})
        variants = tuple((key, own.get(key, 1)) for key in sorted({variant for variant, _lang in content}))
        specs.append(
            CampaignSpec(
                id=campaign.pk,
                name=campaign.name,
                placement=campaign.placement,
                priority=campaign.priority,
                starts_at=campaign.starts_at,
                ends_at=campaign.ends_at,
                segments=frozenset(active.get(campaign.pk, ())),
                frequency_cap=campaign.frequency_cap,
                frequency_hours=campaign.frequency_hours,
                control_percent=campaign.control_percent,
                personal_minutes=campaign.personal_minutes,
                min_product_views=campaign.min_product_views,
                show_countdown=campaign.show_countdown,
                default_language=campaign.default_language or settings.LANGUAGE_CODE,
                variants=variants,
                contents=content,
                offer=campaign.offer,
            )
        )
    return specs


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
        if self.shopper is None or self.shopper.pk is None:
            return None
        if self.assignments is None:
            self.assignments = self._load_assignments()
        return self.assignments.get(campaign_id)

    def _load_assignments(self) -> dict[int, CampaignAssignment]:
        stored = self._stored()
        if stored and "a" in stored and time.time() - stored.get("at", 0) < ps.CAMPAIGN_STATE_SECONDS:
            return {int(cid): _unpack(int(cid), self.shopper.pk, row) for cid, row in stored["a"].items()}
        assignments = {a.campaign_id: a for a in CampaignAssignment.objects.filter(shopper=self.shopper)}
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
