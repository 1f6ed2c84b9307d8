"""Placement receivers: an edited business rule or a saved product takes effect on the next list;
a shopper who acts gets their cached profile brought up to date (a new state token), one whose
history changed (a merge) gets it reloaded."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from personalize.adapters import get_adapter
from personalize.caching import shoppers as shopper_state
from personalize.models import Cart, Event, PlacementRule, Shopper
from personalize.placements import cards
from personalize.placements.rules import clear_cache
from personalize.profiles import events_stored
from personalize.signals import cart_updated, events_tracked, shopper_merged


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


@receiver(events_tracked, sender=Event, dispatch_uid="personalize.profiles.events")
def shoppers_acted(sender: type, events: list[Event] = (), **kwargs: object) -> None:  # type: ignore[assignment]
    """Once per batch: the shoppers with an event their profile reads get a new state token
    (impressions, page views and the like leave the cached profile alone)."""
    events_stored(events)


@receiver(cart_updated, sender=Cart, dispatch_uid="personalize.profiles.cart")
def cart_changed(sender: type, cart: Cart | None = None, **kwargs: object) -> None:
    if cart is not None:
        shopper_state.touch([cart.shopper_id])  # the next read takes the cart as it is now


@receiver(shopper_merged, sender=Shopper, dispatch_uid="personalize.profiles.merge")
def profiles_merged(sender: type, source: Shopper | None = None, target: Shopper | None = None, **kwargs: object) -> None:
    shopper_state.bump([getattr(source, "pk", None), getattr(target, "pk", None)])
