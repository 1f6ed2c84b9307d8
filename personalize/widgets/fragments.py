"""``{% personalize_fragment "similar_products" product limit=8 %}``: a cache- and CDN-safe widget.

The tag renders a **neutral** list (what a first-time visitor gets: no shopper read, no cookie,
nothing personal, the same HTML for everyone) inside a placeholder element carrying a signed
description of the widget::

    <div class="personalize-fragment" data-personalize-fragment="similar_products"
         data-fragment-token="..." data-fragments-url="/personalize/fragments/" data-fragment-pending>
      ...the neutral widget (data-personalize-widget, data-product-id as always)...
    </div>

A page made only of fragments can be served from Django's cache middleware or a CDN: the tag
never touches ``request.shopper``, the session or the user and never marks the response
private. ``beacon.js`` then fills every placeholder of the page from **one** request to
:func:`fragments_view` (``GET /personalize/fragments/?f=<token>&f=<token>...``), answered per
shopper with ``Cache-Control: private`` and ``Vary: Cookie``; a fragment that fails (or a slow
or failed request) keeps its neutral list. Without JavaScript the neutral list is the widget.

Widgets that can be fragments: :data:`WIDGETS`. Arguments are the inline tags' own (``limit``,
``title``, ``template``, ``placement``, ``category``; the product as an object or a key).
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.http import HttpRequest, JsonResponse
from django.template import Context
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from personalize import signing
from personalize.conf import personalize_settings as ps
from personalize.placements.pipeline import recommend_for
from personalize.widgets import history, recommendations
from personalize.widgets.items import placement_items
from personalize.widgets.render import HTML_KEY, PRODUCT_KEY, clamp_limit, current_product_key, render_widget

logger = logging.getLogger("personalize")

register = template.Library()

# Widget name -> its default placement (the inline tag of the same name renders it).
WIDGETS: dict[str, str] = {
    "recommended_for_you": "for_you",
    "similar_products": "similar",
    "frequently_bought_together": "bought_together",
    "trending": "trending",
    # The shopper's own history: its neutral form is empty (a first visit has viewed nothing).
    "recently_viewed": "recently_viewed",
}
# Arguments a fragment keeps (anything else in the tag is refused when the page renders).
ARGUMENTS = ("limit", "title", "template", "placement", "category", "product")
# At most this many fragments filled by one request.
MAX_FRAGMENTS = 20


def _plain(value: Any) -> Any:
    """A tag argument as it travels in the token: objects by key (pk), the rest as text/number."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    return str(getattr(value, "pk", value))


def fragment_token(widget: str, arguments: dict[str, Any]) -> str:
    """The signed description of one fragment (what the batch endpoint renders)."""
    return signing.sign("fragment", {"w": widget, "a": {k: _plain(v) for k, v in arguments.items() if v is not None}})


def neutral_html(widget: str, arguments: dict[str, Any]) -> SafeString:
    """The widget as a first-time visitor sees it: no shopper, no request, the same for everyone."""
    if widget == "recently_viewed":
        return mark_safe("")
    placement = str(arguments.get("placement") or WIDGETS[widget])
    product, category = arguments.get("product"), arguments.get("category")
    title, template_name = arguments.get("title"), arguments.get("template")

    def build() -> dict[str, Any]:
        result = recommend_for(
            None,
            placement,
            limit=clamp_limit(arguments.get("limit"), recommendations.DEFAULT_LIMITS.get(placement, 8)),
            product=product or None,
            category=category,
            products=False,
        )
        return {
            "items": SimpleLazyObject(lambda: placement_items(result)),
            HTML_KEY: ["neutral", widget, result.placement, result.model_version, result.variant, result.keys, title,
                       _plain(product), _plain(category)],
            "title": title,
            "placement": result.placement,
            "model_version": result.model_version,
            "variant": result.variant,
        }

    # No request in the context: nothing marks the response personal, nothing reads a cookie.
    return render_widget(widget, {}, build, template=template_name)


def fragments_url() -> str:
    try:
        return reverse("personalize:fragments")
    except NoReverseMatch:  # personalize.urls not included: the neutral list stays (check W030)
        return ""


@register.simple_tag(takes_context=True)
def personalize_fragment(context: Any, widget: str, product: Any = None, **arguments: Any) -> SafeString:
    """A placeholder with the neutral list, filled for the shopper by ``beacon.js``."""
    if widget not in WIDGETS:
        logger.error("personalize: %r cannot be a fragment (one of %s)", widget, ", ".join(WIDGETS))
        return mark_safe("")
    unknown = set(arguments) - set(ARGUMENTS)
    if unknown:
        logger.error("personalize: fragment %r: unknown arguments %s", widget, ", ".join(sorted(unknown)))
        return mark_safe("")
    if product is None:  # the page's product: the list is about it, or at least leaves it out
        product = current_product_key(context) or None
    arguments = {**arguments, "product": product}
    try:
        token = fragment_token(widget, arguments)
    except Exception:
        logger.exception("personalize: fragment %r could not be described; rendering nothing", widget)
        return mark_safe("")
    return format_html(
        '<div class="personalize-fragment" data-personalize-fragment="{}" data-fragment-token="{}" '
        'data-fragments-url="{}" data-fragment-pending>{}</div>',
        widget, token, fragments_url(), neutral_html(widget, arguments),
    )


def render_personal(request: HttpRequest, token: str) -> str | None:
    """One fragment's HTML for the request's shopper; ``None`` when it failed (keep the neutral)."""
    data = signing.unsign("fragment", token)  # BadSignature: the caller answers 400
    widget, arguments = data.get("w"), data.get("a")
    # Only what fragment_token writes: a known widget, known arguments, scalar values (a validly
    # signed dict or list here once reached ``in WIDGETS`` / the widget code: 500).
    if not isinstance(widget, str) or widget not in WIDGETS or not isinstance(arguments, dict):
        raise signing.BadSignature("not a fragment")
    if set(arguments) - set(ARGUMENTS) or not all(isinstance(v, (int, float, str)) for v in arguments.values()):
        raise signing.BadSignature("not a fragment")
    product = arguments.get("product")
    context = Context({"request": request, PRODUCT_KEY: str(product) if product else ""})
    failed: list[BaseException] = []
    if widget == "recently_viewed":
        html = history.render_recently_viewed(
            context, limit=arguments.get("limit"), title=arguments.get("title"), template=arguments.get("template"),
            errors=failed,
        )
        return None if failed else str(html)
    html = recommendations.render_placement(
        widget, context, str(arguments.get("placement") or WIDGETS[widget]), limit=arguments.get("limit"),
        product=product or None, category=arguments.get("category"), title=arguments.get("title"),
        template_name=arguments.get("template"), errors=failed,
    )
    return None if failed else str(html)


@require_GET
def fragments_view(request: HttpRequest) -> JsonResponse:
    """``GET ?f=<token>&f=<token>``: ``{"fragments": [html or null, ...]}`` in the tokens' order.

    Rendered for the request's shopper in page order (one profile, one page de-duplication);
    always ``Cache-Control: private`` and ``Vary: Cookie``. A bad or foreign token: 400.
    """
    tokens = request.GET.getlist("f")
    if not tokens:
        response = JsonResponse({"detail": str(_("Give at least one fragment (f=).")), "fragments": []}, status=400)
    elif len(tokens) > MAX_FRAGMENTS:
        response = JsonResponse(
            {"detail": str(_("At most %(n)d fragments per request.") % {"n": MAX_FRAGMENTS})}, status=400
        )
    else:
        try:
            html = [render_personal(request, token) for token in tokens]
        except signing.BadSignature:
            response = JsonResponse({"detail": str(_("A fragment token is not valid."))}, status=400)
        else:
            response = JsonResponse({"fragments": html})
    patch_cache_control(response, private=True, max_age=0)
    patch_vary_headers(response, ("Cookie",))
    return response
