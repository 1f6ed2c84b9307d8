"""``GET /personalize/api/recommendations/`` and ``/search-suggestions/``: shape and bad input."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from personalize.conf import personalize_settings as ps
from personalize.models import Shopper
from personalize.placements.clicks import read_click
from tests import factories
from tests.placements_helpers import bought, configure, cookie_for, keys, products

pytestmark = pytest.mark.django_db

URL = "/personalize/api/recommendations/"


def test_for_you_returns_the_adapters_fields_and_a_reason(client_ua, settings):
    items = products(3)
    configure(settings, items=items)
    shopper = Shopper.objects.create()
    bought(shopper, items[0])
    client_ua.cookies[ps.COOKIE_NAME] = cookie_for(shopper)
    response = client_ua.get(URL, {"placement": "for_you", "limit": 8})
    assert response.status_code == 200
    data = response.json()
    assert data["placement"] == "for_you" and data["model_version"] == "test" and data["variant"] == ""
    assert [item["id"] for item in data["items"]] == keys(items[1:])  # the purchase is left out
    first = data["items"][0]
    assert first["title"] == items[1].name and first["url"] == items[1].get_absolute_url()
    assert first["price"] == str(items[1].price) and first["in_stock"] is True
    assert first["reason"] == "test recommendation"
    token = parse_qs(urlsplit(first["tracked_url"]).query)[ps.REC_CLICK_PARAM][0]
    assert read_click(token)["product"] == str(items[1].pk)


def test_similar_needs_and_excludes_the_product(client_ua, settings):
    items = products(3)
    configure(settings, items=items)
    response = client_ua.get(URL, {"placement": "similar", "product": str(items[0].pk), "limit": 2})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == keys(items[1:])


def test_trending_by_category(client_ua, settings):
    shoes = factories.category("Shoes")
    shoe = factories.product(category=shoes)
    configure(settings, items=[factories.product(), shoe])
    response = client_ua.get(URL, {"placement": "trending", "category": str(shoes.pk)})
    assert [item["id"] for item in response.json()["items"]] == [str(shoe.pk)]


def test_no_history_and_no_cookie_still_answers(client_ua, settings):
    configure(settings, items=products(2))
    assert len(client_ua.get(URL, {"placement": "for_you"}).json()["items"]) == 2


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "placement"),
        ({"placement": "nope"}, "placement"),
        ({"placement": "for_you", "limit": "0"}, "limit"),
        ({"placement": "for_you", "limit": "51"}, "limit"),
        ({"placement": "for_you", "limit": "ten"}, "limit"),
        ({"placement": "for_you", "product": "not-a-uuid"}, "product"),
        ({"placement": "for_you", "product": str(uuid.uuid4())}, "product"),
        ({"placement": "similar"}, "product"),
        ({"placement": "bought_together", "product": "x" * 200}, "product"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client_ua, settings, params, field):
    configure(settings, items=products(1))
    response = client_ua.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(f"{field}: ")
    assert field in body["errors"]


def test_unknown_placement_lists_the_known_ones(client_ua):
    detail = client_ua.get(URL, {"placement": "nope"}).json()["detail"]
    assert "for_you" in detail and "trending" in detail


def test_no_trained_model_still_serves(client_ua):
    """With the shipped backends and nothing trained, the fallbacks answer (no error)."""
    factories.product()
    response = client_ua.get(URL, {"placement": "for_you", "limit": 4})
    assert response.status_code == 200
    assert isinstance(response.json()["items"], list)


def test_throttled_like_the_beacon(client_ua, settings):
    configure(settings, items=products(1), API_THROTTLE_RATE="2/min")
    codes = [client_ua.get(URL, {"placement": "for_you"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- search suggestions ----------------------------------------------------------------------

SUGGEST = "/personalize/api/search-suggestions/"


def test_search_suggestions_answer_and_validate(client_ua, settings):
    from tests.test_search_suggestions import searched

    # Every searcher counts as real here (the bar is tested in tests/test_search_abuse.py).
    settings.PERSONALIZE = {
        **settings.PERSONALIZE, "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 2, "SEARCH_SHOPPER_MIN_AGE_HOURS": 0,
        "SEARCH_SHOPPER_MIN_VISITS": 1,
    }
    searched("Cat food", shoppers=3)
    searched("camera", shoppers=2)
    searched("dog bed", shoppers=4)
    response = client_ua.get(SUGGEST, {"prefix": "CA", "limit": 6})
    assert response.status_code == 200
    assert response.json() == {"prefix": "CA", "personal": False, "suggestions": ["cat food", "camera"]}
    assert client_ua.get(SUGGEST, {"limit": "0"}).json()["detail"].startswith("limit: ")
    assert client_ua.get(SUGGEST, {"prefix": "x" * 101}).status_code == 400
