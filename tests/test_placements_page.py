"""Widgets on one page: a product an earlier widget showed goes last in the next one's list
instead of away, so a short list ("bought together") keeps its real item."""

from __future__ import annotations

import pytest

from personalize.models import Shopper
from personalize.placements import recommend_for
from tests.placements_helpers import configure, ids, keys, products, render, shopper_request

pytestmark = pytest.mark.django_db


def test_bought_together_keeps_its_only_item_after_similar_showed_it(settings):
    page_product, partner, *others = products(6)
    configure(settings, items=[page_product, partner, *others])
    # "Bought together" knows one real co-purchase; "similar" happens to show it first.
    settings.PERSONALIZE["RECOMMENDERS"]["bought_together"]["OPTIONS"] = {"ITEMS": keys([partner])}
    html = render(
        '{% similar_products product limit=4 %}<hr>{% frequently_bought_together product limit=4 %}',
        shopper=Shopper.objects.create(),
        product=page_product,
    )
    similar, bought_together = html.split("<hr>")
    assert str(partner.pk) in ids(similar)
    assert ids(bought_together) == [str(partner.pk)]


def test_a_list_with_enough_items_still_shows_new_ones_first(settings):
    items = products(10)
    configure(settings, items=items, DIVERSITY={})
    request = shopper_request(Shopper.objects.create())
    first = recommend_for(request, "for_you", limit=4)
    second = recommend_for(request, "trending", limit=4)
    assert not set(first.keys) & set(second.keys)


def test_explain_names_a_repeat_that_was_not_needed(settings):
    items = products(10)
    configure(settings, items=items, DIVERSITY={})
    request = shopper_request(Shopper.objects.create())
    first = recommend_for(request, "for_you", limit=3)
    second = recommend_for(request, "trending", limit=3, explain=True)
    why = {item.key: item.why for item in second.filtered}
    assert all(why.get(key) == "already shown on this page" for key in first.keys)
