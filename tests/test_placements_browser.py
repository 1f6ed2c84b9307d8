"""Recommendation widgets with beacon.js in headless Chromium: impressions carry the placement
and A/B variant; a click on a signed link is recorded once (by the server, not the beacon)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from personalize.models import Event
from tests import factories
from tests.placements_helpers import configure
from tests.test_beacon_browser import run_chromium

pytestmark = [pytest.mark.browser, pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

PAGE = engines["django"].from_string(
    """{% load static personalize %}<!doctype html><html><head><title>widgets</title></head><body>
{% recommended_for_you limit=2 %}
<script src="{% static 'personalize/beacon.js' %}" data-endpoint="/personalize/api/events/"></script>
<script>
  // Stay on the page (a headless dump cannot follow a navigation): the link's GET is made
  // with fetch, as the navigation would make it, after the beacon saw the click.
  var link = document.querySelector('[data-personalize-widget="recommended_for_you"] [data-product-id] a');
  link.addEventListener("click", function (e) {
    e.preventDefault();
    fetch(link.href, { credentials: "same-origin" }).then(function () {
      personalize.flush();
      document.title = "sent";
    });
  });
  setTimeout(function () { link.click(); }, 500);
</script>
</body></html>"""
)


def widget_page(request):
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("personalize/", include("personalize.urls")),
    path("shop/", include("tests.testshop.urls")),
    path("widget-page/", widget_page),
]


def test_impressions_and_one_click_with_placement_and_variant(live_server, tmp_path, settings):
    cache.clear()
    first, second = factories.product(name="First"), factories.product(name="Second")
    configure(
        settings,
        items=[first, second],
        PLACEMENTS={"for_you": {"variants": [{"name": "b", "recommender": "default", "weight": 1}]}},
    )
    dom = run_chromium(f"{live_server.url}/widget-page/", tmp_path)
    assert "<title>sent</title>" in dom, dom[-800:]  # the page's script ran to the end

    clicks = list(Event.objects.filter(kind="rec_click"))
    assert len(clicks) == 1, [(c.context, c.product_key) for c in clicks]  # not twice
    click = clicks[0]
    assert click.product_key == str(first.pk)
    assert click.context == {"source": "link", "placement": "for_you", "model_version": "test", "variant": "b"}
    impressions = list(Event.objects.filter(kind="impression"))
    assert {e.product_key for e in impressions} == {str(first.pk), str(second.pk)}
    for event in impressions:
        assert event.context["placement"] == "for_you"
        assert event.context["model_version"] == "test"
        assert event.context["variant"] == "b"
    # The clicked product's page recorded its view for the same shopper.
    view = Event.objects.get(kind="view")
    assert view.product_key == str(first.pk) and view.shopper_id == click.shopper_id
    cache.clear()
