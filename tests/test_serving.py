"""Serving cost and safety: query and cache-read budgets of warm widgets, cached product cards,
and pages that a shared cache (Django's cache middleware, a CDN) never hands to another shopper."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.urls import path

import personalize
from personalize.models import Shopper
from personalize.placements import recommend_for
from tests import factories
from tests.factories import BROWSER_UA
from tests.placements_helpers import configure, ids, keys, products, render, shopper_request
from tests.urls import urlpatterns as base_patterns

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_layer_on(settings):
    """The shipped freshness bound (the suite's settings turn the in-process layer off)."""
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}

CACHE_CALLS = ("get", "get_many", "has_key", "set", "add", "set_many", "delete", "delete_many", "incr", "touch")


@contextmanager
def counting_cache_calls():
    """Count calls that reach the cache backend (each one a round trip on Redis or memcached;
    LocMem's ``get_many`` reads key by key: those inner reads are not counted)."""
    counts: Counter = Counter()
    originals = {name: getattr(LocMemCache, name) for name in CACHE_CALLS}
    depth = [0]

    def counted(name, original):
        def method(self, *args, **kwargs):
            if not depth[0]:
                counts[name] += 1
            depth[0] += 1
            try:
                return original(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        return method

    for name, original in originals.items():
        setattr(LocMemCache, name, counted(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(LocMemCache, name, original)


PAGE = "{% similar_products product limit=4 %}{% recommended_for_you limit=4 %}{% trending limit=4 %}"


# --- budgets -------------------------------------------------------------------------------------
def test_warm_product_page_widgets_cost_one_query_and_one_cache_round_trip(settings, django_assert_num_queries):
    catalogue = products(12)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create()
    render(PAGE, shopper=shopper, product=catalogue[0])  # cold: lists, cards, stock checks
    with django_assert_num_queries(1), counting_cache_calls() as calls:
        # The shopper (with its cart); its cached profile in one read, once for three widgets;
        # the lists, cards, stock checks and generations come from the in-process layer.
        html = render(PAGE, shopper=shopper, product=catalogue[0])
    assert calls == {"get_many": 1}, calls
    assert len(ids(html)) == 12 and str(catalogue[0].pk) not in ids(html)


def test_a_second_list_for_the_same_request_costs_nothing(settings, django_assert_num_queries):
    catalogue = products(10)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create()
    for request in (shopper_request(shopper), shopper_request(shopper)):  # cold, then warm
        recommend_for(request, "for_you", limit=8, products=False)
        recommend_for(request, "trending", limit=4, products=False)
    request = shopper_request(shopper)
    recommend_for(request, "for_you", limit=8, products=False)  # the shopper and profile: 2 queries
    with django_assert_num_queries(0), counting_cache_calls() as calls:
        result = recommend_for(request, "trending", limit=4, products=False)
    assert sum(calls.values()) == 0, calls
    # The 8 "for you" showed go last: the two it did not show come first.
    assert result.keys[:2] == keys(catalogue[8:10]) and len(result.keys) == 4


def test_api_style_call_loads_rows_only_for_what_is_shown(settings, django_assert_num_queries):
    catalogue = products(30)
    configure(settings, items=catalogue)
    recommend_for(None, "trending", limit=4)  # cards and the stock check cached
    with django_assert_num_queries(1) as ctx:
        result = recommend_for(None, "trending", limit=4)
    assert result.keys == keys(catalogue[:4]) and [p.pk for p in result.items] == [p.pk for p in catalogue[:4]]
    assert ctx.captured_queries[0]["sql"].count("%s") <= 4 or "IN (" in ctx.captured_queries[0]["sql"]


# --- cards -----------------------------------------------------------------------------------------
def test_saving_a_product_rebuilds_its_card_and_a_sold_out_one_leaves_the_list(settings):
    first, second = products(2)
    configure(settings, items=[first, second])
    assert "Product" in render("{% trending limit=4 %}")
    first.name = "Renamed kettle"
    first.save()
    html = render("{% trending limit=4 %}")
    assert "Renamed kettle" in html
    second.stock = 0
    second.save()
    assert ids(render("{% trending limit=4 %}")) == [str(first.pk)]


def test_a_template_reading_item_product_still_gets_the_product(settings):
    (one,) = products(1, name="Lazy lamp")
    configure(settings, items=[one])
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "APP_DIRS": False,
            "OPTIONS": {
                **settings.TEMPLATES[0].get("OPTIONS", {}),
                "loaders": [
                    ("django.template.loaders.locmem.Loader", {"t.html": "{% for i in items %}[{{ i.product.name }}]{% endfor %}"}),
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]
    template = engines["django"].from_string("{% load personalize %}{% trending limit=2 template='t.html' %}")
    assert template.render({"request": shopper_request()}) == "[Lazy lamp]"


# --- shared caches never serve one shopper's widgets to another ----------------------------------
PERSONAL = engines["django"].from_string("{% load personalize %}<main>{% recently_viewed limit=8 %}</main>")
PLAIN = engines["django"].from_string("<main>{{ n }}</main>")
COUNTER = Counter()


def personal_page(request):
    return HttpResponse(PERSONAL.render({}, request))


def plain_page(request):
    COUNTER["plain"] += 1
    return HttpResponse(PLAIN.render({"n": COUNTER["plain"]}, request))


def view_product(request, pk):
    from tests.testshop.models import Product

    personalize.track(request, "view", product=Product.objects.get(pk=pk))
    return HttpResponse("ok")


urlpatterns = [
    path("cached/personal/", personal_page),
    path("cached/plain/", plain_page),
    path("cached/view/<uuid:pk>/", view_product),
    *base_patterns,
]


@pytest.fixture
def cached_site(settings):
    """The suite's site behind Django's whole-site cache middleware."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    settings.CACHE_MIDDLEWARE_SECONDS = 300
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}


def test_inline_widgets_make_the_page_private_so_the_cache_middleware_never_shares_it(cached_site):
    alice, bob = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    kettle = factories.product(name="Alice's kettle")
    assert alice.get(f"/cached/view/{kettle.pk}/").status_code == 200
    mine = alice.get("/cached/personal/")
    assert "Alice&#x27;s kettle" in mine.content.decode()
    assert "private" in mine["Cache-Control"] and "Cookie" in mine["Vary"]
    theirs = bob.get("/cached/personal/")
    assert "kettle" not in theirs.content.decode()


def test_a_page_without_widgets_stays_cacheable(cached_site):
    # The control: the cache middleware does cache this suite's pages.
    first = Client(HTTP_USER_AGENT=BROWSER_UA).get("/cached/plain/")
    second = Client(HTTP_USER_AGENT=BROWSER_UA).get("/cached/plain/")
    assert first.content == second.content
    assert "private" not in first.get("Cache-Control", "")


# --- freshness on any cache ------------------------------------------------------------------------
def test_a_version_switched_by_another_process_is_seen_within_the_bound_even_on_a_per_process_cache(settings):
    from personalize.models import ModelVersion
    from personalize.recommenders.loading import active_version_id

    old = ModelVersion.objects.create(alias="default", is_active=True)
    assert active_version_id("default") == old.pk
    # Another process (a worker with its own local-memory cache) activates a new version: its
    # publication never reaches this process's cache, only the database changes.
    new = ModelVersion.objects.create(alias="default")
    ModelVersion.objects.filter(pk=old.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=new.pk).update(is_active=True)
    assert active_version_id("default") == old.pk  # within LOCAL_CACHE_SECONDS: the cached id
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}  # the bound has passed
    assert active_version_id("default") == new.pk
