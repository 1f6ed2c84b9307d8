"""Recommendation widgets, merged into ``{% load personalize %}``.

``{% recommended_for_you limit=8 %}``, ``{% similar_products product limit=8 %}``,
``{% frequently_bought_together product limit=4 %}``, ``{% trending limit=8 category=c %}``,
``{% search_suggestions limit=6 %}``. Each renders ``personalize/widgets/<name>.html``
(override it in your templates) and renders nothing on error. Every tag takes
``title=`` and ``template=``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString

from personalize.conf import personalize_settings as ps
from personalize.placements.pipeline import recommend_for
from personalize.placements.search import suggestions_for
from personalize.widgets.items import placement_items
from personalize.widgets.render import HTML_KEY, clamp_limit, current_product_key, render_widget

register = template.Library()

DEFAULT_LIMITS = {"for_you": 8, "similar": 8, "bought_together": 4, "trending": 8, "also_viewed": 8}


def _key_of(value: Any) -> str:
    """What a product or category argument adds to a widget's HTML key (its pk, or the value)."""
    return str(getattr(value, "pk", value) if value is not None else "")


def render_placement(
    widget: str,
    context: Any,
    placement: str,
    *,
    limit: Any,
    product: Any = None,
    category: Any = None,
    title: str | None = None,
    template_name: str | None = None,
    errors: list[BaseException] | None = None,
) -> SafeString:
    def build() -> dict[str, Any]:
        request = context["request"]
        current = product if product is not None else current_product_key(context)
        result = recommend_for(
            request,
            placement,
            limit=clamp_limit(limit, DEFAULT_LIMITS.get(placement, 8)),
            product=current or None,
            category=category,
            products=False,  # the cached cards are what the template shows
        )
        return {
            # Built (signed click links) only when the HTML is not held already.
            "items": SimpleLazyObject(lambda: placement_items(result)),
            HTML_KEY: [widget, result.placement, result.model_version, result.variant, result.keys, title,
                       _key_of(product), _key_of(category)],
            "title": title,
            "placement": result.placement,
            "model_version": result.model_version,
            "variant": result.variant,
            "product": product,
            "category": category,
        }

    return render_widget(widget, context, build, template=template_name, errors=errors)


@register.simple_tag(takes_context=True)
def recommended_for_you(
    context: Any, limit: Any = None, placement: str = "for_you", title: str | None = None, template: str | None = None
) -> SafeString:
    """Products for this shopper (``placement=`` picks another configured placement)."""
    return render_placement("recommended_for_you", context, placement, limit=limit, title=title, template_name=template)


@register.simple_tag(takes_context=True)
def similar_products(
    context: Any, product: Any = None, limit: Any = None, placement: str = "similar", title: str | None = None,
    template: str | None = None,
) -> SafeString:
    """Products like ``product`` (default: the page's ``product``/``object``)."""
    return render_placement(
        "similar_products", context, placement, limit=limit, product=product, title=title, template_name=template
    )


@register.simple_tag(takes_context=True)
def frequently_bought_together(
    context: Any, product: Any = None, limit: Any = None, title: str | None = None, template: str | None = None
) -> SafeString:
    """Products bought in the same orders as ``product``."""
    return render_placement(
        "frequently_bought_together", context, "bought_together", limit=limit, product=product, title=title,
        template_name=template,
    )


@register.simple_tag(takes_context=True)
def trending(
    context: Any, limit: Any = None, category: Any = None, title: str | None = None, template: str | None = None
) -> SafeString:
    """Popular products right now, optionally in one category (object or key)."""
    return render_placement(
        "trending", context, "trending", limit=limit, category=category, title=title, template_name=template
    )


@register.simple_tag(takes_context=True)
def search_suggestions(
    context: Any, limit: Any = None, prefix: str = "", title: str | None = None, template: str | None = None
) -> SafeString:
    """Searches that led shoppers like this one to a purchase (trending ones on a first visit)."""
    def build() -> dict[str, Any]:
        request = context["request"]
        result = suggestions_for(request, limit=clamp_limit(limit, 6), prefix=prefix)
        return {
            "suggestions": result.queries,
            "personal": result.personal,
            "title": title,
            "search_url": ps.SEARCH_URL,
            "search_param": ps.SEARCH_PARAM,
        }

    return render_widget("search_suggestions", context, build, template=template)
