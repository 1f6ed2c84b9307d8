"""Lists asked for a Shopper (API, exports, emails): the profile is cached under the shopper's
state token, so a warm list costs no query until the shopper acts or the model changes."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personalize.caching import shoppers as shopper_state
from personalize.events import build_event, save_events
from personalize.events.importing import import_events
from personalize.identity.merge import merge_shoppers
from personalize.models import Event, ModelVersion, Shopper
from personalize.placements import recommend_for
from personalize.privacy.erasure import erase
from personalize.recommenders.training import train_all
from tests.placements_helpers import bought, configure, in_cart, keys, products
from tests.recommender_data import taste_shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shipped_bounds(settings):
    """The shipped freshness bound of the in-process layer (the suite's settings turn it off)."""
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}


def warm(shopper: Shopper, limit: int = 8, **kwargs):
    recommend_for(shopper, "for_you", limit=limit, **kwargs)
    return recommend_for(shopper, "for_you", limit=limit, **kwargs)


def test_a_warm_list_for_a_shopper_costs_no_query_and_rows_only_for_what_is_shown(settings, django_assert_num_queries):
    catalogue = products(20)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key=str(catalogue[15].pk))
    bought(shopper, catalogue[0])
    in_cart(shopper, catalogue[1])
    shopper = Shopper.objects.get(pk=shopper.pk)  # as a new request loads it (no stale cart on the object)
    cold = recommend_for(shopper, "for_you", limit=8, products=False)
    with django_assert_num_queries(0):
        result = recommend_for(shopper, "for_you", limit=8, products=False)
    assert result.keys == cold.keys and len(result.keys) == 8
    assert not {str(catalogue[0].pk), str(catalogue[1].pk)} & set(result.keys)  # bought, in the cart
    with django_assert_num_queries(1) as ctx:  # the 8 shown rows, by primary key
        result = recommend_for(shopper, "for_you", limit=8)
    assert [str(p.pk) for p in result.items] == cold.keys
    assert "IN (" in ctx.captured_queries[0]["sql"]


@pytest.mark.parametrize("act", ["view", "purchase", "cart", "import", "merge"])
def test_the_shopper_acting_reloads_their_profile(settings, act, django_capture_on_commit_callbacks):
    catalogue = products(12)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create(external_key="ext-1")
    Event.objects.create(shopper=shopper, kind="view", product_key=str(catalogue[5].pk))
    assert keys(catalogue[:4]) == warm(shopper, limit=4, products=False).keys
    with django_capture_on_commit_callbacks(execute=True):
        if act == "view":
            save_events([build_event(shopper, "view", product=str(catalogue[6].pk))])
        elif act == "purchase":
            bought(shopper, catalogue[0])
        elif act == "cart":
            in_cart(shopper, catalogue[0])
        elif act == "import":
            csv = f"shopper,product,kind,timestamp\next-1,{catalogue[0].pk},purchase,2026-01-01T00:00:00\n"
            import_events(io.StringIO(csv))
        else:
            other = Shopper.objects.create()
            bought(other, catalogue[0])
            merge_shoppers(other, shopper)
    with CaptureQueriesContext(connection) as ctx:
        result = recommend_for(shopper, "for_you", limit=4, products=False)
    assert ctx.captured_queries, "the profile was served from the cache after the shopper acted"
    if act != "view":
        assert str(catalogue[0].pk) not in result.keys  # bought or in the cart: never shown


def test_purchases_beyond_the_profile_window_stay_out_when_cached(settings):
    catalogue = products(8)
    configure(settings, items=catalogue, PROFILE_EVENTS=5)
    shopper = Shopper.objects.create()
    bought(shopper, catalogue[0])
    Event.objects.bulk_create([Event(shopper=shopper, kind="view", product_key=str(catalogue[7].pk)) for _ in range(10)])
    shopper_state.bump([shopper.pk])  # rows written behind the ORM's signals
    for _ in range(2):
        assert str(catalogue[0].pk) not in recommend_for(shopper, "for_you", limit=8, products=False).keys


def test_impressions_leave_the_cached_profile_alone(settings, django_capture_on_commit_callbacks, django_assert_num_queries):
    catalogue = products(6)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create()
    warm(shopper, limit=4, products=False)
    with django_capture_on_commit_callbacks(execute=True):
        save_events([build_event(shopper, "impression", product=str(catalogue[0].pk))])
    with django_assert_num_queries(0):
        recommend_for(shopper, "for_you", limit=4, products=False)


def test_erasure_leaves_no_cached_profile(settings, django_capture_on_commit_callbacks):
    catalogue = products(6)
    configure(settings, items=catalogue)
    shopper = Shopper.objects.create()
    bought(shopper, catalogue[0])
    warm(shopper, limit=4, products=False)
    with django_capture_on_commit_callbacks(execute=True):
        bought(shopper, catalogue[1])  # after the commit: a step, stored with its token
    token = shopper_state.cache().get(f"personalize:shopper-state:{shopper.pk}")
    step = f"personalize:shopper-step:{shopper.pk}:{token}"
    assert shopper_state.cache().get(f"personalize:shopper-profile:{shopper.pk}") is not None
    assert shopper_state.cache().get(step) is not None
    with django_capture_on_commit_callbacks(execute=True):
        erase(shopper=shopper)
    assert shopper_state.cache().get(f"personalize:shopper-state:{shopper.pk}") != token
    # What was cached of them is gone, not only unreachable: their events leave the cache too.
    assert shopper_state.cache().get(f"personalize:shopper-profile:{shopper.pk}") is None
    assert shopper_state.cache().get(step) is None


def test_profile_cache_off_loads_every_time(settings):
    catalogue = products(6)
    configure(settings, items=catalogue, PROFILE_CACHE_SECONDS=0)
    shopper = Shopper.objects.create()
    warm(shopper, limit=4, products=False)
    with CaptureQueriesContext(connection) as ctx:
        recommend_for(shopper, "for_you", limit=4, products=False)
    assert ctx.captured_queries


def test_a_new_model_version_gets_new_candidates_without_the_shopper_acting(
    fast, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = taste_shop(shoppers=40)
    with django_capture_on_commit_callbacks(execute=True):
        train_all(force=True)
    shopper = Shopper.objects.create()
    for product in shop["b"][2:4]:
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    first = warm(shopper, limit=4, products=False)
    assert first.model_version
    with django_capture_on_commit_callbacks(execute=True):
        train_all(force=True)
    active = ModelVersion.objects.get(alias="default", is_active=True)
    assert str(active.pk) != first.model_version
    with CaptureQueriesContext(connection) as ctx:
        again = recommend_for(shopper, "for_you", limit=4, products=False)
    assert again.model_version == str(active.pk)
    # the profile came from the cache (no events query); the new model scored it
    assert not any("personalize_event" in q["sql"] for q in ctx.captured_queries)
