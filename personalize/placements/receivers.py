"""Placement receivers: an edited business rule or a saved product takes effect on the next list."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from personalize.adapters import get_adapter
from personalize.models import PlacementRule
from personalize.placements import cards
from personalize.placements.rules import clear_cache


@receiver(post_save, sender=PlacementRule, dispatch_uid="personalize.placement_rules.save")
@receiver(post_delete, sender=PlacementRule, dispatch_uid="personalize.placement_rules.delete")
def rules_changed(**kwargs: object) -> None:
    clear_cache()


@receiver(post_save, dispatch_uid="personalize.cards.product_save")
@receiver(post_delete, dispatch_uid="personalize.cards.product_delete")
def product_changed(sender: type, **kwargs: object) -> None:
    """A saved or deleted product rebuilds the cached cards and stock checks (every model's
    signal arrives here: the product model is a setting that tests and stores may change)."""
    try:
        model = get_adapter().get_product_model()
    except ImproperlyConfigured:
        return
    if sender is model or issubclass(sender, model):
        cards.invalidate()
