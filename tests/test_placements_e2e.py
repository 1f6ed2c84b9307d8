"""End to end through the test client with the engine's real backends (LightFM hybrid)."""

from __future__ import annotations

import re

import pytest

from personalize.recommenders.training import train_all
from tests.recommender_data import taste_shop

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.placements_urls")]

@pytest.fixture
def real_backends(fast, settings, tmp_path):
    """The engine's real backends (the shared ``fast`` configuration), artefacts in tmp."""
    settings.MEDIA_ROOT = str(tmp_path)


def section(html: bytes, name: str) -> list[str]:
    part = html.decode().split(f"<div id={name}>")[1].split("</div>")[0]
    return re.findall(r'data-product-id="([^"]+)"', part)


def test_no_model_yet_serves_fallbacks_without_error(client_ua, real_backends):
    shop = taste_shop(shoppers=12)
    response = client_ua.get("/widgets/")
    assert response.status_code == 200
    # Nothing trained: the hybrid model falls back to popular items; trending works too.
    assert len(section(response.content, "for-you")) == 4
    assert len(section(response.content, "trending")) == 4
    page = client_ua.get(f"/widgets/p/{shop['a'][0].pk}/")
    assert page.status_code == 200 and str(shop["a"][0].pk) not in section(page.content, "similar")


def test_viewing_two_products_of_a_category_steers_for_you_on_the_next_page(
    client_ua, real_backends, django_capture_on_commit_callbacks
):
    shop = taste_shop(shoppers=40)
    with django_capture_on_commit_callbacks(execute=True):
        versions = train_all(force=True)
    assert any(v.alias == "default" and v.is_active for v in versions)
    a_keys = {str(p.pk) for p in shop["a"]}
    b_keys = {str(p.pk) for p in shop["b"]}

    first_visit = section(client_ua.get("/widgets/").content, "for-you")
    assert len(first_visit) == 4  # a brand-new shopper gets trending items

    viewed = shop["b"][2:4]
    for product in viewed:
        assert client_ua.get(f"/widgets/p/{product.pk}/").status_code == 200
    after = section(client_ua.get("/widgets/").content, "for-you")
    assert len(after) == 4
    assert sum(key in b_keys for key in after) >= 3, after  # no retrain needed

    # Another shopper, the other taste: the list follows them too.
    client_ua.cookies.clear()
    for product in shop["a"][3:5]:
        client_ua.get(f"/widgets/p/{product.pk}/")
    other = section(client_ua.get("/widgets/").content, "for-you")
    assert sum(key in a_keys for key in other) >= 3, other


@pytest.mark.parametrize("limit", [2, 12])
def test_warm_for_you_with_the_trained_model_costs_at_most_three_queries(
    real_backends, django_capture_on_commit_callbacks, django_assert_max_num_queries, limit, settings
):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}  # the shipped bound
    from django.template import Context, Template

    from personalize.models import Event, Shopper
    from personalize.placements.pipeline import MAX_QUERIES
    from tests.placements_helpers import bought, in_cart, shopper_request

    shop = taste_shop(shoppers=40)
    with django_capture_on_commit_callbacks(execute=True):
        train_all(force=True)
    shopper = Shopper.objects.create()
    for product in shop["a"][2:5]:
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    bought(shopper, shop["a"][5])
    in_cart(shopper, shop["b"][0])
    template = Template("{% load personalize %}{% recommended_for_you limit=n %}")

    def render() -> str:
        return template.render(Context({"request": shopper_request(shopper), "n": limit}))

    render()  # cold: loads the model, the rules, the candidate lists
    with django_assert_max_num_queries(MAX_QUERIES):
        html = render()
    shown = re.findall(r'data-product-id="([^"]+)"', html)
    # Two categories, at most DIVERSITY["category"] (4) items from each.
    assert len(shown) == min(limit, 8)
    assert str(shop["a"][5].pk) not in shown and str(shop["b"][0].pk) not in shown
