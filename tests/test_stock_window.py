"""Stock checks of one process end together at the end of a LOCAL_CACHE_SECONDS window: lists
asked in a window cost a query only until their products were all asked about once, and no
answer outlives the freshness bound."""

from __future__ import annotations

import sys

import pytest
from django.db.models import Q

from personalize.placements import cards
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    now = [1000.0]
    # The module (the package's ``local`` is its one instance).
    module = sys.modules["personalize.caching.local"]
    monkeypatch.setattr(module, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    return now


def test_a_window_checks_each_product_once_and_ends_every_answer_together(clock, django_assert_num_queries):
    p1, p2, p3 = (factories.product(stock=5) for _ in range(3))
    k1, k2, k3 = (str(p.pk) for p in (p1, p2, p3))
    with django_assert_num_queries(1):
        assert cards.available_keys([k1, k2], Q()) == [k1, k2]
    clock[0] = 1003.0
    type(p2).objects.filter(pk=p2.pk).update(stock=0)  # behind the ORM: seen at the window's end
    with django_assert_num_queries(1) as queries:  # only p3 is asked about
        assert cards.available_keys([k2, k3], Q()) == [k2, k3]
    assert len(queries.captured_queries) == 1
    with django_assert_num_queries(0):
        assert cards.available_keys([k3, k1, k2], Q()) == [k3, k1, k2]
    clock[0] = 1005.0  # the window ends: every answer with it, whenever it was found
    with django_assert_num_queries(1):
        assert cards.available_keys([k3, k1, k2], Q()) == [k3, k1]
    clock[0] = 1008.5  # p3 was asked about 5.5 s ago, in the window before: the answer of 1005 holds
    with django_assert_num_queries(0):
        assert cards.available_keys([k3, k2], Q()) == [k3]


def test_no_answer_is_held_without_a_bound(settings, django_assert_num_queries):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    key = str(factories.product(stock=5).pk)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert cards.available_keys([key], Q()) == [key]


def test_the_statement_is_compiled_once_per_window_and_answers_as_the_orm(clock, monkeypatch):
    from personalize.adapters import get_adapter
    from personalize.placements.visible import visible_keys

    shown, sold_out, hidden = factories.product(stock=5), factories.product(stock=0), factories.product(is_active=False)
    keys = [str(p.pk) for p in (shown, sold_out, hidden)] + ["not-a-key", "999999"]
    adapter = get_adapter()
    built = []
    original = type(adapter).get_queryset
    monkeypatch.setattr(type(adapter), "get_queryset", lambda self: built.append(1) or original(self))
    expected = {str(pk) for pk in original(adapter).filter(adapter.stock_filter()).values_list("pk", flat=True)}
    assert visible_keys(keys, Q(), adapter, condition="", window=1005.0) == {str(shown.pk)} == expected & set(keys)
    assert visible_keys(keys[1:], Q(), adapter, condition="", window=1005.0) == set()
    assert len(built) == 1  # the second list ran the compiled statement
    rule = Q(price__gt=shown.price)  # another rule: a statement of its own
    assert visible_keys(keys, rule, adapter, condition=str(rule), window=1005.0) == set()
    clock[0] = 1005.0
    assert visible_keys(keys, Q(), adapter, condition="", window=1010.0) == {str(shown.pk)}
    assert len(built) == 3
