"""``{% load personalize %}``: every widget tag personalize ships.

Each capability keeps its tags in its own module; this library gathers them so a store loads
one name.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from personalize import pricing
from personalize.conf import personalize_settings as ps
from personalize.history import recently_viewed as viewed
from personalize.widgets import campaigns, recommendations, segments
from personalize.widgets.items import product_items
from personalize.widgets.render import clamp_limit, current_product_key, render_widget

register = template.Library()


@register.simple_tag(takes_context=True)
def recently_viewed(context: Any, limit: Any = None, title: str | None = None) -> SafeString:
    """The shopper's recently viewed products, without the one on the current page."""
    def build() -> dict[str, Any]:
        request = context["request"]
        count = clamp_limit(limit, ps.RECENTLY_VIEWED_LIMIT)
        current = current_product_key(context)
        products = viewed(request.shopper, count, exclude={current} if current else None)
        return {"items": product_items(products, placement="recently_viewed"), "title": title}

    return render_widget("recently_viewed", context, build)


def merge_library(other: template.Library) -> None:
    """Add a capability's tags and filters to ``{% load personalize %}``."""
    register.tags.update(other.tags)
    register.filters.update(other.filters)


# Each capability's widgets keep their own library (personalize.widgets.*); one name loads them all.
for library in (pricing.register, recommendations.register, campaigns.register, segments.register):
    merge_library(library)
