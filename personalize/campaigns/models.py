"""Offers (discounts and codes) and campaigns (targeted, scheduled, translatable content).

Design notes (see docs/campaigns.md):

* An :class:`Offer` is the discount rule; campaigns (on site) and lifecycle emails attach it.
  A shared code is the same for everyone; unique codes are single-use, issued per shopper
  (:class:`OfferCode`). Every use at checkout is a :class:`Redemption` with the order reference.
* A :class:`Campaign` has one or more :class:`CampaignVariant` (weights) and its content in
  several languages (:class:`CampaignContent`, one row per variant and language, falling back
  to the campaign's default language).
* :class:`CampaignAssignment` remembers, per shopper, which arm (a variant or the control)
  they are in, and counts impressions and clicks; :class:`CampaignConversion` holds the
  purchases attributed to the campaign.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Offer",
    "OfferCode",
    "Redemption",
    "Campaign",
    "CampaignVariant",
    "CampaignContent",
    "CampaignAssignment",
    "CampaignConversion",
]

ZERO = Decimal("0")


class Offer(models.Model):
    """A discount rule: percent or amount off and/or free shipping, for all or part of a cart."""

    class DiscountType(models.TextChoices):
        PERCENT = "percent", _("Percent off")
        AMOUNT = "amount", _("Amount off")
        NONE = "none", _("No discount (free shipping only)")

    class Scope(models.TextChoices):
        ALL = "all", _("Whole cart")
        CATEGORIES = "categories", _("Some categories")
        PRODUCTS = "products", _("Some products")

    class CodeMode(models.TextChoices):
        SHARED = "shared", _("One shared code")
        UNIQUE = "unique", _("Unique single-use code per shopper")

    name = models.CharField(_("name"), max_length=120)
    discount_type = models.CharField(_("discount"), max_length=16, choices=DiscountType.choices, default=DiscountType.PERCENT)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text=_("Percent (0-100) or amount in the store's currency."),
    )
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    min_cart_value = models.DecimalField(
        _("minimum cart value"), max_digits=10, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    scope = models.CharField(_("applies to"), max_length=16, choices=Scope.choices, default=Scope.ALL)
    scope_keys = models.JSONField(
        _("category or product keys"), default=list, blank=True, help_text=_("Keys of the categories or products in scope.")
    )
    code_mode = models.CharField(_("code"), max_length=16, choices=CodeMode.choices, default=CodeMode.SHARED)
    code = models.CharField(
        _("shared code"), max_length=32, blank=True, help_text=_("Leave empty for unique codes.")
    )
    code_prefix = models.CharField(_("unique code prefix"), max_length=12, blank=True)
    code_valid_days = models.PositiveIntegerField(
        _("unique codes valid for (days)"), default=14, help_text=_("0: valid as long as the offer.")
    )
    uses_per_shopper = models.PositiveIntegerField(
        _("uses per shopper"), default=1, help_text=_("For a shared code; 0 means unlimited.")
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=~models.Q(code=""), name="personalize_offer_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if self.value is not None and self.value < 0:
            errors.setdefault("value", []).append(_("The value cannot be negative."))
        if self.discount_type == self.DiscountType.PERCENT and self.value is not None and self.value > 100:
            errors.setdefault("value", []).append(_("A percentage cannot be over 100."))
        if self.discount_type in (self.DiscountType.PERCENT, self.DiscountType.AMOUNT) and not self.value:
            errors.setdefault("value", []).append(_("Enter how much the discount is."))
        if self.discount_type == self.DiscountType.NONE and not self.free_shipping:
            errors.setdefault("free_shipping", []).append(_("An offer without a discount must give free shipping."))
        if self.scope != self.Scope.ALL and not self.scope_keys:
            errors.setdefault("scope_keys", []).append(_("Name the categories or products the offer applies to."))
        if self.code_mode == self.CodeMode.SHARED and not self.code.strip():
            errors.setdefault("code", []).append(_("Enter the shared code."))
        if self.code_mode == self.CodeMode.UNIQUE and self.code:
            errors.setdefault("code", []).append(_("Unique codes are generated per shopper: leave this empty."))
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors.setdefault("valid_until", []).append(_("The end must be after the start."))
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        self.code = normalize_code(self.code)
        self.code_prefix = normalize_code(self.code_prefix)
        super().save(*args, **kwargs)

    def is_valid_at(self, when=None) -> bool:
        when = when or timezone.now()
        if not self.is_active:
            return False
        if self.valid_from and when < self.valid_from:
            return False
        return not (self.valid_until and when >= self.valid_until)

    @property
    def is_unique_codes(self) -> bool:
        return self.code_mode == self.CodeMode.UNIQUE

    def describe(self) -> str:
        """A short human description, e.g. "10% off" or "5.00 off + free shipping"."""
        from django.utils.formats import number_format

        parts = []
        if self.discount_type == self.DiscountType.PERCENT:
            parts.append(_("%(value)s%% off") % {"value": number_format(self.value.normalize())})
        elif self.discount_type == self.DiscountType.AMOUNT:
            from personalize.pricing import format_price

            parts.append(_("%(value)s off") % {"value": format_price(self.value)})
        if self.free_shipping:
            parts.append(str(_("free shipping")))
        return " + ".join(str(p) for p in parts)


def normalize_code(code: str) -> str:
    """Codes compare case-insensitively and without surrounding spaces."""
    return (code or "").strip().upper()


class OfferCode(models.Model):
    """A single-use code issued to one shopper."""

    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(_("code"), max_length=48, unique=True)
    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="offer_codes"
    )
    source = models.CharField(_("source"), max_length=100, blank=True, help_text=_("Campaign or email that issued it."))
    created_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("offer code")
        verbose_name_plural = _("offer codes")
        indexes = [models.Index(fields=["shopper", "used_at"], name="personalize_code_shopper")]

    def __str__(self) -> str:
        return self.code

    def is_expired(self, when=None) -> bool:
        return self.expires_at is not None and (when or timezone.now()) >= self.expires_at


class Redemption(models.Model):
    """An offer used at checkout, with the order it went to."""

    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.CASCADE, related_name="redemptions")
    code = models.CharField(_("code"), max_length=48, blank=True)
    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order_ref = models.CharField(_("order reference"), max_length=64)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=ZERO)
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    campaign = models.ForeignKey(
        "personalize.Campaign", verbose_name=_("campaign"), null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions"
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.UniqueConstraint(fields=["offer", "order_ref"], name="personalize_redemption_order"),
        ]

    def __str__(self) -> str:
        return f"{self.code or self.offer} → {self.order_ref}"


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
    from urllib.parse import urlsplit

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
