"""A shopper's cached profile is brought up to date from the events stored since it was last
read (personalize.profiles.live): the same answers as a profile loaded from scratch, with one
small query instead of the whole history."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.events import build_event, save_events
from personalize.events.tracking import track
from personalize.models import Event, Shopper
from personalize.placements.pipeline import profile_of
from personalize.profiles import load_profile
from personalize.profiles import live
from personalize.profiles.live import request_profile
from tests.placements_helpers import bought, configure, in_cart, products, shopper_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(settings):
    items = products(10)
    configure(settings, items=items, CONSENT_REQUIRED=False, PROFILE_EVENTS=5)
    return items


def view(shopper: Shopper, product, **fields) -> Event:
    return save_events([build_event(shopper, "view", product=str(product.pk), **fields)])[0]


def same(a, b) -> None:
    assert a.interactions == b.interactions and a.searches == b.searches
    assert a.purchased_keys == b.purchased_keys and a.truncated_at == b.truncated_at


def test_new_events_are_merged_in_with_one_query_that_reads_only_them(catalogue):
    shopper = Shopper.objects.create()
    bought(shopper, catalogue[0])
    for product in catalogue[1:7]:  # past PROFILE_EVENTS: the purchase is cut from the window
        view(shopper, product)
    request_profile(shopper, None)  # cached
    view(shopper, catalogue[8])
    with CaptureQueriesContext(connection) as ctx:
        profile = request_profile(shopper, None)
    assert len(ctx.captured_queries) == 1 and "NOT (" in ctx.captured_queries[0]["sql"]  # the held rows are not read again
    same(profile, load_profile(shopper))
    assert str(catalogue[0].pk) in profile.purchased_keys  # bought before the window: still never shown
    assert profile.viewed_keys(3) == [str(catalogue[8].pk), str(catalogue[6].pk), str(catalogue[5].pk)]


def test_a_warm_profile_costs_no_query(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    with django_assert_num_queries(0):
        assert request_profile(shopper, None).viewed_keys(4) == [str(catalogue[0].pk)]


def test_an_event_dated_before_the_window_reloads_the_profile(catalogue):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    bought(shopper, catalogue[3], when=timezone.now() - timedelta(days=3))  # a webhook's late purchase
    profile = request_profile(shopper, None)
    assert str(catalogue[3].pk) in profile.purchased_keys
    same(profile, load_profile(shopper))


def test_an_event_stored_late_within_the_window_is_not_missed(catalogue):
    """A slow transaction: its row lands after the profile was read, dated a moment before."""
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(shopper, None)
    # Written behind the signals (as if committed after the read), then the receivers' touch.
    Event.objects.create(shopper=shopper, kind="view", product_key=str(catalogue[4].pk),
                         created_at=timezone.now() - timedelta(seconds=1))
    view(shopper, catalogue[5])
    # dated a second ago: before the view just before it
    assert request_profile(shopper, None).viewed_keys(3) == [str(catalogue[5].pk), str(catalogue[0].pk),
                                                            str(catalogue[4].pk)]


def test_the_page_shows_its_own_event_and_the_next_page_too(catalogue):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    first = shopper_request(shopper)
    profile_of(first)  # cached
    page = shopper_request(shopper)
    track(page, "view", product=catalogue[1])  # inside the test's transaction: not committed
    assert profile_of(page)[1].viewed_keys(2) == [str(catalogue[1].pk), str(catalogue[0].pk)]
    assert profile_of(shopper_request(shopper))[1].viewed_keys(2) == [str(catalogue[1].pk), str(catalogue[0].pk)]


def test_one_shoppers_cached_profile_never_reaches_another(catalogue):
    one, other = Shopper.objects.create(), Shopper.objects.create()
    view(one, catalogue[0])
    view(other, catalogue[1])
    for _ in range(2):
        assert request_profile(one, None).viewed_keys(4) == [str(catalogue[0].pk)]
        assert request_profile(other, None).viewed_keys(4) == [str(catalogue[1].pk)]


def test_a_long_history_answers_recently_viewed_from_the_cache(catalogue, django_assert_num_queries):
    shopper = Shopper.objects.create()
    for product in catalogue[:4]:
        view(shopper, product)
    for _ in range(6):  # searches push the views out of the PROFILE_EVENTS window
        save_events([build_event(shopper, "search", query="kettle")])
    request_profile(shopper, None)
    with django_assert_num_queries(0):
        profile = request_profile(shopper, None)
    assert profile.truncated_at is not None
    assert profile.viewed_keys(3) == [str(p.pk) for p in reversed(catalogue[1:4])]


def test_cart_changes_reach_the_profile(catalogue):
    shopper = Shopper.objects.create()
    view(shopper, catalogue[0])
    request_profile(Shopper.objects.get(pk=shopper.pk), None)
    in_cart(shopper, catalogue[2])
    fresh = Shopper.objects.select_related("cart").get(pk=shopper.pk)  # as the middleware loads it
    assert request_profile(fresh, None).cart_keys == {str(catalogue[2].pk)}


def test_recently_viewed_after_a_new_view_checks_no_stock_again(settings, catalogue, django_assert_num_queries):
    """Its list changes with every view; its products' stock answers are remembered one by one."""
    from django.template import Context, Template

    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    shopper = Shopper.objects.create()
    widget = Template("{% load personalize %}{% recently_viewed limit=8 %}")
    for product in catalogue[:3]:
        view(shopper, product)
    widget.render(Context({"request": shopper_request(shopper)}))  # cold: profile, stock, cards
    view(shopper, catalogue[0])  # a new order of the same products
    with django_assert_num_queries(2):  # the shopper, the new events: no stock check
        html = widget.render(Context({"request": shopper_request(shopper)}))
    assert html.index(str(catalogue[0].pk)) < html.index(str(catalogue[2].pk))


@pytest.mark.parametrize("seed", range(20))
def test_merging_rows_in_any_order_gives_what_sorting_all_of_them_gives(seed):
    """The shortcut for rows newer than every held one (a page's own events) keeps the order a
    full sort gives, and so do rows that land among or behind the held ones."""
    rng = random.Random(seed)
    now = timezone.now()

    def row(pk: int, kind: str = "view"):
        return (pk, str(rng.randrange(6)), kind, "", (), now - timedelta(seconds=rng.choice([0, 1, 1, 2, 5, 9])))

    held = sorted((row(pk) for pk in range(rng.randrange(0, 8))), key=lambda r: (r[5], r[0]), reverse=True)
    if rng.random() < 0.5:  # a page's own events: newer than everything held
        added = [(pk, str(rng.randrange(6)), "view", "", (), now + timedelta(seconds=rng.randrange(1, 4))) for pk in range(100, 103)]
    else:
        added = [row(pk) for pk in range(100, 100 + rng.randrange(1, 4))]
    assert live._newest_first(tuple(held), added) == tuple(
        sorted([*held, *added], key=lambda r: (r[5], r[0]), reverse=True)
    )
    known = tuple(live._newest_views(held))
    last: dict = {}
    for _pk, key, _kind, _q, _lines, when in [*held, *added]:
        last[key] = max(last.get(key, when), when)
    views = live._newest_views(added, known)
    assert dict(views) == last and len(views) == len(last)  # each product once, at its last view
    assert [when for _key, when in views] == sorted(last.values(), reverse=True)  # newest first
