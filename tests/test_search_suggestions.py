"""Search suggestions: conversion, privacy threshold, zero-result queries, normalisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from personalize.models import Event, Shopper
from personalize.placements.search import compute_search_stats, normalize_query, suggestions_for
from tests import factories
from tests.placements_helpers import configure, products, render

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    cache.clear()
    # These tests are about ranking and privacy thresholds: every searcher counts as real here
    # (the bar for real searchers has its own tests in tests/test_search_abuse.py).
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 2,
        "SEARCH_SHOPPER_MIN_AGE_HOURS": 0,
        "SEARCH_SHOPPER_MIN_VISITS": 1,
    }
    yield
    cache.clear()


def searched(query, *, shoppers=1, results=5, hours_ago=2, then_bought=None, who=None):
    """``shoppers`` new shoppers (or ``who``) each search ``query``; optionally buy afterwards."""
    people = who or [Shopper.objects.create() for _ in range(shoppers)]
    when = timezone.now() - timedelta(hours=hours_ago)
    for shopper in people:
        context = {} if results is None else {"results": results}
        Event.objects.create(shopper=shopper, kind="search", query=query, context=context, created_at=when)
        if then_bought is not None:
            lines = [{"product": str(p.pk), "quantity": 1, "price": "1.00"} for p in then_bought]
            Event.objects.create(
                shopper=shopper, kind="purchase", context={"lines": lines}, created_at=when + timedelta(minutes=20)
            )
    return people


def test_normalisation_folds_case_and_whitespace():
    assert normalize_query("  Red   SHOES ") == "red shoes"


def test_first_visit_gets_trending_searches_normalised():
    searched("Red Shoes", shoppers=2)
    searched("red   shoes ", shoppers=1)
    searched("hats", shoppers=2, hours_ago=24 * 20)  # older: trends lower
    result = suggestions_for(None, limit=6)
    assert result.queries == ["red shoes", "hats"]
    assert result.personal is False


def test_a_query_typed_by_too_few_shoppers_is_never_suggested(settings):
    searched("my home address", shoppers=1)
    one = Shopper.objects.create()
    searched("secret", who=[one])
    searched("secret", who=[one])  # the same shopper twice is still one shopper
    searched("lamps", shoppers=2)
    assert suggestions_for(None, limit=6).queries == ["lamps"]
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 3}
    cache.clear()
    assert suggestions_for(None, limit=6).queries == []


def test_a_query_that_found_nothing_is_never_suggested():
    searched("unicorn saddle", shoppers=5, results=0)
    searched("lamps", shoppers=2, results=3)
    searched("tables", shoppers=2, results=None)  # result count unknown: allowed
    assert set(suggestions_for(None, limit=6).queries) == {"lamps", "tables"}


def test_the_latest_result_count_decides():
    searched("boots", shoppers=2, results=0, hours_ago=48)
    searched("boots", shoppers=1, results=7, hours_ago=1)  # the catalogue has boots now
    searched("gloves", shoppers=2, results=4, hours_ago=48)
    searched("gloves", shoppers=1, results=0, hours_ago=1)  # sold out of gloves
    assert suggestions_for(None, limit=6).queries == ["boots"]


def test_prefix_filters_for_autocomplete():
    searched("cat food", shoppers=3)
    searched("scarf", shoppers=3)
    searched("wet cat litter", shoppers=2)
    assert suggestions_for(None, limit=6, prefix=" CA").queries == ["cat food", "wet cat litter"]
    assert suggestions_for(None, limit=6, prefix="zz").queries == []


def test_searches_that_led_similar_shoppers_to_buy_come_first(settings):
    shoes = products(2)
    lamps = products(2)
    configure(settings, items=[])  # the recommender adds nothing: only the shopper's own items
    searched("lamp", shoppers=6)  # the most typed, but nobody bought after it
    searched("running shoes", shoppers=2, then_bought=[shoes[0]])
    searched("desk light", shoppers=2, then_bought=[lamps[0]])
    me = Shopper.objects.create()
    Event.objects.create(shopper=me, kind="view", product_key=str(shoes[0].pk))
    result = suggestions_for(me, limit=3)
    assert result.personal is True
    assert result.queries == ["running shoes", "desk light", "lamp"]


def test_a_purchase_long_after_the_search_is_not_a_conversion(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEARCH_CONVERSION_HOURS": 1}
    item = factories.product()
    people = searched("vase", shoppers=2, hours_ago=30)
    for shopper in people:
        Event.objects.create(
            shopper=shopper, kind="purchase", context={"lines": [{"product": str(item.pk), "quantity": 1}]},
            created_at=timezone.now() - timedelta(hours=2),
        )
    stats = compute_search_stats()
    assert stats.queries["vase"].converters == 0
    searched("jug", shoppers=2, then_bought=[item])
    assert compute_search_stats().queries["jug"].bought == {str(item.pk): 2}


def test_stats_are_precomputed_in_the_cache(django_assert_num_queries):
    searched("lamps", shoppers=2)
    suggestions_for(None, limit=6)
    with django_assert_num_queries(0):
        assert suggestions_for(None, limit=6).queries == ["lamps"]


def test_the_widget_links_to_the_store_search(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEARCH_URL": "/find/"}
    searched("red & blue", shoppers=2)
    html = render("{% search_suggestions limit=6 %}")
    assert 'data-personalize-widget="search_suggestions"' in html
    assert 'href="/find/?q=red%20%26%20blue"' in html
    assert ">red &amp; blue<" in html
    assert render("{% search_suggestions limit=6 prefix='zz' %}").strip() == ""


def test_the_refresh_task_recomputes_the_cached_stats():
    from personalize.placements.tasks import refresh_search_suggestions
    from personalize.schedules import DEFAULT_SCHEDULES

    searched("lamps", shoppers=2)
    assert suggestions_for(None, limit=6).queries == ["lamps"]
    searched("rugs", shoppers=2)
    assert suggestions_for(None, limit=6).queries == ["lamps"]  # served from the cache
    assert refresh_search_suggestions.delay().get() == 2
    assert set(suggestions_for(None, limit=6).queries) == {"lamps", "rugs"}
    assert any(job["task"] == "personalize.placements.refresh_search_suggestions" for job in DEFAULT_SCHEDULES)


@pytest.mark.django_db
def test_a_prefix_is_completed_with_product_titles_and_nonsense_gets_nothing():
    from personalize.placements.search import suggestions_for

    factories.product(name="Espresso machine")
    factories.product(name="Headlamp")
    req = factories.request()
    assert suggestions_for(req, limit=5, prefix="espr").queries == ["Espresso machine"]
    assert suggestions_for(req, limit=5, prefix="zzzqqq").queries == []
