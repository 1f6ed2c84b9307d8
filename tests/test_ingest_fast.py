"""The beacon's fast path (issue 11): one multi-row insert that says which client ids were new,
product keys confirmed once per process within the freshness bound, no transaction unless the
cart changes. Runs on SQLite here and on PostgreSQL in CI's PostgreSQL stage (same tests)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.adapters import get_adapter
from personalize.events.ingest import KNOWN_PRODUCT_SECONDS, KNOWN_PRODUCTS, known_product_keys
from personalize.events.writing import fast_insert_supported, insert_events
from personalize.identity.remembered import ShopperGuard
from personalize.models import Cart, Event, Shopper
from personalize.signals import event_tracked, events_tracked
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/personalize/api/events/"


def post(client, events):
    return client.post(URL, json.dumps({"events": events}), content_type="application/json", HTTP_ORIGIN="http://testserver")


def _views(products, n):
    return [{"kind": "view", "product": str(products[i % len(products)].pk), "id": uuid.uuid4().hex} for i in range(n)]


def test_the_test_databases_take_the_fast_path():
    assert fast_insert_supported()  # SQLite >= 3.35 and PostgreSQL: otherwise the ORM path runs


def test_a_warm_batch_is_one_guarded_insert(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None, "LOCAL_CACHE_SECONDS": 5}
    products = [factories.product() for _ in range(5)]
    assert post(client_ua, _views(products[:1], 1)).status_code == 202  # cookie and profile
    others = [factories.product() for _ in range(3)]
    with CaptureQueriesContext(connection) as cold:
        assert post(client_ua, _views(others, 20)).json() == {"accepted": 20}
    statements = [q["sql"].split()[0].upper() for q in cold.captured_queries]
    assert statements == ["SELECT", "SELECT", "INSERT"]  # shopper, product keys, the batch
    assert "JOIN" not in cold.captured_queries[0]["sql"].upper()  # the beacon never reads the cart
    with CaptureQueriesContext(connection) as warm:
        assert post(client_ua, _views(others, 20)).json() == {"accepted": 20}
    # The shopper is remembered by this process: the insert itself checks its row is unchanged.
    assert [q["sql"].split()[0].upper() for q in warm.captured_queries] == ["INSERT"]
    assert "EXISTS" in warm.captured_queries[0]["sql"].upper()
    assert Event.objects.count() == 41


def test_an_id_a_concurrent_retry_stored_first_is_a_duplicate_and_reaches_no_receiver(client_ua, django_capture_on_commit_callbacks):
    product = factories.product()
    assert post(client_ua, _views([product], 1)).status_code == 202
    shopper = Shopper.objects.get()
    # What the other request stored while this one was on its way (no lookup in between now).
    Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk), client_id="raced-1")
    seen = []

    def listener(sender, events, **kwargs):
        seen.extend(events)

    events_tracked.connect(listener, weak=False, dispatch_uid="tests.ingest_fast.seen")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = post(client_ua, [
                {"kind": "view", "product": str(product.pk), "id": "raced-1"},
                {"kind": "view", "product": str(product.pk), "id": "new-1"},
                {"kind": "view", "product": str(product.pk)},
            ]).json()  # fmt: skip
    finally:
        events_tracked.disconnect(dispatch_uid="tests.ingest_fast.seen")
    assert body == {"accepted": 2, "duplicates": 1}
    assert [e.client_id for e in seen] == ["new-1", None]
    assert all(e.pk is not None and not e._state.adding for e in seen)
    assert Event.objects.filter(client_id="raced-1").count() == 1
    assert Event.objects.count() == 4


def test_insert_events_returns_the_rows_it_wrote_with_their_keys():
    shopper = Shopper.objects.create()
    now = timezone.now()
    Event.objects.create(shopper=shopper, kind="view", product_key="1", client_id="a")
    events = [
        Event(shopper=shopper, kind="view", product_key="1", client_id="a", created_at=now),
        Event(shopper=shopper, kind="search", query="shoes", client_id="b", created_at=now, context={"source": "beacon"}),
        Event(shopper=shopper, kind="view", product_key="2", value="12.50", created_at=now),
    ]
    stored = insert_events(events)
    assert [e.client_id for e in stored] == ["b", None]
    rows = {e.pk: e for e in Event.objects.all()}
    assert rows[stored[0].pk].query == "shoes" and rows[stored[0].pk].context == {"source": "beacon"}
    assert rows[stored[1].pk].product_key == "2" and str(rows[stored[1].pk].value) == "12.50"
    assert abs((rows[stored[1].pk].created_at - now).total_seconds()) < 0.001
    assert len(rows) == 3


def test_a_batch_that_changes_the_cart_stores_events_and_snapshot_together(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_EVENT_KINDS": [*settings.PERSONALIZE.get("API_EVENT_KINDS", ["view"]), "add_to_cart"]}
    product = factories.product()
    body = post(client_ua, [{"kind": "view", "product": str(product.pk)}, {"kind": "add_to_cart", "product": str(product.pk), "quantity": 2}]).json()
    assert body == {"accepted": 2}
    cart = Cart.objects.get()
    assert [(line["product"], line["quantity"]) for line in cart.lines] == [(str(product.pk), 2)]


def test_a_confirmed_key_is_held_within_the_bound_and_an_unknown_one_always_asked(settings, django_assert_num_queries):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    key, unknown = str(factories.product().pk), str(uuid.UUID(int=9))
    with django_assert_num_queries(1):
        assert known_product_keys({key, unknown}) == {key: key}
    with django_assert_num_queries(0):
        assert known_product_keys({key}) == {key: key}
    with django_assert_num_queries(1):
        assert known_product_keys({key, unknown}) == {key: key}  # never confirmed, never held


def test_without_the_bound_every_batch_asks_the_catalogue(settings, django_assert_num_queries):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    key = str(factories.product().pk)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert known_product_keys({key}) == {key: key}


def test_the_beacons_lookup_by_key_follows_a_merge_and_keeps_an_account_profile_to_its_account(client_ua):
    product = factories.product()
    assert post(client_ua, _views([product], 1)).status_code == 202
    browser = Shopper.objects.get()
    target = Shopper.objects.create(email="guest@example.com")  # e.g. the guest profile of a checkout
    Shopper.objects.filter(pk=browser.pk).update(merged_into=target)
    assert post(client_ua, _views([product], 2)).json() == {"accepted": 2}
    assert Event.objects.filter(shopper=target).count() == 2  # the cookie's profile moved there
    Shopper.objects.filter(pk=browser.pk).update(merged_into=None, user=factories.user())
    assert post(client_ua, _views([product], 1)).json() == {"accepted": 1}  # logged out: not that account's
    assert Event.objects.filter(shopper=browser).count() == 1
    assert Event.objects.exclude(shopper__in=[browser, target]).count() == 1


def test_confirmed_keys_outlive_the_short_bound_but_not_a_disabled_layer(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    assert KNOWN_PRODUCTS._bound() == KNOWN_PRODUCT_SECONDS > 5
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    assert KNOWN_PRODUCTS._bound() == 0


def test_insert_events_splits_what_one_statement_cannot_bind():
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key="1", client_id="id-150")
    events = [Event(shopper=shopper, kind="view", product_key="1", client_id=f"id-{i}", created_at=timezone.now()) for i in range(250)]
    stored = insert_events(events)
    assert len(stored) == 249 and "id-150" not in {e.client_id for e in stored}
    assert len({e.pk for e in stored}) == 249 and Event.objects.count() == 250


@pytest.mark.postgres
def test_on_postgresql_a_batch_of_any_size_is_one_statement_with_one_parameter():
    """psycopg quotes each parameter in Python and re-parses a statement of over 50 of them on
    every execute: the rows go as one JSON parameter instead (events/writing.py)."""
    shopper = Shopper.objects.create()
    now = timezone.now()
    events = [Event(shopper=shopper, kind="view", product_key=str(i), client_id=f"pg-{i}", created_at=now, context={"n": i}) for i in range(250)]
    with CaptureQueriesContext(connection) as captured:
        stored = insert_events(events)
    assert len(captured.captured_queries) == 1
    assert "jsonb_populate_recordset" in captured.captured_queries[0]["sql"]
    assert len(stored) == 250 and Event.objects.get(client_id="pg-7").context == {"n": 7}


def test_a_guarded_insert_writes_only_while_the_row_is_the_remembered_one():
    shopper = Shopper.objects.create()
    other = Shopper.objects.create()

    def one(cid):
        return [Event(shopper=shopper, kind="view", product_key="1", client_id=cid, created_at=timezone.now())]

    by_key = ShopperGuard(shopper.pk, "key", key=shopper.key)
    assert [e.client_id for e in insert_events(one("g1"), by_key)] == ["g1"]
    assert insert_events(one("g2"), ShopperGuard(shopper.pk, "key", key=other.key)) == []  # another key
    Shopper.objects.filter(pk=shopper.pk).update(merged_into=other)
    assert insert_events(one("g3"), by_key) == []  # merged since
    user = factories.user()
    Shopper.objects.filter(pk=shopper.pk).update(merged_into=None, user=user)
    assert insert_events(one("g4"), by_key) == []  # an account's now
    assert [e.client_id for e in insert_events(one("g5"), ShopperGuard(shopper.pk, "user", user_id=user.pk))] == ["g5"]
    assert insert_events(one("g6"), ShopperGuard(shopper.pk, "user", user_id=factories.user().pk)) == []
    assert sorted(Event.objects.values_list("client_id", flat=True)) == ["g1", "g5"]


def test_a_confirmed_key_is_not_parsed_again(client_ua, settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None, "LOCAL_CACHE_SECONDS": 5}
    product, other = factories.product(), factories.product()
    assert post(client_ua, _views([product], 3)).json() == {"accepted": 3}
    adapter = type(get_adapter())
    parsed = []
    real = adapter.is_valid_key
    monkeypatch.setattr(adapter, "is_valid_key", lambda self, key: parsed.append(key) or real(self, key))
    assert post(client_ua, _views([product], 5)).json() == {"accepted": 5}
    assert parsed == []
    body = post(client_ua, [*_views([other], 1), {"kind": "view", "product": "not-a-uuid"}]).json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 1
    assert parsed == [str(other.pk), "not-a-uuid"]


def test_no_receiver_of_personalize_listens_per_event():
    """Its receivers listen once per batch (events_tracked): a batch of 20 dispatches once."""
    assert not event_tracked.has_listeners(Event)
