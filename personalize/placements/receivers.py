"""Placement receivers: an edited business rule takes effect on the next list."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from personalize.models import PlacementRule
from personalize.placements.rules import clear_cache


@receiver(post_save, sender=PlacementRule, dispatch_uid="personalize.placement_rules.save")
@receiver(post_delete, sender=PlacementRule, dispatch_uid="personalize.placement_rules.delete")
def rules_changed(**kwargs: object) -> None:
    clear_cache()
