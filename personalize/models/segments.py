"""Segments: named groups of shoppers defined by rules (see ``personalize.segments.rules``).

A *live* segment is evaluated for each request (cached per session for a few minutes); a
*materialised* one is refreshed by a Celery beat job into :class:`SegmentMembership` rows, so
rules that need aggregates over all events run in SQL, in bulk, off the request path.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["Segment", "SegmentRule", "SegmentMembership"]


class Segment(models.Model):
    class Match(models.TextChoices):
        ALL = "all", _("All rules match")
        ANY = "any", _("Any rule matches")

    class Mode(models.TextChoices):
        LIVE = "live", _("Live (evaluated per request)")
        MATERIALISED = "materialised", _("Materialised (refreshed by a background job)")

    # Marketer data, not interface text: stored as typed.
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True, help_text=_("Used in templates: {% if_segment \"slug\" %}."))
    description = models.TextField(_("description"), blank=True)
    match = models.CharField(_("match"), max_length=8, choices=Match.choices, default=Match.ALL)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.LIVE)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Materialised segments only.
    last_refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True, editable=False)
    member_count = models.PositiveIntegerField(_("members"), null=True, blank=True, editable=False)
    # A refresh claims the segment by setting this; a crashed worker's claim goes stale.
    refresh_started_at = models.DateTimeField(_("refresh started"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_materialised(self) -> bool:
        return self.mode == self.Mode.MATERIALISED


class SegmentRule(models.Model):
    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("rule"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    negate = models.BooleanField(_("negate"), default=False, help_text=_("Match shoppers for whom the rule is false."))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("segment rule")
        verbose_name_plural = _("segment rules")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        # Lazy: the rule classes live in the segments layer above the models (import contract).
        from personalize.segments.rules import describe_rule

        return describe_rule(self.kind, self.params, self.negate)


class SegmentMembership(models.Model):
    """A shopper's membership of a materialised segment, as of the segment's last refresh."""

    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="memberships")
    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="segment_memberships"
    )
    since = models.DateTimeField(_("member since"), default=timezone.now)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [models.UniqueConstraint(fields=["segment", "shopper"], name="personalize_segment_member_uniq")]
        indexes = [models.Index(fields=["shopper", "segment"], name="personalize_segmember_shopper")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.shopper_id}"
