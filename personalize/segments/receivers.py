"""Keep cached segment answers honest: definitions changed -> new version; the shopper did
something a live rule looks at, or changed the cart -> that session's cached answer is dropped."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from personalize.models import Segment, SegmentMembership, SegmentRule
from personalize.segments.evaluation import bump_version, invalidate_request, invalidating_event_kinds
from personalize.signals import cart_updated, events_tracked


def _bump(**kwargs: Any) -> None:
    bump_version()


def follow_slug_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A renamed segment keeps the segments built on it: their member-of rules follow."""
    if instance.pk is None:
        return
    old = Segment.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
    if old and old != instance.slug:
        for rule in SegmentRule.objects.filter(kind="segment", params__segment=old):
            rule.params = {**rule.params, "segment": instance.slug}
            rule.save(update_fields=["params"])


def drop_stale_memberships(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A segment switched to live keeps no memberships (they would go stale: emails and the
    recommender read them)."""
    if instance.mode != "materialised":
        SegmentMembership.objects.filter(segment_id=instance.pk).delete()
        if instance.member_count is not None or instance.last_refreshed_at is not None:
            sender.objects.filter(pk=instance.pk).update(member_count=None, last_refreshed_at=None)


def connect() -> None:
    pre_save.connect(follow_slug_change, sender=Segment, dispatch_uid="personalize.segments.slug_change")
    post_save.connect(drop_stale_memberships, sender=Segment, dispatch_uid="personalize.segments.live_memberships")
    for model in (Segment, SegmentRule):
        post_save.connect(_bump, sender=model, dispatch_uid=f"personalize.segments.bump.save.{model.__name__}")
        post_delete.connect(_bump, sender=model, dispatch_uid=f"personalize.segments.bump.delete.{model.__name__}")


@receiver(cart_updated, dispatch_uid="personalize.segments.cart")
def forget_cached_segments(sender: Any, request: Any = None, **kwargs: Any) -> None:
    invalidate_request(request)


@receiver(events_tracked, dispatch_uid="personalize.segments.event")
def forget_after_event(sender: Any, events: Any = (), request: Any = None, **kwargs: Any) -> None:
    """Once per batch: only events a live rule looks at drop the cache (a page view must not,
    or browsing would re-evaluate every page)."""
    if request is None:
        return
    kinds = invalidating_event_kinds()
    if kinds is None or any(event.kind in kinds for event in events):
        invalidate_request(request)


connect()
