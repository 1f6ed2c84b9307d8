"""``{% load personalize %}``: every widget tag personalize ships.

Each capability keeps its tags in its own module; this library gathers them so a store loads
one name.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Q
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString

from personalize import pricing
from personalize.conf import personalize_settings as ps
from personalize.history import recently_viewed_keys
from personalize.placements.cards import available_keys
from personalize.placements.pipeline import profile_of
from personalize.widgets import campaigns, consent, fragments, recommendations, segments
from personalize.widgets.items import card_items
from personalize.widgets.render import HTML_KEY, clamp_limit, current_product_key, render_widget

register = template.Library()


@register.simple_tag(takes_context=True)
def recently_viewed(context: Any, limit: Any = None, title: str | None = None) -> SafeString:
    """The shopper's recently viewed products, without the one on the current page."""
    def build() -> dict[str, Any]:
        request = context["request"]
        count = clamp_limit(limit, ps.RECENTLY_VIEWED_LIMIT)
        current = current_product_key(context)
        # Over-fetch a little so that out-of-stock or deleted products do not shorten the list;
        # one keys-only stock check, then cached cards: no product rows on a warm page. The
        # views come from the profile the page's other widgets share (one events query).
        shopper, profile = profile_of(request)
        keys = recently_viewed_keys(shopper, count * 2, exclude={current} if current else None, profile=profile)
        shown = available_keys(keys, Q())[:count]
        return {
            "items": SimpleLazyObject(lambda: card_items(shown, placement="recently_viewed")),
            HTML_KEY: ["recently_viewed", shown, title],
            "title": title,
        }

    return render_widget("recently_viewed", context, build)


def merge_library(other: template.Library) -> None:
    """Add a capability's tags and filters to ``{% load personalize %}``."""
    register.tags.update(other.tags)
    register.filters.update(other.filters)


# Each capability's widgets keep their own library (personalize.widgets.*); one name loads them all.
for library in (
    pricing.register, recommendations.register, campaigns.register, segments.register, consent.register, fragments.register,
):
    merge_library(library)
