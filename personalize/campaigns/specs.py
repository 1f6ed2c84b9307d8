"""The active campaigns as plain specs: loaded once per process per placement, kept until a
campaign, its content, variants or offer changes (a generation in the cache, bumped by signals)
or ``CAMPAIGN_CACHE_SECONDS`` pass.
"""


import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from personalize.caching import VersionedMemo
from personalize.conf import personalize_settings as ps
from personalize.experiments import assign
from personalize.models import (
    Campaign,
    CampaignAssignment,
    CampaignContent,
    CampaignVariant,
    Offer,
    Shopper,
)

logger = logging.getLogger("personalize")

ARM_SALT = "personalize.campaign"


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
