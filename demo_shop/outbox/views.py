"""The demo's outbox: every email the shop sent, readable in the browser.

Shown to staff only unless DEBUG is on (demo emails carry cart-restore links).
"""

from __future__ import annotations

import html
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from demo_shop.outbox.models import OutboxMessage


HREF = re.compile(r"""href=["']([^"']+)["']""", flags=re.IGNORECASE)


def _allowed(request: HttpRequest) -> None:
    if not (settings.DEBUG or request.user.is_staff):
        raise PermissionDenied


def message_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    query = request.GET.get("q", "").strip()[:100]
    messages = OutboxMessage.objects.all()
    if query:
        messages = messages.filter(Q(to__icontains=query) | Q(subject__icontains=query))
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    return render(request, "outbox/list.html", {"page": page, "query": query})


def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    message = get_object_or_404(OutboxMessage, pk=pk)
    links = list(dict.fromkeys(html.unescape(url) for url in HREF.findall(message.body_html or "")))
    return render(request, "outbox/detail.html", {"message": message, "links": links})


@xframe_options_sameorigin
def message_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part on its own, for the sandboxed iframe of the detail page."""
    _allowed(request)
    message = get_object_or_404(OutboxMessage, pk=pk)
    # Links open in a new tab, as they would from a mail client.
    html = _with_base_target(message.body_html or "")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The email's HTML may not run scripts or reach the shop's session.
    response["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response


def _with_base_target(html: str) -> str:
    """Add ``<base target="_blank">`` inside ``<head>`` (before any markup would force quirks mode)."""
    base = '<base target="_blank">'
    match = re.search(r"<head(\s[^>]*)?>", html, flags=re.IGNORECASE)
    if match:
        return html[: match.end()] + base + html[match.end() :]
    return base + html
