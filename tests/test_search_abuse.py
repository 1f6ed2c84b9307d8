"""Search suggestions cannot be poisoned by fresh cookies, nor reveal a private query (issue 12a)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from personalize.caching import cache
from personalize.models import Event, Shopper
from personalize.placements.search import compute_search_stats, suggestions_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(settings):
    cache().clear()
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 3}
    yield
    cache().clear()


def _search(shopper, query, *, results=5, source="server"):
    Event.objects.create(shopper=shopper, kind="search", query=query, context={"results": results, "source": source})


def _seasoned(n):
    old = timezone.now() - timedelta(days=3)
    return [Shopper.objects.create(first_seen=old, visits=3) for _ in range(n)]


def test_fresh_profiles_do_not_make_a_query_popular():
    for _ in range(150):
        _search(Shopper.objects.create(), "cheap pills", source="beacon")
    for shopper in _seasoned(3):
        _search(shopper, "lamps")
    assert "cheap pills" not in compute_search_stats().queries
    assert suggestions_for(None, limit=5).queries == ["lamps"]


def test_accounts_and_buyers_count_at_once():
    user = get_user_model().objects.create_user("searcher")
    account = Shopper.objects.create(user=user)
    buyer = Shopper.objects.create()
    Event.objects.create(shopper=buyer, kind="purchase", value=5)
    seasoned = _seasoned(1)[0]
    for shopper in (account, buyer, seasoned):
        _search(shopper, "desk lamp")
    assert compute_search_stats().queries["desk lamp"].shoppers == 3


def test_the_browser_cannot_claim_results_for_a_private_zero_result_query():
    victim = _seasoned(1)[0]
    _search(victim, "my divorce lawyer", results=0)
    for fake in _seasoned(2):  # even aged fakes: they claim results through the beacon
        _search(fake, "my divorce lawyer", results=5, source="beacon")
    assert "my divorce lawyer" not in compute_search_stats().queries
