"""personalize's core models: shoppers, events, cart snapshots and contacts."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.experiments import bucket

__all__ = ["Shopper", "EventKind", "PRODUCT_KINDS", "PROFILE_KINDS", "Event", "Cart", "Contact", "purchase_lines"]


class Shopper(models.Model):
    """One person shopping: a browser (cookie) until login, then the account's profile."""

    key = models.UUIDField(_("key"), default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="personalize_shopper",
    )
    email = models.EmailField(_("email"), blank=True, help_text=_("Captured at checkout when there is no account."))
    email_consent = models.BooleanField(_("email consent"), default=False)
    language = models.CharField(_("language"), max_length=16, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    device = models.CharField(_("device"), max_length=16, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=1)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now, db_index=True)
    # The store's own customer key (set by imports of order history), to match rows later.
    external_key = models.CharField(_("external key"), max_length=100, blank=True, db_index=True)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("shopper")
        verbose_name_plural = _("shoppers")

    def __str__(self) -> str:
        if self.user_id:
            return str(self.user)
        return _("anonymous %(key)s") % {"key": str(self.key)[:8]}

    def bucket(self, salt: str = "") -> float:
        """A stable number in [0, 1) for this shopper (see :func:`personalize.experiments.bucket`)."""
        return bucket(self.key, salt)

    def get_email(self) -> str:
        if self.user_id and self.user is not None:
            email = get_adapter().user_email(self.user)
            if email:
                return email
        return self.email


class EventKind(models.TextChoices):
    VIEW = "view", _("Product view")
    SEARCH = "search", _("Search")
    ADD_TO_CART = "add_to_cart", _("Add to cart")
    REMOVE_FROM_CART = "remove_from_cart", _("Remove from cart")
    PURCHASE = "purchase", _("Purchase")
    REC_CLICK = "rec_click", _("Recommendation click")
    IMPRESSION = "impression", _("Widget impression")
    CATEGORY_VIEW = "category_view", _("Category view")
    PAGE_VIEW = "page_view", _("Page view")
    # Recorded by the campaign click redirect (context: campaign, arm): attribution reads it.
    CAMPAIGN_CLICK = "campaign_click", _("Campaign click")


# Kinds that must name a product.
PRODUCT_KINDS = {EventKind.VIEW, EventKind.ADD_TO_CART, EventKind.REMOVE_FROM_CART, EventKind.REC_CLICK}
# Kinds a shopper's profile reads (personalize.profiles): storing one renews their cached state.
PROFILE_KINDS = (EventKind.VIEW, EventKind.REC_CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE, EventKind.SEARCH)


class Event(models.Model):
    """Something a shopper did. Append-only; indexed for the queries the features run."""

    shopper = models.ForeignKey(Shopper, verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=32)
    product_key = models.CharField(_("product"), max_length=64, blank=True, default="")
    quantity = models.IntegerField(_("quantity"), default=1)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)
    query = models.CharField(_("search query"), max_length=255, blank=True, default="")
    order_ref = models.CharField(_("order reference"), max_length=64, blank=True, default="")
    # placement, model_version, referrer, utm_*, lines (for purchases), source ("server"/"beacon")
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    # The browser's own id for the event (beacon ``id``): a retried batch stores each event once.
    client_id = models.CharField(_("client event id"), max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["shopper", "kind", "-created_at"], name="personalize_ev_shopper"),
            models.Index(fields=["kind", "created_at"], name="personalize_ev_kind_time"),
            models.Index(fields=["product_key", "kind"], name="personalize_ev_product"),
            models.Index(fields=["created_at"], name="personalize_ev_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_key or self.query}".strip()

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The purchase's order lines (see :func:`purchase_lines`)."""
        return purchase_lines(self.context)


def purchase_lines(context: Any) -> list[dict[str, Any]]:
    """The order lines in an event's ``context`` as ``{"product": str, "quantity": int, "price"}``.

    The one reader of ``context["lines"]`` (training, popularity, profiles, search statistics
    and the admin all expand purchases through it); malformed lines are left out.
    """
    raw = context.get("lines") if isinstance(context, dict) else None
    lines = []
    for line in raw if isinstance(raw, list) else ():
        if not isinstance(line, dict) or not line.get("product"):
            continue
        try:
            quantity = max(int(line.get("quantity") or 1), 1)
        except (TypeError, ValueError):
            quantity = 1
        lines.append({"product": str(line["product"]), "quantity": quantity, "price": line.get("price")})
    return lines


class Cart(models.Model):
    """The latest known cart of a shopper (lines are product keys, quantities and prices)."""

    shopper = models.OneToOneField(Shopper, verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="cart")
    lines = models.JSONField(_("lines"), default=list, blank=True)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, default=Decimal("0"))
    item_count = models.PositiveIntegerField(_("items"), default=0)
    language = models.CharField(_("language"), max_length=16, blank=True)
    # Bumped when the cart's contents change, so lifecycle flows know when to restart.
    revision = models.PositiveIntegerField(_("revision"), default=0)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self) -> str:
        return _("cart of %(shopper)s") % {"shopper": self.shopper}

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def product_keys(self) -> list[str]:
        return [str(line["product"]) for line in self.lines]


class Contact(models.Model):
    """An offer or message that reached a shopper: on site or by email (the fatigue cap)."""

    class Channel(models.TextChoices):
        ONSITE = "onsite", _("On site")
        EMAIL = "email", _("Email")

    shopper = models.ForeignKey(Shopper, verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="contacts")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    source = models.CharField(_("source"), max_length=100, blank=True, help_text=_("Campaign or flow that made it."))
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["shopper", "-created_at"], name="personalize_contact_recent")]

    def __str__(self) -> str:
        return f"{self.channel} {self.source}"
