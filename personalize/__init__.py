"""django-personalize: personalisation for any Django store.

The public API is importable before apps are ready; each function imports its module lazily.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["track", "track_for", "update_cart", "get_shopper", "segments_for", "set_consent", "has_consent", "set_email_consent"]


def track(request: Any, kind: str, product: Any = None, **fields: Any) -> Any:
    """Record an event (``view``, ``search``, ``add_to_cart``, ``purchase``...); never raises."""
    from personalize.events import track as _track

    return _track(request, kind, product, **fields)


def track_for(who: Any, kind: str, product: Any = None, **fields: Any) -> Any:
    """Record an event without a request, for a user, a shopper or an email address (a webhook,
    a payment callback, a staff order); never raises."""
    from personalize.events import track_for as _track_for

    return _track_for(who, kind, product, **fields)


def update_cart(request: Any, lines: Any) -> Any:
    """Set the shopper's cart snapshot from the store's cart lines; never raises."""
    from personalize.events import update_cart as _update_cart

    return _update_cart(request, lines)


def get_shopper(request: Any) -> Any:
    """The request's :class:`~personalize.models.Shopper` (unsaved until something is tracked)."""
    from personalize.identity import get_shopper as _get_shopper

    return _get_shopper(request)


def segments_for(request: Any) -> frozenset[str]:
    """Slugs of the active segments the request's shopper is in (cached per session)."""
    from personalize.segments.evaluation import segments_for as _segments_for

    return _segments_for(request)


def set_consent(request: Any, granted: bool, *, remember: bool = True) -> None:
    """Tell personalize the person's choice (for stores with their own consent manager).

    ``granted=False`` withdraws: the shopper cookie goes and an anonymous profile is erased.
    ``remember=False`` keeps no consent cookie (call it on every request). See docs/privacy.md.
    """
    from personalize.identity.consent import set_consent as _set_consent

    _set_consent(request, granted, remember=remember)


def has_consent(request: Any) -> bool:
    """Whether personalize may store and use data about this request's person."""
    from personalize.identity.consent import has_consent as _has_consent

    return _has_consent(request)


def set_email_consent(request_or_shopper: Any, granted: bool) -> Any:
    """Record whether this shopper (or the request's account) may get lifecycle emails."""
    from personalize.emails.subscriptions import set_email_consent as _set_email_consent

    return _set_email_consent(request_or_shopper, granted)
