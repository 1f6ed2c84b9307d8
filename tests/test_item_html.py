"""``{% personalize_item %}``: one item's HTML held per process, escaped, keyed by what it shows."""

from __future__ import annotations

import pytest
from django.template import Template, engines

from personalize.caching import local

pytestmark = pytest.mark.django_db

LIST = "{% load personalize %}{% for item in items %}{% personalize_item item %}{% endfor %}"


@pytest.fixture(autouse=True)
def _layer_on(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5, "WIDGET_HTML_CACHE": True}
    local.clear()


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
