"""django-personalize: personalisation for any Django store.

The public API is importable before apps are ready (``import personalize`` happens while Django
loads the app registry, before any model can be imported), so each function resolves its
implementation on first call through :func:`_impl`: the one lazy import of the package.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"
def _impl(module: str, name: str) -> Any:
    """``module.name``, imported on first use (models are not importable before apps are ready)."""
    return getattr(import_module(module), name)


__all__ = ["track", "track_for", "update_cart", "get_shopper", "segments_for", "set_consent", "has_consent", "set_email_consent"]


def track(request: Any, kind: str, product: Any = None, **fields: Any) -> Any:
    """Record an event (``view``, ``search``, ``add_to_cart``, ``purchase``...); never raises."""
    return _impl("personalize.events", "track")(request, kind, product, **fields)


def track_for(who: Any, kind: str, product: Any = None, **fields: Any) -> Any:
    """Record an event without a request, for a user, a shopper or an email address (a webhook,
    a payment callback, a staff order); never raises."""
    return _impl("personalize.events", "track_for")(who, kind, product, **fields)


def update_cart(request: Any, lines: Any) -> Any:
    """Set the shopper's cart snapshot from the store's cart lines; never raises."""
    return _impl("personalize.events", "update_cart")(request, lines)


def get_shopper(request: Any) -> Any:
    """The request's :class:`~personalize.models.Shopper` (unsaved until something is tracked)."""
    return _impl("personalize.identity", "get_shopper")(request)


def segments_for(request: Any) -> frozenset[str]:
    """Slugs of the active segments the request's shopper is in (cached per session)."""
    return _impl("personalize.segments.evaluation", "segments_for")(request)


def set_consent(request: Any, granted: bool, *, remember: bool = True) -> None:
    """Tell personalize the person's choice (for stores with their own consent manager).

    ``granted=False`` withdraws: the shopper cookie goes and an anonymous profile is erased.
    ``remember=False`` keeps no consent cookie (call it on every request). See docs/privacy.md.
    """
    _impl("personalize.identity.consent", "set_consent")(request, granted, remember=remember)


def has_consent(request: Any) -> bool:
    """Whether personalize may store and use data about this request's person."""
    return _impl("personalize.identity.consent", "has_consent")(request)


def set_email_consent(request_or_shopper: Any, granted: bool) -> Any:
    """Record whether this shopper (or the request's account) may get lifecycle emails."""
    return _impl("personalize.emails.subscriptions", "set_email_consent")(request_or_shopper, granted)
