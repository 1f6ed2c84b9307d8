"""The two links of every lifecycle email: restore the cart, unsubscribe (RFC 8058 one-click)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from personalize import identity, signing
from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.emails import attribution as email_attribution
from personalize.emails import links, rendering, subscriptions
from personalize.emails.receivers import SESSION_SEND_KEY
from personalize.events import update_cart
from personalize.models import EmailSend, Shopper

logger = logging.getLogger("personalize")


def _problem(request: HttpRequest, title: str, message: str, status: int = 400) -> HttpResponse:
    context = {"title": title, "message": message, "shop_url": ps.EMAIL_SHOP_URL}
    return render(request, "personalize/emails/link_problem.html", context, status=status)


def _add_message(request: HttpRequest, text: str) -> None:
    try:
        messages.info(request, text)
    except messages.MessageFailure:  # the store has no messages framework: the note is logged
        logger.info("personalize: %s", text)


@never_cache
@require_http_methods(["GET", "HEAD"])
def restore(request: HttpRequest, token: str) -> HttpResponse:
    """Rebuild the cart an email showed (on any device), apply its offer, go to the cart page."""
    try:
        payload = links.read_restore_token(token)
    except signing.SignatureExpired:
        return _problem(
            request,
            _("This link has expired"),
            _("For your security, cart links only work for %(days)s days. Your items may still be in the shop.")
            % {"days": ps.EMAIL_LINK_MAX_AGE_DAYS},
        )
    except signing.BadSignature:
        return _problem(request, _("This link is not valid"), _("The link may have been cut or changed. Please visit the shop."))
    sends = EmailSend.objects.select_related("shopper", "flow").filter(pk=payload["s"])
    if "k" in payload:  # a link sent before tokens were opaque also named the shopper
        sends = sends.filter(shopper__key=payload["k"])
    send = sends.first()
    if send is None:
        return _problem(request, _("This link is not valid"), _("The cart this link pointed to no longer exists."))
    if not identity.is_bot(request):  # link scanners of mail providers are not clicks
        email_attribution.record_click(send)
    adapter = get_adapter()
    keys = [str(line.get("product")) for line in send.lines]
    products = rendering.products_by_key(keys)
    lines = [
        {"product": products[str(line["product"])], "key": str(line["product"]), "quantity": int(line.get("quantity") or 1), "price": line.get("price")}
        for line in send.lines
        if str(line.get("product")) in products
    ]
    missing = len(keys) - len(lines)
    if send.cart_revision is None:  # win-back, browse abandonment: nothing to rebuild
        return _land(request, send, lines)
    session = getattr(request, "session", None)
    if session is not None:  # before restoring: a store's cart may apply the code as it rebuilds
        session[SESSION_SEND_KEY] = send.pk
        if send.offer_code:
            session[ps.EMAIL_OFFER_SESSION_KEY] = send.offer_code
    if lines:
        try:
            update_cart(request, [{"product": line["key"], "quantity": line["quantity"], "price": line.get("price")} for line in lines])
            adapter.restore_cart(request, lines)
        except Exception:
            logger.exception("personalize: could not restore the cart of send %s", send.pk)
            return _problem(request, _("We could not restore your cart"), _("Please try again in a moment."), status=500)
    if missing:
        _add_message(
            request,
            ngettext(
                "%(count)s product from your email is no longer available and was left out.",
                "%(count)s products from your email are no longer available and were left out.",
                missing,
            )
            % {"count": missing},
        )
    if send.offer_code:
        _add_message(request, _("Your code %(code)s will be applied at checkout.") % {"code": send.offer_code})
    return HttpResponseRedirect(ps.CART_URL or "/")


def _land(request: HttpRequest, send: EmailSend, lines: list[dict]) -> HttpResponse:
    """A link without a cart: the product it showed (browse abandonment), else the shop."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_SEND_KEY] = send.pk
        if send.offer_code:
            session[ps.EMAIL_OFFER_SESSION_KEY] = send.offer_code
    target = get_adapter().url(lines[0]["product"]) if lines else ""
    return HttpResponseRedirect(target or ps.EMAIL_SHOP_URL or "/")


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a CSRF token
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page. POST (the page's button or a one-click client): unsubscribe."""
    try:
        payload = links.read_unsubscribe_token(token)
    except signing.BadSignature:
        return _problem(request, _("This link is not valid"), _("The link may have been cut or changed."))
    if "s" in payload:
        send = EmailSend.objects.select_related("shopper").filter(pk=payload["s"]).first()
        if send is None:  # erased since: nothing is held, and nothing more will be sent
            return _problem(request, _("This link is not valid"), _("Nothing is held about this email any more."))
        shopper, email = send.shopper, send.email
    else:  # a link sent before tokens were opaque: {"k": shopper key, "e": address}
        shopper, email = None, str(payload["e"])
    if request.method == "POST":
        if shopper is None and "k" in payload:
            shopper = Shopper.objects.filter(key=payload["k"]).first()
        subscriptions.unsubscribe(shopper, email, source="one-click" if "List-Unsubscribe" in request.POST else "link")
        return render(request, "personalize/emails/unsubscribed.html", {"email": email, "shop_url": ps.EMAIL_SHOP_URL})
    return render(request, "personalize/emails/unsubscribe_confirm.html", {"email": email, "action": request.path})
