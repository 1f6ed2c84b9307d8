"""``{% personalize_item %}``: one item's HTML held per process, escaped, keyed by what it shows."""

from __future__ import annotations

import pytest
from django.template import Template, engines

from personalize.caching import local, rendered
from personalize.widgets import items as items_module
from personalize.placements.cards import cards_for
from personalize.placements.result import PlacementResult
from personalize.widgets.items import ItemList, card_items
from tests import factories

pytestmark = pytest.mark.django_db

LIST = "{% load personalize %}{% for item in items %}{% personalize_item item %}{% endfor %}"


@pytest.fixture(autouse=True)
def _layer_on(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5, "WIDGET_HTML_CACHE": True}
    rendered.clear()


def _item(**fields):
    return {"id": "7", "key": "7", "title": "Mug", "url": "/p/7/", "image": "", "price": "9.50", "placement": "for_you",
            "model_version": "3", "variant": "", **fields}


def _render(items):
    return engines["django"].from_string(LIST).render({"items": items})


def test_an_item_is_rendered_once_then_reused(monkeypatch):
    first = _render([_item()])
    assert 'data-product-id="7"' in first and "Mug" in first
    calls = []
    original = Template.render
    monkeypatch.setattr(Template, "render", lambda self, context: calls.append(self.name) or original(self, context))
    assert _render([_item()]) == first
    assert "personalize/widgets/_item.html" not in calls


def test_what_an_item_shows_is_in_its_key():
    plain = _render([_item()])
    assert _render([_item(price="12.00")]) != plain
    assert "Cup" in _render([_item(title="Cup")])


def test_titles_are_escaped_whether_rendered_or_reused():
    hostile = _item(title="<script>alert(1)</script>")
    for _ in range(2):
        html = _render([hostile])
        assert "<script>" not in html and "&lt;script&gt;" in html


def test_without_the_html_cache_every_item_is_rendered(settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "WIDGET_HTML_CACHE": False}
    _render([_item()])
    calls = []
    original = Template.render
    monkeypatch.setattr(Template, "render", lambda self, context: calls.append(self.name) or original(self, context))
    _render([_item()])
    assert "personalize/widgets/_item.html" in calls


ITEMS = "{% load personalize %}{% personalize_items items %}"


def _render_items(items):
    return engines["django"].from_string(ITEMS).render({"items": items})


def _count_builds(monkeypatch):
    built = []
    original = items_module.item_for_card
    monkeypatch.setattr(items_module, "item_for_card", lambda card, *a, **k: built.append(card["id"]) or original(card, *a, **k))
    return built


def test_held_items_of_cached_cards_are_not_even_built(monkeypatch):
    keys = [factories.product(name=f"Mug {n}").pk for n in range(3)]
    keys = [str(key) for key in keys]
    built = _count_builds(monkeypatch)
    first = _render_items(card_items(keys, placement="recently_viewed"))
    assert built == keys and all(f'data-product-id="{key}"' in first for key in keys)
    built.clear()
    # A new list of the same products (the next page): the HTML is reused, no item is built.
    assert _render_items(card_items(keys, placement="recently_viewed")) == first
    assert built == []
    # A new product changes the catalogue generation: the list is built again, with it.
    new = str(factories.product(name="Cup").pk)
    html = _render_items(card_items([*keys, new], placement="recently_viewed"))
    assert "Cup" in html and built


def test_a_changed_product_is_rendered_again(monkeypatch):
    product = factories.product(name="Mug")
    assert "Mug" in _render_items(card_items([str(product.pk)]))
    product.name = "Big mug"
    product.save()
    assert "Big mug" in _render_items(card_items([str(product.pk)]))


def test_the_list_tag_renders_what_the_item_loop_renders():
    keys = [str(factories.product(name=f"Mug {n}").pk) for n in range(3)]
    looped = engines["django"].from_string(
        "{% load personalize %}{% for item in items %}\n  {% personalize_item item %}{% endfor %}"
    ).render({"items": card_items(keys)})
    rendered.clear()
    assert _render_items(card_items(keys)) == looped


def test_an_item_list_is_a_sequence_for_a_stores_own_template():
    keys = [str(factories.product(name=f"Mug {n}").pk) for n in range(3)]
    listed = card_items(keys, placement="for_you")
    assert len(listed) == 3 and listed[0]["id"] == keys[0] and [i["id"] for i in listed[1:]] == keys[1:]
    html = engines["django"].from_string(
        "{% if items %}{{ items|length }}:{% for item in items %}{{ item.title }},{% endfor %}{{ items.0.id }}{% endif %}"
    ).render({"items": listed})
    assert html == f"3:Mug 0,Mug 1,Mug 2,{keys[0]}"


def test_rendered_html_is_held_apart_from_the_values_every_page_reads():
    """Rendered HTML has far more keys than the hot values (candidate lists, cards): held in
    ``local`` its churn pushed those out (oldest first), and pages went back to the cache."""
    local.clear()
    local.hold("personalize:candidates:hot", ("1", 1.0, ""))
    keys = [str(factories.product(name=f"Mug {n}").pk) for n in range(3)]
    before = len(local._data)
    _render_items(card_items(keys))
    assert all(key.startswith("personalize:card") or key.startswith("personalize:generation") for key in list(local._data)[before:])
    for n in range(local.max_entries + 1):
        rendered.hold(f"personalize:html:{n}", "<li></li>")
    assert local.held("personalize:candidates:hot")[0]


def _result_items(keys, reason):
    result = PlacementResult(placement="similar", model_version="3")
    result.reasons = {key: f"Similar to {reason}" for key in keys}
    cards = cards_for(keys)
    result.cards = [cards[key] for key in keys]
    result.items = [None] * len(keys)
    return ItemList(result.cards, result.items, result=result)


def test_an_items_html_is_shared_by_the_lists_it_is_on_when_the_template_shows_no_reason(monkeypatch):
    keys = [str(factories.product(name=f"Mug {n}").pk) for n in range(2)]
    first = _render_items(_result_items(keys, "Cup"))
    built = _count_builds(monkeypatch)
    assert _render_items(_result_items(keys, "Bowl")) == first  # another page's "similar": same HTML
    assert built == []


def test_a_template_that_shows_the_reason_keeps_it_per_list(settings, tmp_path):
    (tmp_path / "personalize" / "widgets").mkdir(parents=True)
    (tmp_path / "personalize" / "widgets" / "_item.html").write_text("<li>{{ item.title }}: {{ item.reason }}</li>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0].get("DIRS", [])]}]
    keys = [str(factories.product(name="Mug").pk)]
    assert "Similar to Cup" in _render_items(_result_items(keys, "Cup"))
    assert "Similar to Bowl" in _render_items(_result_items(keys, "Bowl"))
