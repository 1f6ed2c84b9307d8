"""Widgets on Oscar's product page: Oscar's strategy prices, sorl thumbnails, product cards,
and a number of queries that does not grow with the number of products shown."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.contrib.auth.models import AnonymousUser

from oscar.apps.partner.strategy import Selector

from personalize.adapters import get_adapter
from personalize.contrib.oscar.adapter import OscarAdapter
from personalize.models import Shopper
from personalize.placements.cards import invalidate as invalidate_cards
from tests.oscar.shop import BROWSER_UA

pytestmark = pytest.mark.django_db


def view_all(client, products) -> None:
    for product in products:
        assert client.get(product.get_absolute_url()).status_code == 200


def widget(html: str, name: str) -> str:
    match = re.search(rf'<section[^>]*data-personalize-widget="{name}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_oscar_adapter_is_the_default(shop):
    assert isinstance(get_adapter(), OscarAdapter)


def test_recently_viewed_shows_oscar_prices_thumbnails_and_product_cards(shop, shopper_client):
    view_all(shopper_client, shop.products[:3])
    html = shopper_client.get(shop.products[3].get_absolute_url()).content.decode()
    recent = widget(html, "recently_viewed")
    assert recent, "recently viewed did not render"
    assert f'data-product-id="{shop.products[0].pk}"' in recent
    assert "product_pod" in recent  # Oscar's product card markup
    assert "€10.00" in recent  # the strategy's price in Oscar's currency format
    thumbs = re.findall(r'<img src="([^"]+)"', recent)
    assert thumbs and all(src.startswith("/media/cache/") for src in thumbs), thumbs  # sorl thumbnails
    assert "Image of" not in recent


def test_serialised_product_has_every_field(shop):
    adapter = get_adapter()
    parent = adapter.get_products([str(shop.parent.pk)])[0]
    data = adapter.serialize(parent)
    assert data["title"] == "Zip Hoodie"
    expected = Selector().strategy().fetch_for_parent(parent).price
    assert data["price"] == str(expected.excl_tax)  # what Oscar's strategy says for a parent
    assert data["in_stock"] is True
    assert data["category"] == "Hoodies"
    assert data["image"].startswith("/media/cache/")
    sold_out = adapter.serialize(adapter.get_products([str(shop.out_of_stock.pk)])[0])
    assert sold_out["in_stock"] is False


def test_stock_filter_matches_oscars_availability(shop):
    adapter = get_adapter()
    in_stock = set(adapter.get_queryset().filter(adapter.stock_filter()).values_list("pk", flat=True))
    assert shop.out_of_stock.pk not in in_stock
    assert shop.parent.pk in in_stock  # through its variants
    assert {p.pk for p in shop.products} <= in_stock
    assert not {c.pk for c in shop.children} & in_stock  # variants are not listed


def test_category_keys_include_ancestors(shop):
    adapter = get_adapter()
    product = adapter.get_products([str(shop.products[0].pk)])[0]
    assert adapter.category_key(product) == str(shop.hoodies.pk)
    assert adapter.category_keys(product) == [str(shop.clothing.pk), str(shop.hoodies.pk)]
    assert adapter.resolve_category("clothing") == str(shop.clothing.pk)
    in_clothing = set(adapter.get_queryset().filter(adapter.category_filter(str(shop.clothing.pk))).values_list("pk", flat=True))
    assert shop.products[0].pk in in_clothing and shop.parent.pk in in_clothing
    assert shop.products[1].pk not in in_clothing  # kitchen


def _render_recently_viewed(shopper: Shopper, limit: int) -> tuple[int, str]:
    request = RequestFactory().get("/", HTTP_USER_AGENT=BROWSER_UA)
    request.user = AnonymousUser()
    request.strategy = Selector().strategy(request=request)
    request.session = {}
    request._personalize_shopper = request.shopper = shopper
    template = Template("{% load personalize %}{% recently_viewed limit=" + str(limit) + " %}")
    with CaptureQueriesContext(connection) as queries:
        html = template.render(Context({"request": request}))
    return len(queries), html


def test_a_widget_costs_the_same_queries_for_2_and_8_products(shop, shopper_client):
    view_all(shopper_client, shop.products[:8])
    shopper = Shopper.objects.latest("pk")
    # sorl keeps generated thumbnails in its key-value store behind Django's cache: the first
    # render makes them (as the first visitor after an upload does), the next ones read them.
    _render_recently_viewed(shopper, 8)
    # Product cards are cached too (personalize.placements.cards): measure them built from the
    # database (a product was just saved), then read from the cache.
    invalidate_cards()
    few, html_few = _render_recently_viewed(shopper, 2)
    invalidate_cards()
    many, html_many = _render_recently_viewed(shopper, 8)
    assert html_few.count("data-product-id=") == 2 and html_many.count("data-product-id=") == 8
    assert few == many, (few, many)
    assert many <= 12
    warm, _html = _render_recently_viewed(shopper, 8)
    assert warm <= many


def test_trending_in_a_parent_category_covers_its_subcategories(shop, shopper_client):
    view_all(shopper_client, [shop.products[0], shop.products[1]])  # a hoodie, a kitchen item
    template = Template("{% load personalize %}{% trending category=category limit=8 %}")
    request = RequestFactory().get("/", HTTP_USER_AGENT=BROWSER_UA)
    request.user, request.session = AnonymousUser(), {}
    html = template.render(Context({"request": request, "category": shop.clothing}))
    shown = re.findall(r'data-product-id="(\d+)"', html)
    assert str(shop.products[0].pk) in shown  # in Hoodies, a child of Clothing
    assert str(shop.products[1].pk) not in shown
