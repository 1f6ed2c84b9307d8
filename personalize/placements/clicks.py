"""Click attribution: signed links on recommended items, recorded as ``rec_click`` events.

Every item link carries ``?pzrec=<signed>`` (placement, model version, variant, product),
signed with ``django.core.signing`` and a salt: :class:`PersonalizeMiddleware` records a
``rec_click`` for a valid one and redirects to the clean URL; a tampered or expired value is
ignored. The JS beacon may record the same click from the item's ``data-*`` attributes: a
click already recorded in the last ``DEDUPE_SECONDS`` is not recorded twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import escape_leading_slashes

from personalize import signing
from personalize.conf import personalize_settings as ps
from personalize.events import TrackingError, build_event, save_events
from personalize.identity import ensure_shopper, is_bot
from personalize.models import Event, EventKind

logger = logging.getLogger("personalize")

DEDUPE_SECONDS = 60


def sign_click(*, placement: str, model_version: str, variant: str, product_key: str) -> str:
    """The signed token of a click on a recommended product (no shopper in it: shared)."""
    return signing.sign_shared("rec_click", {"p": placement, "m": model_version, "v": variant, "k": product_key})


def signed_reuse_seconds() -> float:
    """How long a signed click link may be reused (in a token, or in HTML that carries one)."""
    return signing.reuse_seconds("rec_click")


def read_click(token: str) -> dict[str, str] | None:
    """``{"placement", "model_version", "variant", "product"}``, or ``None`` if not genuine."""
    try:
        data = signing.unsign("rec_click", token)
    except signing.BadSignature:
        return None
    if not isinstance(data.get("k"), str) or not data["k"]:
        return None
    return {
        "placement": str(data.get("p", ""))[:64],
        "model_version": str(data.get("m", ""))[:64],
        "variant": str(data.get("v", ""))[:64],
        "product": data["k"][:64],
    }


def tracked_url(url: str, token: str) -> str:
    """``url`` with the signed click parameter added (other parameters kept)."""
    if not url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != ps.REC_CLICK_PARAM]
    query.append((ps.REC_CLICK_PARAM, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _clean_url(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop(ps.REC_CLICK_PARAM, None)
    query = params.urlencode()
    # "//evil.example/x" must stay a path on this site, not become another host.
    return escape_leading_slashes(request.path) + (f"?{query}" if query else "")


def _is_prefetch(request: HttpRequest) -> bool:
    """A browser fetching a link speculatively: not a click."""
    purpose = (request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or request.headers.get("X-Moz") or "")
    return "prefetch" in purpose.lower() or "prerender" in purpose.lower()


def handle_click(request: HttpRequest) -> HttpResponse | None:
    """Record the click a signed parameter describes; a redirect to the clean URL, or ``None``.

    Called by ``PersonalizeMiddleware`` before the view; never raises.
    """
    token = request.GET.get(ps.REC_CLICK_PARAM) if request.method in ("GET", "HEAD") else None
    if not token:
        return None
    try:
        click = read_click(token)
        if click is not None and request.method == "GET" and not _is_prefetch(request):
            record_click(request, click)
    except Exception:  # personalisation never breaks a page
        logger.exception("personalize: could not record a recommendation click")
    # Drop the parameter either way: a refresh or a shared link does not count again.
    return HttpResponseRedirect(_clean_url(request))


def record_click(request: HttpRequest, click: dict[str, str]) -> bool:
    """A ``rec_click`` event, unless the same click was just recorded (e.g. by the beacon)."""
    if not ps.TRACKING_ENABLED or is_bot(request):
        return False
    shopper = ensure_shopper(request)
    if shopper is None:
        return False
    recent = Event.objects.filter(
        shopper=shopper,
        kind=EventKind.REC_CLICK,
        product_key=click["product"],
        context__placement=click["placement"],
        created_at__gte=timezone.now() - timedelta(seconds=DEDUPE_SECONDS),
    )
    if recent.exists():
        return False
    context: dict[str, Any] = {"source": "link", "placement": click["placement"], "model_version": click["model_version"]}
    if click["variant"]:
        context["variant"] = click["variant"]
    try:
        event = build_event(shopper, EventKind.REC_CLICK, product=click["product"], context=context)
    except TrackingError:
        return False
    save_events([event], request=request)
    return True
