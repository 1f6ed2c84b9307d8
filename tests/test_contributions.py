"""What one shopper contributes to shared lists is capped per window (issue 12, abuse resistance).

A rigging shopper with 2,000 clicks and views on one product weighs exactly what one honest
shopper with one click and one view weighs, in trending (from the database and from the
training data), in co-occurrence and in search suggestions; honest data ranks as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import numpy as np
import pytest
from django.utils import timezone

from personalize.caching import cache
from personalize.models import Event, Shopper
from personalize.placements.search import compute_search_stats
from personalize.profiles import ShopperProfile
from personalize.recommenders import get_recommender
from personalize.recommenders.contributions import WindowOf, first_per_window, window_of, window_seconds
from personalize.recommenders.cooccurrence import CoOccurrenceRecommender
from personalize.recommenders.training import load_training_data
from tests import factories

pytestmark = pytest.mark.django_db

RIGGED = 2000


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache().clear()
    yield
    cache().clear()


def past_window_start() -> datetime:
    """The start of the last full contribution window (wholly in the past)."""
    start = (int(window_of(np.array([timezone.now().timestamp()]))[0]) - 1) * window_seconds()
    return datetime.fromtimestamp(start, tz=dt_timezone.utc)


def honest_shop():
    """Five products viewed (and clicked) by 5, 4, 3, 2 and 1 honest shoppers, once each."""
    products = [factories.product(name=f"honest {i}") for i in range(5)]
    start = past_window_start() + timedelta(hours=2)
    events = []
    for rank, product in enumerate(products):
        for _ in range(5 - rank):
            shopper = Shopper.objects.create()
            for kind in ("view", "rec_click"):
                events.append(Event(shopper=shopper, kind=kind, product_key=str(product.pk), created_at=start))
    Event.objects.bulk_create(events)
    return products, start


def rig(product, start: datetime, n: int = RIGGED) -> Shopper:
    """One cookie: ``n`` views and ``n`` clicks on ``product`` within one window."""
    rigger = Shopper.objects.create()
    Event.objects.bulk_create(
        Event(shopper=rigger, kind=kind, product_key=str(product.pk), created_at=start + timedelta(seconds=i))
        for i in range(n)
        for kind in ("view", "rec_click")
    )
    return rigger


def trending() -> dict[str, float]:
    popular = get_recommender("popular")
    popular.reset()
    cache().clear()
    return {r.key: r.score for r in popular.recommend(ShopperProfile(None), limit=50)}


def trending_from_training_data() -> dict[str, float]:
    popular = get_recommender("popular")
    popular.reset()
    popular.refresh(load_training_data())
    return {r.key: r.score for r in popular.recommend(ShopperProfile(None), limit=50)}


@pytest.mark.parametrize("compute", [trending, trending_from_training_data], ids=["database", "training-data"])
def test_a_rigging_shopper_weighs_one_honest_shopper_in_trending(compute):
    products, start = honest_shop()
    honest = compute()
    target = factories.product(name="rigged")
    rig(target, start)
    rigged = compute()
    # The target gets exactly the weight of the one honest shopper of products[4]...
    assert rigged[str(target.pk)] == pytest.approx(honest[str(products[4].pk)], rel=1e-4)
    # ...and everything honest keeps its score and its order.
    assert {k: v for k, v in rigged.items() if k != str(target.pk)} == pytest.approx(honest, rel=1e-4)
    order = [k for k in rigged if k != str(target.pk)]
    assert order == [str(p.pk) for p in products]
    assert list(rigged).index(str(target.pk)) >= 3  # tied with the last honest product, never on top


def test_without_the_cap_the_rigger_would_top_trending(settings):
    """The test above is not vacuous: the same data counted per event puts the target first."""
    products, start = honest_shop()
    target = factories.product(name="rigged")
    rig(target, start)
    data = load_training_data()
    per_event = np.bincount(data.items, minlength=data.n_items)
    assert str(data.product_keys[int(per_event.argmax())]) == str(target.pk)
    assert next(iter(trending_from_training_data())) != str(target.pk)


def test_a_shopper_counts_once_per_window_and_a_purchase_once_per_product():
    start = past_window_start()
    steady, bulk = factories.product(name="steady"), factories.product(name="bulk")
    regular = Shopper.objects.create()
    # One shopper viewing on three different days counts three times (three windows)...
    for day in range(3):
        Event.objects.create(shopper=regular, kind="view", product_key=str(steady.pk), created_at=start - timedelta(days=day))
    # ...a buyer of 40 in four orders within one window counts as one purchase.
    buyer = Shopper.objects.create()
    for order in range(4):
        Event.objects.create(
            shopper=buyer, kind="purchase", order_ref=f"B-{order}", created_at=start + timedelta(minutes=order),
            context={"lines": [{"product": str(bulk.pk), "quantity": 10, "price": "1.00"}]},
        )
    scores = trending()
    half_life = get_recommender("popular").half_life
    assert scores[str(steady.pk)] > 2.0 * 0.5 ** (3.5 / half_life)  # three windows, not one
    one_purchase = 5.0 * 0.5 ** (((timezone.now() - start).total_seconds() / 86400 - 0.5) / half_life)
    assert scores[str(bulk.pk)] == pytest.approx(one_purchase, rel=0.05)


def test_window_sql_matches_numpy():
    shopper = Shopper.objects.create()
    times = [timezone.now() - timedelta(hours=h, minutes=7) for h in (0, 5, 23, 24, 49, 400)]
    for when in times:
        Event.objects.create(shopper=shopper, kind="view", product_key="p", created_at=when)
    for width in (3600, 86400, 7 * 86400):
        sql = sorted(Event.objects.annotate(w=WindowOf("created_at", width)).values_list("w", flat=True))
        expected = sorted(window_of(np.array([t.timestamp() for t in times]), width).tolist())
        assert [int(w) for w in sql] == expected


def test_first_per_window_keeps_one_entry_per_group_and_window():
    users = np.array([0, 0, 0, 1, 0])
    items = np.array([5, 5, 6, 5, 5])
    times = np.array([10.0, 20.0, 30.0, 40.0, 100_000.0])
    kept = first_per_window(users, items, times=times, width=86400)
    assert kept.tolist() == [1, 2, 3, 4]  # the later of the two same-window entries of (0, 5)


# --- co-occurrence ------------------------------------------------------------------------------


def viewed_together(shopper: Shopper, products, when: datetime) -> None:
    for offset, product in enumerate(products):
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk), created_at=when + timedelta(seconds=offset))


def also_viewed() -> CoOccurrenceRecommender:
    rec = CoOccurrenceRecommender("av", {"KINDS": ["view"], "RELOAD_SECONDS": 0})
    rec.fit(load_training_data())
    return rec


def test_a_rigging_shopper_pairs_products_no_more_than_one_honest_shopper():
    camera, lens, strap, junk = (factories.product(name=t) for t in ("camera", "lens", "strap", "junk"))
    start = past_window_start() + timedelta(hours=1)
    for _ in range(3):
        viewed_together(Shopper.objects.create(), [camera, lens], start)
    for _ in range(2):
        viewed_together(Shopper.objects.create(), [camera, strap], start)
    honest = {r.key: r.score for r in also_viewed().similar(str(camera.pk), limit=5)}
    assert list(honest) == [str(lens.pk), str(strap.pk)]
    # One cookie opens 20 visits (31 minutes apart: each a new session) viewing camera + junk.
    rigger = Shopper.objects.create()
    for visit in range(20):
        viewed_together(rigger, [camera, junk], start + timedelta(minutes=31 * visit))
    data = load_training_data()
    assert len(np.unique(data.sessions[data.users == list(data.shopper_ids).index(rigger.pk)])) == 20
    rigged = {r.key: r.score for r in also_viewed().similar(str(camera.pk), limit=5)}
    assert list(rigged)[:2] == [str(lens.pk), str(strap.pk)]
    # The same as if the rigger had viewed the pair once.
    Event.objects.filter(shopper=rigger).exclude(created_at__lt=start + timedelta(minutes=5)).delete()
    once = {r.key: r.score for r in also_viewed().similar(str(camera.pk), limit=5)}
    assert rigged == pytest.approx(once)


def test_honest_baskets_give_the_same_neighbours_with_the_cap():
    """One basket per shopper and window: counting contributors changes nothing."""
    rng = np.random.default_rng(7)
    users = np.repeat(np.arange(60), 4)
    items = rng.integers(0, 15, size=len(users))
    times = np.repeat(np.arange(60) * 3600.0, 4) + np.tile(np.arange(4.0), 60)
    rec = CoOccurrenceRecommender("t", {"KINDS": ["view"]})
    plain = rec._neighbours(users, items, times, 15)
    capped = rec._neighbours(users, items, times, 15, shoppers=users)
    for name in ("indptr", "indices", "scores"):
        assert np.array_equal(plain[name], capped[name]), name


# --- search suggestions -------------------------------------------------------------------------


def test_a_shopper_counts_for_a_bounded_number_of_queries_per_window(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 1, "CONTRIBUTION_MAX_QUERIES": 3}
    spammer = Shopper.objects.create(first_seen=timezone.now() - timedelta(days=3), visits=3)
    start = past_window_start() + timedelta(hours=1)
    for i in range(50):
        for _repeat in range(3):
            Event.objects.create(
                shopper=spammer, kind="search", query=f"spam {i}", context={"results": 5},
                created_at=start + timedelta(seconds=i),
            )
    queries = compute_search_stats().queries
    assert sorted(queries) == ["spam 0", "spam 1", "spam 2"]
    assert all(stats.shoppers == 1 for stats in queries.values())
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONTRIBUTION_MAX_QUERIES": 0}
    assert len(compute_search_stats().queries) == 50
