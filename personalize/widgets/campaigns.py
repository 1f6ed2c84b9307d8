"""``{% personalized_content "placement" %}`` and ``{% greeting %}`` (merged into ``{% load personalize %}``)."""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from personalize import signing
from personalize.adapters import get_adapter
from personalize.campaigns import specs
from personalize.campaigns.content import fill_placeholders, free_shipping_gap, needs_value
from personalize.campaigns.impressions import record_impression
from personalize.campaigns.selection import choose, request_state
from personalize.holdout import in_holdout
from personalize.identity import ensure_shopper, get_shopper, is_new
from personalize.models import Cart, Placement
from personalize.offers.codes import shown_code
from personalize.pricing import format_price
from personalize.widgets.render import HTML_KEY, current_product_key, render_widget

register = template.Library()
logger = logging.getLogger("personalize")

def _signed_url(kind: str, payload: list, view: str, fallback: str = "") -> str:
    """The URL of ``view`` with ``payload`` signed as ``kind``; ``fallback`` when personalize.urls
    is not included (check W030)."""
    try:
        return reverse(f"personalize:{view}", args=[signing.sign_shared(kind, payload)])
    except NoReverseMatch:
        return fallback


def click_url(campaign_id: int, arm: str, link: str) -> str:
    """A signed redirect that counts the click, then goes to ``link`` (no open redirect)."""
    return _signed_url("campaign_click", [campaign_id, arm, link], "campaign_click", fallback=link)


def seen_url(campaign_id: int, arm: str) -> str:
    """A signed link the browser posts when a deferred campaign (exit intent) is shown."""
    return _signed_url("campaign_seen", [campaign_id, arm], "campaign_seen")


def code_url(campaign_id: int, arm: str) -> str:
    """The signed "get your code" link: issues the shopper's unique code when followed."""
    return _signed_url("campaign_code", [campaign_id, arm], "campaign_code")


# Stands in for {code} until the text is escaped; then becomes the "get your code" link.
REVEAL = "\x01"


def reveal_link(url: str) -> SafeString:
    return format_html(
        '<a class="personalize-campaign-reveal" href="{}" data-personalize-reveal rel="nofollow">{}</a>',
        url, _("Get your code"),
    )


def with_reveal(text: str, url: str) -> str | SafeString:
    """Marketer text whose {code} is not issued yet: escaped, with the reveal link in its place."""
    if REVEAL not in text:
        return text
    if not url:
        return text.replace(REVEAL, "")
    return mark_safe(str(reveal_link(url)).join(escape(part) for part in text.split(REVEAL)))


def _signed_in(request: Any) -> bool:
    """Whether an account is signed in: its pages' HTML is never shared (a store's template may
    show anything of the user)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def first_name(request: Any) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return get_adapter().user_first_name(user)


# Placements whose offers are about the cart: an offer there is shown only while it holds something.
CART_PLACEMENTS = {Placement.CART, Placement.CHECKOUT, Placement.EXIT_INTENT}


def cart_items(request: Any, shopper: Any) -> int:
    """Items in the store's cart now, read through the adapter (``cart_item_count``); the snapshot
    the store last reported (``update_cart``) only when the adapter cannot tell."""
    try:
        live = get_adapter().cart_item_count(request)
    except Exception:  # noqa: BLE001 - a broken store hook must not break the page
        logger.warning("personalize: the adapter's cart_item_count failed; using the cart snapshot", exc_info=True)
        live = None
    if live is not None:
        return int(live)
    try:
        return shopper.cart.item_count
    except Cart.DoesNotExist:
        return 0


def _nothing() -> dict[str, Any]:
    """No content for this shopper here: the template's empty output, the same for everyone."""
    return {"campaign": None, HTML_KEY: ["campaign", None]}


def _shared_key(data: dict[str, Any]) -> list[Any]:
    """The HTML key of campaign content that names no shopper: the campaign definitions'
    generation (an edit of anything the template may read) and every value shown."""
    shown = {name: value for name, value in data.items() if name != "campaign"}
    return ["campaign", data["campaign"].id, specs.definitions.version(), sorted(shown.items())]


@register.simple_tag(takes_context=True)
def personalized_content(context: Any, placement: str) -> SafeString:
    """The best eligible campaign for ``placement``; records the impression. Renders "" if none.

    Exit-intent campaigns are counted when they open (``seen_url``), not when the page renders.
    A unique code is not issued here: the content shows a signed "get your code" link
    (:func:`code_url`) until the shopper clicks, reveals or uses it.
    """

    def build() -> dict[str, Any]:

        request = context["request"]
        choice = choose(request, placement, product_key=current_product_key(context))
        if choice is None:
            return _nothing()
        # A first visit's row is left to the exposure buffer's flush (written with what it saw).
        shopper = ensure_shopper(request, defer=True)
        if shopper is None:  # a bot: nothing to show, nothing to count
            return _nothing()
        state = request_state(request)
        state.shopper = shopper
        if is_new(request):
            # A first visit (its row made by this request, or waiting for the flush): it has no
            # stored assignment, code or contact to look up, and its state is not kept in the
            # session (a one-page visit leaves no session row; the exposure is in the buffer).
            if state.assignments is None:
                state.assignments = {}
            state.session = None
        spec, content = choice.spec, choice.content
        if spec.offer is not None and placement in CART_PLACEMENTS and not cart_items(request, shopper):
            return _nothing()  # "€5 off your cart" to an empty cart breaks the promise
        gap = free_shipping_gap(shopper)
        if gap is None and content is not None and any(needs_value(t, "free_shipping_gap") for t in (content.headline, content.text)):
            return _nothing()  # over the threshold (or unknown): never "Add  more"
        if placement == Placement.EXIT_INTENT:
            # Counted when the pop-up opens (or, for the control, when it would have): the
            # browser posts the signed "seen" link then.
            seen = seen_url(spec.id, choice.arm)
            if choice.is_control:
                return {"campaign": None, "control_seen_url": seen, "control_campaign": spec.id}
            first_seen = choice.assignment.first_seen if choice.assignment is not None else timezone.now()
        else:
            seen = ""
            assignment = record_impression(shopper, choice, state=state)
            if choice.is_control:
                return _nothing()
            first_seen = assignment.first_seen
        deadline = spec.deadline(first_seen)
        code, reveal = "", ""
        if spec.offer is not None:
            if spec.offer.is_unique_codes:
                # Issued when clicked, revealed or used at checkout; shown here once the session has it.
                code = shown_code(getattr(request, "session", None), spec.offer, shopper)
                reveal = "" if code else code_url(spec.id, choice.arm)
            else:
                code = spec.offer.code
        values = {
            "first_name": first_name(request),
            "code": code or (REVEAL if reveal else ""),
            "offer": spec.offer.describe() if spec.offer is not None else "",
            "free_shipping_gap": format_price(gap) if gap is not None else "",
        }
        text = fill_placeholders(content.text, values)
        data = {
            "campaign": spec,
            "placement": placement,
            "variant": choice.arm,
            "headline": fill_placeholders(content.headline, values).replace(REVEAL, ""),
            "text": with_reveal(text, reveal),
            "image_url": content.image_url,
            "image_alt": content.image_alt,
            "cta_label": content.cta_label,
            "click_url": click_url(spec.id, choice.arm, content.link) if content.link else "",
            "deadline": deadline if spec.show_countdown else None,
            "code": code,
            # The "get your code" link, unless the text already carries it in place of {code}.
            "code_url": reveal if REVEAL not in text else "",
            "reveal": bool(reveal),
            "offer_text": values["offer"],
            "language": content.language,
            "seen_url": seen,
        }
        if not _signed_in(request) and deadline is None and not (code and spec.offer.is_unique_codes):
            # Nothing of this shopper in it (no name, no own code, no countdown from their first
            # view): the same HTML for everyone shown this content, held as shared lists are.
            data[HTML_KEY] = _shared_key(data)
        return data

    templates = [f"personalize/widgets/campaign_{placement}.html", "personalize/widgets/campaign.html"]
    return render_widget("campaign", context, build, template=templates)


@register.simple_tag(takes_context=True)
def greeting(context: Any) -> SafeString:
    """By first name for a known shopper, "welcome back" for a returning one, else neutral."""

    def build() -> dict[str, Any]:
        request = context["request"]
        shopper = get_shopper(request)
        kind, name = "new", ""
        if not in_holdout(shopper):
            name = first_name(request)
            if name:
                kind = "known"
            elif shopper.pk is not None and (shopper.visits > 1 or shopper.user_id):
                kind = "returning"
        data: dict[str, Any] = {"kind": kind, "first_name": name}
        if not _signed_in(request):
            data[HTML_KEY] = ["greeting", kind]  # "Welcome!" / "Welcome back!": the same for everyone
        return data

    return render_widget("greeting", context, build)
