"""The demo's outbox: every email the shop sent, readable in the browser.

Shown to staff only unless DEBUG is on (demo emails carry cart-restore links).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from demo_shop.outbox.models import OutboxMessage


def _allowed(request: HttpRequest) -> None:
    if not (settings.DEBUG or request.user.is_staff):
        raise PermissionDenied


def message_list(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    page = Paginator(OutboxMessage.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "outbox/list.html", {"page": page})


def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _allowed(request)
    message = get_object_or_404(OutboxMessage, pk=pk)
    return render(request, "outbox/detail.html", {"message": message})


@xframe_options_sameorigin
def message_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part on its own, for the sandboxed iframe of the detail page."""
    _allowed(request)
    message = get_object_or_404(OutboxMessage, pk=pk)
    # Links open in a new tab, as they would from a mail client.
    html = '<base target="_blank">' + (message.body_html or "")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The email's HTML may not run scripts or reach the shop's session.
    response["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response
