"""Orders placed in the demo shop (the cart itself lives in the session: see ``cart.py``)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def new_order_number() -> str:
    return "D" + secrets.token_hex(4).upper()


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=16, unique=True, default=new_order_number)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField(_("email"))
    name = models.CharField(_("name"), max_length=120, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PAID)
    subtotal = models.DecimalField(_("subtotal"), max_digits=10, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=10, decimal_places=2, default=Decimal("0"))
    discount_label = models.CharField(_("discount"), max_length=200, blank=True)
    discount_code = models.CharField(_("discount code"), max_length=64, blank=True)
    shipping = models.DecimalField(_("shipping"), max_digits=10, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    language = models.CharField(_("language"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("placed"), db_index=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:confirmation", args=[self.number])


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity
