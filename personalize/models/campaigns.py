"""Campaigns: targeted, scheduled, translatable content (docs/campaigns.md).

* A :class:`Campaign` has one or more :class:`CampaignVariant` (weights) and its content in
  several languages (:class:`CampaignContent`, one row per variant and language, falling back
  to the campaign's default language).
* :class:`CampaignAssignment` remembers, per shopper, which arm (a variant or the control)
  they are in, and counts impressions and clicks; :class:`CampaignConversion` holds the
  purchases attributed to the campaign.
"""


from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from personalize.models.offers import Offer

__all__ = [
    "CONTROL",
    "Placement",
    "validate_link",
    "default_language",
    "Campaign",
    "CampaignVariant",
    "CampaignContent",
    "CampaignAssignment",
    "CampaignConversion",
]

ZERO = Decimal("0")


def default_language() -> str:
    return settings.LANGUAGE_CODE


CONTROL = "control"


class Placement(models.TextChoices):
    HOME_BANNER = "home_banner", _("Home page banner")
    PRODUCT_PAGE = "product_page", _("Product page")
    CART = "cart", _("Cart")
    CHECKOUT = "checkout", _("Checkout")
    EXIT_INTENT = "exit_intent", _("Exit-intent pop-up")
    EMAIL = "email", _("Email")


class Campaign(models.Model):
    """Content (and optionally an offer) for some segments at one placement, for a while."""

    name = models.CharField(_("name"), max_length=120)
    placement = models.CharField(_("placement"), max_length=32, choices=Placement.choices, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)
    segments = models.ManyToManyField(
        "personalize.Segment",
        verbose_name=_("segments"),
        blank=True,
        related_name="campaigns",
        help_text=_("Shown to shoppers in any of these segments; leave empty for everyone."),
    )
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    show_countdown = models.BooleanField(
        _("show a countdown"), default=False, help_text=_("A limited-time offer: count down to the end.")
    )
    personal_minutes = models.PositiveIntegerField(
        _("personal time limit (minutes)"),
        default=0,
        help_text=_("If set, each shopper has this long after first seeing the campaign (0: until the end)."),
    )
    min_product_views = models.PositiveSmallIntegerField(
        _("product viewed at least"),
        default=0,
        help_text=_(
            "Product page only: show when the shopper has viewed the product on the page at least this many times "
            "in the last 30 days (0: always)."
        ),
    )
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher wins when several campaigns match."))
    frequency_cap = models.PositiveIntegerField(
        _("frequency cap"), default=0, help_text=_("Most times one shopper sees it per period (0: no cap).")
    )
    frequency_hours = models.PositiveIntegerField(
        _("cap period (hours)"), default=24, help_text=_("0: the cap counts for the whole campaign.")
    )
    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    control_percent = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=0,
        validators=[MaxValueValidator(90)],
        help_text=_("Share of matching shoppers who see nothing, to measure the lift."),
    )
    default_language = models.CharField(_("default language"), max_length=16, default=default_language)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-priority", "-starts_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})
        if self.min_product_views and self.placement != Placement.PRODUCT_PAGE:
            raise ValidationError({"min_product_views": _("Only a product page campaign knows which product is shown.")})
        if self.show_countdown and not self.ends_at and not self.personal_minutes:
            raise ValidationError({"show_countdown": _("A countdown needs an end or a personal time limit.")})

    @property
    def source(self) -> str:
        """How contacts, codes and redemptions name this campaign."""
        return f"campaign:{self.pk}"

    def is_live(self, when=None) -> bool:
        when = when or timezone.now()
        return self.is_active and self.starts_at <= when and (self.ends_at is None or when < self.ends_at)


class CampaignVariant(models.Model):
    """An A/B variant of a campaign's content; shoppers are split by weight (sticky)."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(_("key"), max_length=20, default="A")
    weight = models.PositiveIntegerField(_("weight"), default=1, validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["campaign", "key"], name="personalize_variant_key")]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        if self.key == CONTROL:
            raise ValidationError({"key": _("“control” is reserved for the control group.")})


def validate_link(value: str) -> None:
    """A campaign link is a site path or an http(s) URL (never ``javascript:``)."""
    if value.startswith("/") and not value.startswith("//"):
        return
    if urlsplit(value).scheme in ("http", "https") and urlsplit(value).netloc:
        return
    raise ValidationError(_("Enter a path starting with / or an http(s) address."))


class CampaignContent(models.Model):
    """What a campaign shows, for one variant in one language (marketer text, always escaped)."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="contents")
    variant = models.SlugField(_("variant"), max_length=20, default="A")
    # No model choices: the project's LANGUAGES must not leak into the shipped migrations.
    language = models.CharField(_("language"), max_length=16, default=default_language)
    headline = models.CharField(_("headline"), max_length=200)
    text = models.TextField(
        _("text"), blank=True, help_text=_("Placeholders: {first_name}, {code}, {offer}, {free_shipping_gap}; {first_name|there} gives a fallback.")
    )
    image = models.FileField(
        _("image"),
        upload_to="personalize/campaigns/",
        blank=True,
        validators=[FileExtensionValidator(["jpg", "jpeg", "png", "gif", "webp"])],
    )
    image_alt = models.CharField(_("image description"), max_length=200, blank=True)
    cta_label = models.CharField(_("call to action"), max_length=80, blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True, validators=[validate_link])

    class Meta:
        verbose_name = _("content")
        verbose_name_plural = _("contents")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "variant", "language"], name="personalize_content_language")
        ]

    def __str__(self) -> str:
        return f"{self.headline} [{self.variant}/{self.language}]"


class CampaignAssignment(models.Model):
    """A shopper's sticky arm in a campaign, with what they saw and clicked."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="assignments")
    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="campaign_assignments"
    )
    arm = models.CharField(_("arm"), max_length=20, help_text=_("A variant key, or “control”."))
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    impressions = models.PositiveIntegerField(_("impressions"), default=0)
    clicks = models.PositiveIntegerField(_("clicks"), default=0)
    # The frequency cap's current window (a fixed window: cheap, one row per shopper).
    window_start = models.DateTimeField(_("cap window start"), default=timezone.now)
    window_impressions = models.PositiveIntegerField(_("impressions in window"), default=0)

    class Meta:
        verbose_name = _("campaign assignment")
        verbose_name_plural = _("campaign assignments")
        constraints = [models.UniqueConstraint(fields=["campaign", "shopper"], name="personalize_assignment_unique")]
        indexes = [models.Index(fields=["shopper", "-last_seen"], name="personalize_assign_recent")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.arm}"

    @property
    def is_control(self) -> bool:
        return self.arm == CONTROL


class CampaignConversion(models.Model):
    """A purchase attributed to the last campaign the shopper saw (or was held out of)."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="conversions")
    arm = models.CharField(_("arm"), max_length=20)
    shopper = models.ForeignKey("personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="+")
    event = models.OneToOneField(
        "personalize.Event", verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="campaign_conversion"
    )
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, default=ZERO)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign conversion")
        verbose_name_plural = _("campaign conversions")
        indexes = [models.Index(fields=["campaign", "arm"], name="personalize_conv_campaign")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.arm}: {self.value}"
