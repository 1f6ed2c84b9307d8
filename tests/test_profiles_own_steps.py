"""Events bring a shopper's cached profile up to date without a read
(personalize.caching.shoppers: counted tokens and the steps stored with them, this thread's
own or another worker's from the shared cache), and any change that is not such a step still
costs the read that finds it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.core.cache import caches
from django.core.signals import request_finished
from django.utils import timezone

from personalize.caching import breaker as breakers
from personalize.caching import cache
from personalize.caching import shoppers as shopper_state
from personalize.campaigns.selection import PRODUCT_VIEWS_DAYS
from personalize.events import build_event, save_events
from personalize.models import Event, Shopper
from personalize.profiles import load_profile
from personalize.profiles import live
from personalize.profiles.live import request_profile
from personalize.events.tracking import track
from personalize.identity import get_shopper
from tests.placements_helpers import configure, products, shopper_request

# Committed events: the receivers that count a shopper's steps run after the commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue(settings):
    items = products(10)
    configure(settings, items=items, CONSENT_REQUIRED=False, PROFILE_EVENTS=5)
    return items


def view(shopper: Shopper, product) -> Event:
    return save_events([build_event(shopper, "view", product=str(product.pk))])[0]


def same(a, b) -> None:
    assert a.interactions == b.interactions and a.purchased_keys == b.purchased_keys
    assert a.viewed_keys(5) == b.viewed_keys(5)


def test_a_threads_own_events_need_no_read(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    first = view(shopper, catalogue[0])
    token = cache().get(f"personalize:shopper-state:{shopper.pk}")  # made at random, then counted
    assert token > shopper_state.MIN_TOKEN and set(shopper_state.steps_between(shopper.pk, token - 1, token)) == {first.pk}
    request_profile(shopper, None)  # cached
    view(shopper, catalogue[1])
    view(shopper, catalogue[2])  # two steps, both this thread's
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
    same(profile, load_profile(shopper))
    assert profile.viewed_keys(3) == [str(catalogue[i].pk) for i in (2, 1, 0)]
    with django_assert_num_queries(0):  # stored under the new token: the next page reads nothing either
        same(request_profile(shopper, None), profile)


def test_a_shopper_this_request_made_is_not_read_and_the_next_page_keeps_its_first_event(
    catalogue, django_assert_num_queries
):
    request = shopper_request()  # no cookie: a first visit
    track(request, "view", product=catalogue[0])
    shopper = get_shopper(request)
    with django_assert_num_queries(0):  # a row made now holds nothing but this request's own events
        profile = request_profile(shopper, request)
    assert profile.viewed_keys(2) == [str(catalogue[0].pk)]
    again = Shopper.objects.get(pk=shopper.pk)  # the next page: a shopper read back, no own events
    with django_assert_num_queries(0):
        cached = request_profile(again, None)
    same(cached, load_profile(again))
    assert cached.viewed_keys(2) == [str(catalogue[0].pk)]


def test_another_threads_step_comes_from_the_shared_cache(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    view(shopper, catalogue[1])
    other = threading.Thread(target=view, args=(shopper, catalogue[2]))  # another worker thread's step
    other.start()
    other.join()
    view(shopper, catalogue[3])
    with django_assert_num_queries(0):  # its step is stored with its token: nothing to read
        profile = request_profile(shopper, None)
    same(profile, load_profile(shopper))
    assert str(catalogue[2].pk) in profile.viewed_keys(5)


def test_a_step_that_was_not_stored_is_read(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    other = threading.Thread(target=view, args=(shopper, catalogue[2]))
    other.start()
    other.join()
    token = cache().get(f"personalize:shopper-state:{shopper.pk}")
    cache().delete(f"personalize:shopper-step:{shopper.pk}:{token}")  # expired, or evicted
    with django_assert_num_queries(1):  # the refresh reads what is new
        profile = request_profile(shopper, None)
    same(profile, load_profile(shopper))


def test_a_caught_up_profile_is_written_back_only_every_few_steps(catalogue, monkeypatch):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    writes = []
    original = type(cache()).set
    monkeypatch.setattr(type(cache()), "set", lambda self, key, *a, **kw: writes.append(key) or original(self, key, *a, **kw))
    entry = f"personalize:shopper-profile:{shopper.pk}"
    for step in range(1, shopper_state.STORE_AFTER + 1):
        view(shopper, catalogue[step])
        same(request_profile(shopper, None), load_profile(shopper))
        assert writes.count(entry) == (1 if step == shopper_state.STORE_AFTER else 0), step


def test_a_change_of_another_process_is_read(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    # Another process counts a step of its own (its event is in the database, its step is not ours).
    Event.objects.create(shopper=shopper, kind="view", product_key=str(catalogue[4].pk))
    assert cache().atomic_incr(f"personalize:shopper-state:{shopper.pk}") is not None
    view(shopper, catalogue[1])  # this thread's touch: not contiguous with the value it holds
    with django_assert_num_queries(1):
        profile = request_profile(shopper, None)
    assert profile.viewed_keys(2) == [str(catalogue[1].pk), str(catalogue[4].pk)]


def test_a_state_older_than_the_bound_is_loaded_again(catalogue, settings, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PROFILE_CACHE_SECONDS": 1}
    time.sleep(1.1)
    view(shopper, catalogue[1])
    with django_assert_num_queries(2):  # loaded from scratch (the events and the cart), not caught up
        same(request_profile(shopper, None), load_profile(shopper))


def test_a_cache_that_cannot_count_gets_a_new_token(catalogue, settings):
    settings.CACHES = {**settings.CACHES, "db": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CACHE_ALIAS": "db"}
    try:
        assert cache().atomic_incr("personalize:tests:count") is None
    finally:
        breakers.reset()


@pytest.mark.redis
def test_redis_counts_in_one_step_and_an_old_token_is_replaced(catalogue, settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    shopper = Shopper.objects.create()
    key = f"personalize:shopper-state:{shopper.pk}"
    try:
        caches["default"].set(key, "3f2a9c", 60)  # a token of an earlier release (not a number)
        view(shopper, catalogue[0])
        assert not breakers.breaker().is_open  # the cache answered: not a failure
        token = cache().get(key)
        assert isinstance(token, int) and token >= shopper_state.MIN_TOKEN  # renewed at random
        view(shopper, catalogue[1])
        assert cache().get(key) == token + 1  # counted
        request_profile(shopper, None)
        view(shopper, catalogue[2])
        same(request_profile(shopper, None), load_profile(shopper))
        newcomer = Shopper.objects.create()
        view(newcomer, catalogue[0])  # no token yet: made at random and counted in one pipeline
        made = f"personalize:shopper-state:{newcomer.pk}"
        assert cache().get(made) > shopper_state.MIN_TOKEN
        assert 0 < redis.Redis.from_url(redis_url).pttl(caches["default"].make_key(made)) <= 3600 * 1000  # it expires
        caches["default"].delete(made)
    finally:
        caches["default"].delete_many([key, f"personalize:shopper-profile:{shopper.pk}"])  # the broker may share the database
        breakers.reset()


def test_a_shopper_made_now_without_events_costs_no_cache_call(catalogue, monkeypatch):
    request = shopper_request()
    track(request, "page_view")  # makes the row; not an event a profile reads
    shopper = get_shopper(request)
    calls = []
    monkeypatch.setattr(type(cache()), "get_many", lambda self, *a, **kw: calls.append(a) or {})
    profile = request_profile(shopper, request)
    assert profile.is_new and not calls


@pytest.mark.redis
def test_redis_stores_the_step_with_its_count_in_one_script(catalogue, settings, redis_url, django_assert_num_queries):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    shopper = Shopper.objects.create()
    key = f"personalize:shopper-state:{shopper.pk}"
    raw = redis.Redis.from_url(redis_url)
    try:
        caches["default"].set(key, 2**60, 60)  # a token of an earlier release, beyond what the script counts exactly
        first = view(shopper, catalogue[0])
        token = cache().get(key)
        assert shopper_state.MIN_TOKEN < token < 2**53  # replaced
        request_profile(shopper, None)
        other = threading.Thread(target=view, args=(shopper, catalogue[1]))  # another worker's step
        other.start()
        other.join()
        step = f"personalize:shopper-step:{shopper.pk}:{token + 1}"
        assert cache().get(key) == token + 1 and set(cache().get(step)) - {first.pk}
        assert 0 < raw.pttl(caches["default"].make_key(step)) <= shopper_state.STEP_SECONDS * 1000
        with django_assert_num_queries(0):
            profile = request_profile(shopper, None)
        same(profile, load_profile(shopper))
    finally:
        caches["default"].delete_many([key, f"personalize:shopper-profile:{shopper.pk}"])
        breakers.reset()


def test_a_cut_off_history_counts_its_views_per_product_without_a_query(catalogue, django_assert_num_queries):
    """A campaign rule "viewed this product N times in 30 days" on a shopper with more events
    than PROFILE_EVENTS (5 here): the cached state counts them (it used to ask the database on
    every page)."""
    shopper = Shopper.objects.create()
    for _ in range(3):
        view(shopper, catalogue[0])
    for index in range(1, 7):  # newer views push the first three out of the profile's rows
        view(shopper, catalogue[index])
    old = Event.objects.create(shopper=shopper, kind="view", product_key=str(catalogue[0].pk))
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=PRODUCT_VIEWS_DAYS + 1))
    shopper_state.bump([shopper.pk])
    request_profile(shopper, None)  # loaded (with its counts)
    view(shopper, catalogue[0])  # a step: counted in
    since = timezone.now() - timedelta(days=PRODUCT_VIEWS_DAYS)
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
        assert profile.truncated_at is not None and profile.truncated_at >= since  # the rows cannot tell
        assert profile.views_since(str(catalogue[0].pk), since) == 4  # not the one 31 days ago
        assert profile.views_since(str(catalogue[9].pk), since) == 0
    assert live.VIEW_COUNT_DAYS >= PRODUCT_VIEWS_DAYS


def test_counts_beyond_the_most_viewed_products_are_asked_of_the_database(catalogue, monkeypatch):
    monkeypatch.setattr(live, "VIEW_COUNT_PRODUCTS", 2)
    shopper = Shopper.objects.create()
    for index in (0, 0, 1, 1, 2, 3, 4, 5, 6):
        view(shopper, catalogue[index])
    shopper_state.bump([shopper.pk])
    profile = request_profile(shopper, None)
    since = timezone.now() - timedelta(days=30)
    assert profile.views_since(str(catalogue[0].pk), since) == 2  # among the most viewed
    assert profile.views_since(str(catalogue[2].pk), since) is None  # beyond them: the database


def test_a_history_cut_while_cached_keeps_its_counts(catalogue, django_assert_num_queries):
    """A shopper cached while their whole history fit, then cut by new events (the bench's
    returning shoppers): the counts are made from the whole history before it is cut."""
    shopper = Shopper.objects.create()
    for index in (0, 0, 1):
        view(shopper, catalogue[index])
    request_profile(shopper, None)  # complete: nothing to count
    for index in range(2, 6):  # 7 events: more than PROFILE_EVENTS (5)
        view(shopper, catalogue[index])
    since = timezone.now() - timedelta(days=PRODUCT_VIEWS_DAYS)
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
        assert profile.truncated_at is not None and profile.truncated_at >= since
        assert profile.views_since(str(catalogue[0].pk), since) == 2
        assert profile.views_since(str(catalogue[5].pk), since) == 1
    assert profile.viewed_keys(2) == [str(catalogue[5].pk), str(catalogue[4].pk)]


def cache_reads(monkeypatch) -> list:
    """Every ``get_many`` of the shared cache from now on (the keys asked)."""
    reads: list = []
    original = type(cache()).get_many
    monkeypatch.setattr(type(cache()), "get_many", lambda self, keys, *a, **kw: reads.append(list(keys)) or original(self, keys, *a, **kw))
    return reads


def test_a_read_right_after_the_requests_own_touch_makes_no_round_trip(catalogue, monkeypatch, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)  # this thread holds the value with its token
    reads = cache_reads(monkeypatch)
    view(shopper, catalogue[1])  # the page's own view: its touch is this thread's step
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
    assert reads == []
    same(profile, load_profile(shopper))
    assert profile.viewed_keys(2) == [str(catalogue[1].pk), str(catalogue[0].pk)]
    same(request_profile(shopper, None), profile)  # once per touch: the next read asks the shared cache
    assert len(reads) == 1


def test_a_touch_of_an_earlier_request_does_not_skip_the_shared_cache(catalogue, monkeypatch):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    view(shopper, catalogue[1])
    request_finished.send(sender=None)  # the request that touched it has ended
    reads = cache_reads(monkeypatch)
    same(request_profile(shopper, None), load_profile(shopper))
    assert len(reads) == 1


def test_a_touch_older_than_the_bound_does_not_skip_the_shared_cache(catalogue, monkeypatch):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    monkeypatch.setattr(shopper_state, "FRESH_SECONDS", 0.0)
    view(shopper, catalogue[1])
    reads = cache_reads(monkeypatch)
    same(request_profile(shopper, None), load_profile(shopper))
    assert len(reads) == 1


def test_a_change_between_the_requests_touch_and_its_read_is_seen_by_the_next_read(catalogue):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    view(shopper, catalogue[1])
    other = threading.Thread(target=view, args=(shopper, catalogue[2]))  # another worker, meanwhile
    other.start()
    other.join()
    # The read is as of the request's own touch (as if the other event had landed a moment later).
    assert request_profile(shopper, None).viewed_keys(3) == [str(catalogue[i].pk) for i in (1, 0)]
    nxt = request_profile(shopper, None)
    same(nxt, load_profile(shopper))
    assert nxt.viewed_keys(3) == [str(catalogue[i].pk) for i in (2, 1, 0)]


def test_a_bump_drops_what_this_thread_holds_of_the_shopper(catalogue):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    assert ("profile", shopper.pk) in shopper_state._held()
    shopper_state.bump([shopper.pk])  # an erasure, a merge
    assert ("profile", shopper.pk) not in shopper_state._held()
    view(shopper, catalogue[1])  # the counter starts elsewhere: read again, loaded from scratch
    same(request_profile(shopper, None), load_profile(shopper))


def test_another_workers_step_before_the_requests_touch_is_read_alone(catalogue, monkeypatch, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    other = threading.Thread(target=view, args=(shopper, catalogue[2]))  # the previous page, another worker
    other.start()
    other.join()
    reads = cache_reads(monkeypatch)
    view(shopper, catalogue[1])
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
    assert reads == [[f"personalize:shopper-step:{shopper.pk}:{cache().get(f'personalize:shopper-state:{shopper.pk}') - 1}"]]
    same(profile, load_profile(shopper))
