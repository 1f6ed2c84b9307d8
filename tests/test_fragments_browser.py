"""``{% personalize_fragment %}`` in headless Chromium: beacon.js replaces the neutral list with the
shopper's own from one batched request, and counts impressions of the filled list only."""

from __future__ import annotations

import re
import time

import pytest
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

import personalize
from personalize.models import Event, Shopper
from tests.placements_helpers import configure, keys, products
from tests.test_beacon_browser import run_chromium

pytestmark = [pytest.mark.browser, pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

PAGE = engines["django"].from_string(
    """{% load static personalize %}<!doctype html><html><head><title>fragments</title></head><body>
{% personalize_fragment "recommended_for_you" limit=3 %}
{% personalize_fragment "trending" limit=2 title="Popular now" %}
<script src="{% static 'personalize/beacon.js' %}" data-endpoint="/personalize/api/events/"></script>
<script>
  // Once beacon.js filled the placeholders and saw the items, send the impressions now.
  var wait = setInterval(function () {
    if (document.querySelector("[data-fragment-pending]")) return;
    clearInterval(wait);
    setTimeout(function () { personalize.flush(); document.title = "sent"; }, 300);
  }, 50);
</script>
</body></html>"""
)


def fragment_page(request):
    """The shopper puts the first product in the cart (server side), then gets the page."""
    from tests.testshop.models import Product

    first = Product.objects.order_by("name").first()
    personalize.update_cart(request, [{"product": str(first.pk), "quantity": 1, "price": str(first.price)}])
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("personalize/", include("personalize.urls")),
    path("shop/", include("tests.testshop.urls")),
    path("fragment-page/", fragment_page),
]


def holders(dom: str) -> list[str]:
    return re.findall(r'<div class="personalize-fragment".*?</section>\s*</div>', dom, re.S)


def test_beacon_fills_every_fragment_from_one_request_and_counts_the_filled_items(live_server, tmp_path, settings):
    catalogue = sorted(products(10), key=lambda p: p.name)
    configure(settings, items=catalogue, CONSENT_REQUIRED=False)

    dom = run_chromium(f"{live_server.url}/fragment-page/", tmp_path)

    assert "<title>sent</title>" in dom, dom[-2000:]
    filled = holders(dom)
    assert len(filled) == 2, dom[-2000:]
    opening = [h.split(">", 1)[0] for h in filled]
    assert all("data-fragment-filled" in tag and "data-fragment-pending" not in tag for tag in opening), opening
    for_you = re.findall(r'data-product-id="([^"]+)"', filled[0])
    # The neutral list began with the first product; this shopper has it in the cart.
    assert keys(catalogue[:1])[0] not in for_you and len(for_you) == 3
    assert "Popular now" in filled[1]
    shopper = Shopper.objects.get()
    deadline = time.monotonic() + 10  # the beacon's post may still be on its way when the DOM is dumped
    while True:
        impressions = Event.objects.filter(shopper=shopper, kind="impression")
        shown = {e.product_key for e in impressions if e.context.get("placement") == "for_you"}
        if shown or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert shown == set(for_you)  # the neutral list it replaced was never counted
