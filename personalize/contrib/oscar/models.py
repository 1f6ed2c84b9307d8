"""Which personalize shopper an Oscar basket belongs to.

Oscar's basket signals and model saves carry no request (a line edited in the basket page, a
basket merged at login, an order placed by a payment callback), so the shopper is looked up
here: the basket's owner for a signed-in customer, else the browser that filled it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BasketShopper(models.Model):
    """An Oscar basket (by id: Oscar's basket app may be forked) and the shopper filling it."""

    basket_id = models.PositiveBigIntegerField(_("basket"), unique=True)
    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="+"
    )
    # Codes that arrived with a signed email link: usable by whoever followed it (a typed
    # unique code must belong to the shopper).
    bearer_codes = models.JSONField(_("codes from email links"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("Oscar basket's shopper")
        verbose_name_plural = _("Oscar baskets' shoppers")

    def __str__(self) -> str:
        return f"basket {self.basket_id} → {self.shopper_id}"


# Oscar loads offer conditions and benefits by dotted path from rows ("proxy_class"); they are
# proxy models, so they live with this app's models.
from personalize.contrib.oscar.benefits import (  # noqa: E402,F401
    PersonalizeBenefit,
    PersonalizeCondition,
    PersonalizeFreeShipping,
)
