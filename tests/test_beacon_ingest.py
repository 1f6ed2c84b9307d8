"""Beacon ingestion: idempotent retries, client time, per-event results, and bad input as 400.

The bad-input set also runs marked ``postgres``: PostgreSQL refuses NUL and lone surrogates that
SQLite stores, so that is where a missed check would turn into a 500.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/personalize/api/events/"


def post(client, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data, content_type="application/json", HTTP_ORIGIN="http://testserver")


def _events(product, n, **extra):
    return [{"kind": "view", "product": str(product.pk), "id": uuid.uuid4().hex, **extra} for _ in range(n)]


def test_a_retried_batch_is_stored_once(client_ua):
    product = factories.product()
    batch = {"events": _events(product, 20)}
    first, second = post(client_ua, batch), post(client_ua, batch)
    assert first.status_code == 202 and first.json() == {"accepted": 20}
    assert second.status_code == 202 and second.json() == {"accepted": 0, "duplicates": 20}
    assert Event.objects.count() == 20
    assert set(Event.objects.values_list("client_id", flat=True)) == {e["id"] for e in batch["events"]}


def test_a_retry_from_a_browser_that_never_got_its_cookie_is_still_stored_once(client_ua):
    """The first answer (and its cookie) was lost: the retry comes as a new browser."""
    product = factories.product()
    batch = {"events": _events(product, 5)}
    assert post(client_ua, batch).status_code == 202
    other = type(client_ua)(HTTP_USER_AGENT=factories.BROWSER_UA)
    assert post(other, batch).json() == {"accepted": 0, "duplicates": 5}
    assert Event.objects.count() == 5


def test_the_same_id_twice_in_one_batch_counts_once(client_ua):
    product = factories.product()
    event = _events(product, 1)[0]
    assert post(client_ua, {"events": [event, event]}).json() == {"accepted": 1, "duplicates": 1}


def test_events_without_ids_are_all_stored(client_ua):
    product = factories.product()
    batch = {"events": [{"kind": "view", "product": str(product.pk)}] * 3}
    assert post(client_ua, batch).json() == {"accepted": 3}
    assert post(client_ua, batch).json() == {"accepted": 3}  # no id, no de-duplication
    assert Event.objects.count() == 6


def test_one_stale_product_id_no_longer_rejects_the_other_49(client_ua):
    product = factories.product()
    events = _events(product, 50)
    events[17]["product"] = str(uuid.UUID(int=7))  # a product deleted since the page was shown
    body = post(client_ua, {"events": events}).json()
    assert body["accepted"] == 49 and [r["index"] for r in body["rejected"]] == [17]
    assert "Unknown product" in body["rejected"][0]["errors"]["events[17].product"][0]
    assert Event.objects.count() == 49


def test_client_time_is_kept_within_the_skew(client_ua, settings):
    product = factories.product()
    now_ms = time.time() * 1000
    events = [
        {"kind": "view", "product": str(product.pk), "ts": now_ms - 3_600_000},  # an hour ago: kept
        {"kind": "view", "product": str(product.pk), "ts": now_ms + 60_000},  # a minute ahead: now
        {"kind": "view", "product": str(product.pk), "ts": now_ms + 3_600_000},  # an hour ahead: refused
        {"kind": "view", "product": str(product.pk), "ts": now_ms - 30 * 86_400_000},  # a month old: refused
        {"kind": "view", "product": str(product.pk), "ts": "yesterday"},
    ]
    body = post(client_ua, {"events": events}).json()
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [2, 3, 4]
    assert "future" in body["errors"]["events[2].ts"][0]
    times = sorted(Event.objects.values_list("created_at", flat=True))
    assert abs(times[0].timestamp() * 1000 - (now_ms - 3_600_000)) < 1000
    assert times[1].timestamp() * 1000 <= time.time() * 1000 + 1  # a clock ahead never writes the future


def test_receivers_run_once_per_batch(client_ua, django_capture_on_commit_callbacks):
    from django.dispatch import receiver

    from personalize.signals import events_tracked

    batches = []

    @receiver(events_tracked, weak=False, dispatch_uid="tests.beacon.batches")
    def count(sender, events, **kwargs):
        batches.append(len(events))

    try:
        product = factories.product()
        with django_capture_on_commit_callbacks(execute=True):
            post(client_ua, {"events": _events(product, 30)})
        assert batches == [30]
    finally:
        events_tracked.disconnect(dispatch_uid="tests.beacon.batches")


def test_a_cookieless_batch_of_impressions_gets_a_cookie_and_no_profile(client_ua):
    product = factories.product()
    batch = {"events": [{"kind": "impression", "product": str(product.pk), "id": uuid.uuid4().hex}]}
    first = post(client_ua, batch)
    assert first.status_code == 202 and first.json() == {"accepted": 0, "resend": True}
    assert Shopper.objects.count() == 0 and Event.objects.count() == 0
    second = post(client_ua, batch)  # what beacon.js does: the same batch, now with the cookie
    assert second.json() == {"accepted": 1} and Shopper.objects.count() == 1


def test_a_script_dropping_its_cookies_writes_nothing(client_ua):
    product = factories.product()
    for _ in range(20):
        fresh = type(client_ua)(HTTP_USER_AGENT=factories.BROWSER_UA)
        post(fresh, {"events": [{"kind": "impression", "product": str(product.pk)}]})
    assert Shopper.objects.count() == 0 and Event.objects.count() == 0


def test_an_invalid_batch_creates_no_profile(client_ua):
    response = post(client_ua, {"events": [{"kind": "view", "product": "987654321"}]})
    assert response.status_code == 400 and Shopper.objects.count() == 0


# --- bad input: 400 with a message, never 500 (also on PostgreSQL) ---------------------------------


def _bad_bodies(key: str) -> dict[str, str | bytes]:
    return {
        "nested 1000 deep": '{"events": [{"kind": "view", "product": "%s", "context": %s1%s}]}' % (key, '{"a":' * 1000, "}" * 1000),
        "nested list 5000 deep": '{"events": ' + "[" * 5000 + "]" * 5000 + "}",
        "NUL in context value": json.dumps({"events": [{"kind": "view", "product": key, "context": {"page": "a\u0000b"}}]}),
        "NUL in query": json.dumps({"events": [{"kind": "search", "query": "x\u0000y"}]}),
        "lone surrogate in value": '{"events": [{"kind": "view", "product": "%s", "context": {"page": "\\ud800"}}]}' % key,
        "lone surrogate in field name": '{"events": [{"kind": "view", "product": "%s", "\\udfff": 1}]}' % key,
        "lone surrogate in context key": '{"events": [{"kind": "view", "product": "%s", "context": {"\\ud83d": "x"}}]}' % key,
        "lone surrogate in an envelope key": '{"events": [], "\\ud800": 1}',
        "surrogate in product": '{"events": [{"kind": "view", "product": "\\ud800"}]}',
        "surrogate in kind": '{"events": [{"kind": "\\udc00"}]}',
        "invalid UTF-8": b'{"events": [{"kind": "view", "product": "\xff\xfe"}]}',
        "infinite value": '{"events": [{"kind": "view", "product": "%s", "value": 1e400}]}' % key,
        "huge quantity": '{"events": [{"kind": "view", "product": "%s", "quantity": 1e400}]}' % key,
        "quantity true": '{"events": [{"kind": "view", "product": "%s", "quantity": true}]}' % key,
        "kind a list": '{"events": [{"kind": ["view"], "product": "%s"}]}' % key,
        "product an object": '{"events": [{"kind": "view", "product": {"id": 1}}]}',
        "id an object": '{"events": [{"kind": "view", "product": "%s", "id": {}}]}' % key,
        "context a list": '{"events": [{"kind": "view", "product": "%s", "context": [1]}]}' % key,
        "event not an object": '{"events": [1, null, "x"]}',
        "truncated": '{"events": [{"kind": "view"',
        "empty body": "",
    }


BAD_NAMES = list(_bad_bodies("1"))


def _assert_bad_input_is_400(client, name):
    product = factories.product()
    response = post(client, _bad_bodies(str(product.pk))[name])
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()  # encodable: no surrogate is echoed back
    assert body["detail"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_input_is_400_with_a_message(client_ua, name):
    _assert_bad_input_is_400(client_ua, name)


@pytest.mark.postgres
@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_input_is_400_on_postgresql(client_ua, name):
    _assert_bad_input_is_400(client_ua, name)


def test_a_made_up_variant_is_dropped_and_a_signed_one_is_the_servers(client_ua):
    from personalize import signing

    product = factories.product()
    client_ua.get(f"/shop/p/{product.pk}/")  # a browser with its cookie
    forged = {"kind": "impression", "product": str(product.pk), "placement": "for_you", "context": {"variant": "forged"}}
    token = signing.sign("rec_click", {"p": "for_you", "m": "v3", "v": "b", "k": str(product.pk)})
    signed = {"kind": "impression", "product": str(product.pk), "placement": "x", "context": {"variant": "z"}, "token": token}
    other = signing.sign("rec_click", {"p": "for_you", "m": "v3", "v": "b", "k": "someone-else"})
    replayed = {"kind": "impression", "product": str(product.pk), "context": {"variant": "b"}, "token": other}
    assert post(client_ua, {"events": [forged, signed, replayed]}).json() == {"accepted": 3}
    contexts = [e.context for e in Event.objects.filter(kind="impression").order_by("pk")]
    assert "variant" not in contexts[0] and "signed" not in contexts[0]
    assert contexts[1] == {"source": "beacon", "placement": "for_you", "model_version": "v3", "variant": "b", "signed": True}
    assert "variant" not in contexts[2] and "signed" not in contexts[2]  # a token for another product


def test_new_profiles_per_network_are_capped(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "NEW_PROFILES_PER_NETWORK_PER_HOUR": 3, "API_THROTTLE_RATE": None}
    product = factories.product()
    codes = []
    for i in range(6):  # a fresh cookie every time, and a made-up forwarded address
        fresh = type(client_ua)(HTTP_USER_AGENT=factories.BROWSER_UA)
        response = fresh.post(
            URL, json.dumps({"events": [{"kind": "view", "product": str(product.pk)}]}),
            content_type="application/json", HTTP_ORIGIN="http://testserver", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        codes.append(response.status_code)
    assert codes == [202, 202, 202, 429, 429, 429]
    assert Shopper.objects.count() == 3
    assert post(client_ua, {"events": [{"kind": "view", "product": str(product.pk)}]}).status_code == 429


def test_a_whole_float_quantity_is_a_whole_number_and_a_fraction_is_refused(client_ua):
    """JSON Schema's "integer" (the OpenAPI document) admits 2.0: the server takes it as 2."""
    product = factories.product()
    batch = {"events": [
        {"kind": "view", "product": str(product.pk), "quantity": 2.0},
        {"kind": "view", "product": str(product.pk), "quantity": 2.5},
    ]}
    body = post(client_ua, batch).json()
    if body.get("resend"):  # first contact: beacon.js sends again with the cookie it got
        body = post(client_ua, batch).json()
    assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1]
    assert list(Event.objects.values_list("quantity", flat=True)) == [2]
