"""The serving pipeline: filters, diversity, backfill, holdout, A/B variants, caching."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.cache import cache

from personalize.models import Shopper
from personalize.placements import PlacementResult, recommend_for
from personalize.placements.config import UnknownPlacement, get_placement
from tests import factories
from tests.placements_helpers import bought, configure, in_cart, keys, products

pytestmark = pytest.mark.django_db


def test_for_you_follows_the_recommender_and_reports_its_version(settings):
    items = products(5)
    configure(settings, items=items)
    shopper = Shopper.objects.create()
    result = recommend_for(shopper, "for_you", limit=3)
    assert isinstance(result, PlacementResult)
    assert result.keys == keys(items[:3])
    assert result.items == items[:3]
    assert result.model_version == "test"
    assert result.variant == ""
    assert result.reasons[result.keys[0]] == "test recommendation"
    assert result.scores[result.keys[0]] > result.scores[result.keys[2]]


def test_out_of_stock_and_inactive_products_are_never_shown(settings):
    empty = factories.product(stock=0)
    hidden = factories.product(is_active=False)
    ok = products(2)
    configure(settings, items=[empty, hidden, *ok])
    assert recommend_for(None, "for_you", limit=8).keys == keys(ok)


def test_purchased_products_are_left_out(settings):
    items = products(4)
    configure(settings, items=items)
    shopper = Shopper.objects.create()
    bought(shopper, items[0], items[2])
    assert recommend_for(shopper, "for_you", limit=8).keys == keys([items[1], items[3]])


def test_consumables_placement_keeps_purchased_products(settings):
    items = products(3)
    configure(settings, items=items, PLACEMENTS={"refill": {"recommender": "default", "exclude_purchased": False}})
    shopper = Shopper.objects.create()
    bought(shopper, items[0])
    assert recommend_for(shopper, "refill", limit=8).keys == keys(items)
    assert recommend_for(shopper, "for_you", limit=8).keys == keys(items[1:])


def test_products_in_the_cart_are_left_out(settings):
    items = products(3)
    configure(settings, items=items)
    shopper = Shopper.objects.create()
    in_cart(shopper, items[1])
    shopper = Shopper.objects.select_related("cart").get(pk=shopper.pk)
    assert recommend_for(shopper, "for_you", limit=8).keys == keys([items[0], items[2]])


def test_the_product_on_the_page_is_left_out(settings):
    items = products(3)
    configure(settings, items=items)
    assert recommend_for(None, "for_you", limit=8, product=items[0]).keys == keys(items[1:])
    assert recommend_for(None, "similar", limit=8, product=str(items[1].pk)).keys == keys([items[0], items[2]])


def test_filtered_items_do_not_shorten_the_list(settings):
    excluded = products(3, stock=0)
    shown = products(3)
    configure(settings, items=[*excluded, *shown])
    assert recommend_for(None, "for_you", limit=3).keys == keys(shown)


def test_diversity_caps_items_per_category(settings):
    shoes, hats = factories.category("Shoes"), factories.category("Hats")
    many_shoes = products(5, category=shoes)
    some_hats = products(2, category=hats)
    configure(settings, items=[*many_shoes, *some_hats], DIVERSITY={"category": 3, "brand": None})
    result = recommend_for(None, "for_you", limit=5)
    assert result.keys == keys([*many_shoes[:3], *some_hats])
    assert Counter(p.category_id for p in result.items)[shoes.pk] == 3


def test_diversity_caps_items_per_brand_and_placements_override_it(settings):
    acme = products(4, brand="Acme")
    other = products(2, brand="Zed")
    configure(settings, items=[*acme, *other], DIVERSITY={"category": None, "brand": 2})
    assert recommend_for(None, "for_you", limit=4).keys == keys([*acme[:2], *other])
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PLACEMENTS": {"for_you": {"diversity": {"brand": None}}}}
    cache.clear()
    assert recommend_for(None, "for_you", limit=4).keys == keys(acme)


def test_similar_placement_does_not_cap_the_category():
    placement = get_placement("similar")
    assert "category" not in placement.diversity
    assert get_placement("for_you").diversity["category"] == 4


def test_a_short_list_is_topped_up_with_popular_items(settings):
    mine, popular = products(1), products(3)
    configure(settings, items=mine, popular=popular)
    assert recommend_for(None, "for_you", limit=3).keys == keys([mine[0], popular[0], popular[1]])


def test_trending_in_a_category(settings):
    shoes = factories.category("Shoes")
    shoe_items = products(2, category=shoes)
    others = products(2)
    configure(settings, items=[others[0], shoe_items[0], others[1], shoe_items[1]])
    assert recommend_for(None, "trending", limit=8, category=shoes).keys == keys(shoe_items)
    assert recommend_for(None, "trending", limit=8, category=str(shoes.pk)).keys == keys(shoe_items)


def test_unknown_placement_raises():
    with pytest.raises(UnknownPlacement, match="nope"):
        recommend_for(None, "nope", limit=3)


def test_a_product_placement_without_a_product_is_empty(settings):
    configure(settings, items=products(2))
    assert recommend_for(None, "similar", limit=3).keys == []
    assert recommend_for(None, "bought_together", limit=3).keys == []


def test_limit_is_clamped(settings):
    items = products(3)
    configure(settings, items=items, WIDGET_MAX_LIMIT=2)
    assert len(recommend_for(None, "for_you", limit=40).keys) == 2


def test_holdout_shoppers_get_the_neutral_list(settings):
    personal, popular = products(3), products(3)
    configure(settings, items=personal, popular=popular, HOLDOUT_PERCENT=100)
    shopper = Shopper.objects.create()
    bought(shopper, popular[0])
    result = recommend_for(shopper, "for_you", limit=3)
    assert result.holdout is True
    assert result.variant == "holdout"
    # The same list as everyone in the holdout: not personalised by the purchase either.
    assert result.keys == keys(popular)
    assert recommend_for(Shopper.objects.create(), "for_you", limit=3).keys == keys(popular)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 0}
    assert recommend_for(shopper, "for_you", limit=3).keys == keys(personal)


AB_PLACEMENTS = {
    "for_you": {
        "variants": [
            {"name": "lightfm", "recommender": "default", "weight": 50},
            {"name": "popular", "recommender": "popular", "weight": 50},
        ]
    }
}


def test_ab_variants_are_sticky_per_shopper_and_split_by_weight(settings):
    personal, popular = products(2), products(2)
    configure(settings, items=personal, popular=popular, PLACEMENTS=AB_PLACEMENTS)
    shoppers = [Shopper.objects.create() for _ in range(60)]
    seen = {}
    for shopper in shoppers:
        result = recommend_for(shopper, "for_you", limit=2)
        seen[shopper.pk] = result.variant
        expected = personal if result.variant == "lightfm" else popular
        assert result.keys == keys(expected)
    # Sticky: asking again (another request, another process) gives the same variant.
    for shopper in shoppers:
        again = Shopper.objects.get(pk=shopper.pk)
        assert recommend_for(again, "for_you", limit=2).variant == seen[shopper.pk]
    counts = Counter(seen.values())
    assert set(counts) == {"lightfm", "popular"}
    assert 15 <= counts["lightfm"] <= 45


def test_ab_weights_can_send_everyone_to_one_variant(settings):
    configure(settings, items=products(2), PLACEMENTS={
        "for_you": {"variants": [{"name": "a", "weight": 0}, {"name": "b", "recommender": "popular", "weight": 1}]}
    })
    assert {recommend_for(Shopper.objects.create(), "for_you", limit=2).variant for _ in range(10)} == {"b"}


def test_candidates_are_cached_by_model_version(settings):
    first, second = products(2), products(2)
    configure(settings, items=first)
    assert recommend_for(None, "for_you", limit=2).keys == keys(first)
    # Same model version: the cached list is served (no recommender call).
    configure(settings, items=second)
    assert recommend_for(None, "for_you", limit=2).keys == keys(first)
    # A new model version: recomputed.
    recommenders = settings.PERSONALIZE["RECOMMENDERS"]
    recommenders["default"]["OPTIONS"]["VERSION"] = "v2"
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDERS": recommenders}
    result = recommend_for(None, "for_you", limit=2)
    assert result.model_version == "v2"
    assert result.keys == keys(second)


def test_explain_says_why_candidates_were_left_out(settings):
    shoes = factories.category("Shoes")
    page, purchased, carted, empty, hidden = products(5)
    capped = products(3, category=shoes)
    ok = factories.product()
    configure(
        settings, items=[page, purchased, carted, empty, hidden, *capped, ok], DIVERSITY={"category": 2, "brand": None}
    )
    type(empty).objects.filter(pk=empty.pk).update(stock=0)
    type(hidden).objects.filter(pk=hidden.pk).update(is_active=False)
    shopper = Shopper.objects.create()
    bought(shopper, purchased)
    in_cart(shopper, carted)
    shopper = Shopper.objects.select_related("cart").get(pk=shopper.pk)  # as a request loads it
    result = recommend_for(shopper, "for_you", limit=8, product=page, explain=True)
    assert result.keys == keys([*capped[:2], ok])
    why = {f.key: f.why for f in result.filtered}
    assert why[str(page.pk)] == "the product on the page"
    assert why[str(purchased.pk)] == "already purchased"
    assert why[str(carted.pk)] == "in the cart"
    assert why[str(empty.pk)] == "out of stock"
    assert why[str(hidden.pk)] == "hidden (inactive)"
    assert why[str(capped[2].pk)] == "diversity cap (category)"


def test_request_shopper_is_used(settings):
    from tests.placements_helpers import shopper_request

    items = products(3)
    configure(settings, items=items)
    shopper = Shopper.objects.create()
    bought(shopper, items[0])
    assert recommend_for(shopper_request(shopper), "for_you", limit=8).keys == keys(items[1:])
    # A first visit (unsaved shopper): everything.
    assert recommend_for(shopper_request(None), "for_you", limit=8).keys == keys(items)


def test_diversity_gaps_are_filled_from_the_popular_list(settings):
    shoes = factories.category("Shoes")
    crowded = products(6, category=shoes)  # the model only likes shoes
    popular = products(3)
    configure(settings, items=crowded, popular=popular, DIVERSITY={"category": 2, "brand": None})
    result = recommend_for(None, "for_you", limit=4)
    assert result.keys == keys([*crowded[:2], *popular[:2]])


class BrokenRecommender:
    """Stands in for a store's backend with a bug."""

    model_version = "broken"

    def recommend(self, profile, **kwargs):
        raise RuntimeError("boom")

    similar = recommend


def test_a_failing_recommender_falls_back_to_the_neutral_list(settings, monkeypatch):
    import personalize.recommenders as recommenders

    popular = products(3)
    configure(settings, items=[], popular=popular)
    real = recommenders.get_recommender
    monkeypatch.setattr(recommenders, "get_recommender", lambda alias="default": BrokenRecommender() if alias == "default" else real(alias))
    result = recommend_for(None, "for_you", limit=3)
    assert result.keys == keys(popular)
    with pytest.raises(RuntimeError):  # trending has no backfill: the error surfaces (widgets render nothing)
        monkeypatch.setattr(recommenders, "get_recommender", lambda alias="default": BrokenRecommender())
        recommend_for(None, "trending", limit=3)
