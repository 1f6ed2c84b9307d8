"""Business rules per placement, and the proxy model behind the recommendation report."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from personalize.models.core import Event

__all__ = ["PlacementRule", "RecommendationReport"]


class PlacementRule(models.Model):
    """A filter on the store's product model for one placement (or every placement).

    ``include`` and ``exclude`` are ORM lookups, e.g. ``{"margin__gte": "0.2"}`` or
    ``{"category__name__in": ["Gift cards"]}``; they are applied to live product data in the
    same query that loads the list.
    """

    name = models.CharField(_("name"), max_length=100)
    placement = models.CharField(
        _("placement"), max_length=64, blank=True, help_text=_("Leave empty to apply to every placement.")
    )
    include = models.JSONField(
        _("only products matching"), default=dict, blank=True, help_text=_('ORM lookups, e.g. {"margin__gte": "0.2"}.')
    )
    exclude = models.JSONField(
        _("never products matching"),
        default=dict,
        blank=True,
        help_text=_('ORM lookups, e.g. {"category__name__in": ["Gift cards"]}.'),
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("placement rule")
        verbose_name_plural = _("placement rules")
        ordering = ["placement", "name"]

    def __str__(self) -> str:
        return f"{self.placement or '*'}: {self.name}"


class RecommendationReport(Event):
    """Impressions, clicks and attributed revenue per placement, model version and variant.

    A proxy of :class:`~personalize.models.Event`: its admin shows aggregates, not rows.
    """

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = _("recommendation performance")
        verbose_name_plural = _("recommendation performance")
