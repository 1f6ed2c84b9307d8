"""``{% load personalize %}``: every widget tag personalize ships.

Each capability keeps its tags in its own module; this library gathers them so a store loads
one name.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from personalize import pricing
from personalize.widgets import campaigns, consent, fragments, history, item_html, recommendations, segments

register = template.Library()


@register.simple_tag(takes_context=True)
def recently_viewed(context: Any, limit: Any = None, title: str | None = None) -> SafeString:
    """The shopper's recently viewed products, without the one on the current page."""
    return history.render_recently_viewed(context, limit=limit, title=title)


def merge_library(other: template.Library) -> None:
    """Add a capability's tags and filters to ``{% load personalize %}``."""
    register.tags.update(other.tags)
    register.filters.update(other.filters)


# Each capability's widgets keep their own library (personalize.widgets.*); one name loads them all.
for library in (
    pricing.register, item_html.register, recommendations.register, campaigns.register, segments.register,
    consent.register, fragments.register,
):
    merge_library(library)
