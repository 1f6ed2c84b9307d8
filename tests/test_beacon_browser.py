"""beacon.js in a real headless Chromium against a live server: impressions, clicks, track().

Skipped with a reason when no Chromium is installed, except under CI=true where it must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

import personalize
from personalize.models import Event, Shopper
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

PAGE = engines["django"].from_string(
    """{% load static personalize %}<!doctype html><html><body>
{% recently_viewed limit=8 %}
<section data-personalize-widget="similar" data-model-version="m-42">
  <div data-product-id="{{ similar.pk }}">similar</div>
  <div data-product-id="{{ below.pk }}" style="margin-top:3000px">far below the fold</div>
</section>
{% if no_send_beacon %}<script>navigator.sendBeacon = undefined;</script>{% endif %}
<script src="{% static 'personalize/beacon.js' %}" data-endpoint="/personalize/api/events/"></script>
<script>
  setTimeout(function () {
    document.querySelector('[data-personalize-widget="recently_viewed"] [data-product-id]').click();
    personalize.track("search", {query: "kettle", context: {page: location.pathname}});
    personalize.flush();
    document.title = "sent";
  }, 500);
</script>
</body></html>"""
)


def beacon_page(request):
    """Three product views (server side), then a page with the widget and the beacon."""
    from tests.testshop.models import Product

    products = list(Product.objects.filter(name__startswith="Seen"))
    for product in products:
        personalize.track(request, "view", product=product)
    context = {
        "below": Product.objects.get(name="Below"),
        "similar": Product.objects.get(name="Similar"),
        "no_send_beacon": "fetch" in request.GET,
    }
    return HttpResponse(PAGE.render(context, request))


urlpatterns = [
    path("personalize/", include("personalize.urls")),
    path("shop/", include("tests.testshop.urls")),
    path("beacon-page/", beacon_page),
]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but no Chromium found (apt-get install -y chromium)")
    pytest.skip("headless Chromium not installed (apt-get install -y chromium)")


def run_chromium(url: str, tmp_path) -> str:
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        # A headless User-Agent counts as a bot (nothing stored): look like a desktop browser.
        f"--user-agent={factories.BROWSER_UA}",
        "--virtual-time-budget=12000",  # room for beacon.js to retry (its timer flushes every 5 s)
        "--dump-dom",
        url,
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("transport", ["sendBeacon", "fetch"])
def test_beacon_records_impressions_clicks_and_track(live_server, tmp_path, transport):
    seen = [factories.product(name=f"Seen {i}") for i in range(3)]
    similar, below = factories.product(name="Similar"), factories.product(name="Below")

    query = "?fetch=1" if transport == "fetch" else ""
    dom = run_chromium(f"{live_server.url}/beacon-page/{query}", tmp_path)

    assert "<title>sent</title>" in dom, dom[-1000:]  # the page's script ran to the end
    shopper = Shopper.objects.get()  # one shopper: the beacon used the cookie the page set
    events = list(Event.objects.filter(shopper=shopper))
    beacon = [e for e in events if e.context.get("source") == "beacon"]
    impressions = {(e.context["placement"], e.product_key): e for e in beacon if e.kind == "impression"}
    # Visible items only, once each; the one below the fold was never seen.
    assert set(impressions) == {("recently_viewed", str(p.pk)) for p in seen} | {("similar", str(similar.pk))}
    assert not any(key == str(below.pk) for _placement, key in impressions)
    assert len([e for e in beacon if e.kind == "impression"]) == 4
    assert impressions[("similar", str(similar.pk))].context["model_version"] == "m-42"
    assert "model_version" not in impressions[("recently_viewed", str(seen[0].pk))].context
    clicks = [e for e in beacon if e.kind == "rec_click"]
    assert len(clicks) == 1 and clicks[0].context["placement"] == "recently_viewed"
    assert clicks[0].product_key == str(seen[-1].pk)  # the newest view is listed first
    search = [e for e in beacon if e.kind == "search"]
    assert len(search) == 1 and search[0].query == "kettle" and search[0].context["page"] == "/beacon-page/"
    assert len([e for e in events if e.kind == "view"]) == 3
