"""Offers: the discount rule (:class:`Offer`), single-use codes (:class:`OfferCode`) and every use
at checkout (:class:`Redemption`). Campaigns and lifecycle emails attach an offer (docs/campaigns.md)."""


from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from personalize.pricing import format_price

__all__ = ["Offer", "OfferCode", "Redemption", "normalize_code", "canonical_email"]

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
    first_order_only = models.BooleanField(
        _("first order only"),
        default=False,
        help_text=_("Only for a customer's first order: checked at checkout against the account's and the browser's past orders."),
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
        parts = []
        if self.discount_type == self.DiscountType.PERCENT:
            parts.append(_("%(value)s%% off") % {"value": number_format(self.value.normalize())})
        elif self.discount_type == self.DiscountType.AMOUNT:
            parts.append(_("%(value)s off") % {"value": format_price(self.value)})
        if self.free_shipping:
            parts.append(str(_("free shipping")))
        return " + ".join(str(p) for p in parts)


def normalize_code(code: str) -> str:
    """Codes compare case-insensitively and without surrounding spaces."""
    return (code or "").strip().upper()


# Providers whose addresses ignore dots in the local part (j.doe@ and jdoe@ are one mailbox).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    """The mailbox behind an address, for "once per customer" limits: case folded, spaces
    trimmed, a ``+tag`` dropped, and at Gmail the dots of the local part too
    (``J.Doe+promo@GoogleMail.com`` and ``jdoe@gmail.com`` are one customer). ``""`` for none."""
    address = (address or "").strip().casefold()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return address[:254]
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", "") or local, DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"[:254]


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
    # The customer's address (canonical_email): a shared code's uses are counted per address
    # and account as well as per browser, so fresh cookies with one address get it once.
    email = models.CharField(_("email"), max_length=254, blank=True, default="", db_index=True)
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


