"""The beacon endpoint: happy path, every bad input, cross-site posts, throttling, bots."""

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personalize.conf import personalize_settings as ps
from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/personalize/api/events/"
SAME_ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def post(client, payload, *, content_type="application/json", **headers):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(URL, body, content_type=content_type, **{**SAME_ORIGIN, **headers})


def test_happy_path_stores_batch_and_sets_cookie(client_ua):
    a, b = factories.product(), factories.product()
    payload = {
        "events": [
            {"kind": "impression", "product": str(a.pk), "placement": "recently_viewed", "model_version": "v7"},
            {"kind": "rec_click", "product": str(b.pk), "placement": "recently_viewed", "context": {"page": "/"}},
            {"kind": "search", "query": "  red shoes "},
            {"kind": "page_view", "context": {"page": "/about/", "utm_source": "news"}},
        ]
    }
    response = post(client_ua, payload)
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 4}
    shopper = Shopper.objects.get()
    assert ps.COOKIE_NAME in response.cookies
    events = {e.kind: e for e in Event.objects.filter(shopper=shopper)}
    assert set(events) == {"impression", "rec_click", "search", "page_view"}
    assert events["impression"].product_key == str(a.pk)
    assert events["impression"].context == {"placement": "recently_viewed", "model_version": "v7", "source": "beacon"}
    assert events["rec_click"].context["page"] == "/"
    assert events["search"].query == "red shoes"
    assert events["page_view"].context["utm_source"] == "news"


def test_beacon_uses_the_shopper_of_the_cookie(client_ua):
    p = factories.product()
    client_ua.get(f"/shop/p/{p.pk}/")  # the server-side view creates the shopper and cookie
    shopper = Shopper.objects.get()
    response = post(client_ua, {"events": [{"kind": "impression", "product": str(p.pk)}]})
    assert response.status_code == 202
    assert Shopper.objects.count() == 1
    assert Event.objects.filter(shopper=shopper).count() == 2


def test_logged_in_shopper_needs_no_csrf_token(client_ua):
    """Session authentication would demand a CSRF header the beacon cannot send."""
    user = factories.user()
    client_ua.force_login(user)
    client_ua.handler.enforce_csrf_checks = True
    p = factories.product()
    response = post(client_ua, {"events": [{"kind": "view", "product": str(p.pk)}]})
    assert response.status_code == 202, response.content
    assert Event.objects.get().shopper.user == user


def test_product_existence_is_checked_in_one_query(client_ua):
    products = [factories.product() for _ in range(12)]
    payload = {"events": [{"kind": "impression", "product": str(p.pk)} for p in products]}
    assert post(client_ua, payload).json() == {"accepted": 0, "resend": True}  # first contact: the cookie
    with CaptureQueriesContext(connection) as ctx:
        response = post(client_ua, payload)
    assert response.status_code == 202
    product_queries = [q for q in ctx.captured_queries if "testshop_product" in q["sql"]]
    assert len(product_queries) == 1
    assert Event.objects.count() == 12


def test_product_keys_are_normalised(client_ua):
    p = factories.product()
    response = post(client_ua, {"events": [{"kind": "view", "product": str(p.pk).upper()}, {"kind": "view", "product": p.pk.hex}]})
    assert response.status_code == 202
    assert set(Event.objects.values_list("product_key", flat=True)) == {str(p.pk)}


def test_hidden_product_is_still_accepted(client_ua):
    """A product deactivated while a page was open was real: its events are kept."""
    p = factories.product(is_active=False)
    assert post(client_ua, {"events": [_valid(p)]}).status_code == 202


def _valid(product):
    return {"kind": "view", "product": str(product.pk)}


BAD_EVENTS = [
    # (bad event, path named, words in the message)
    ({"kind": "teleport"}, "events[1].kind", "Unknown event kind"),
    ({"kind": "purchase", "value": "10"}, "events[1].kind", "server"),
    ({"kind": "add_to_cart", "product": "PRODUCT"}, "events[1].kind", "cannot be sent from the browser"),
    ({"kind": "view", "product": "not-a-uuid"}, "events[1].product", "not a valid product id"),
    ({"kind": "view", "product": str(uuid.UUID(int=7))}, "events[1].product", "Unknown product"),
    ({"kind": "view"}, "events[1].product", "needs a product"),
    ({"kind": "impression"}, "events[1].product", "needs a product"),
    ({"kind": "search", "query": "   "}, "events[1].query", "needs a query"),
    ({"kind": "search", "query": "x" * 256}, "events[1].query", "255"),
    ({"kind": "view", "product": "PRODUCT", "placement": "p" * 65}, "events[1].placement", "64"),
    ({"kind": "view", "product": "PRODUCT", "model_version": "m" * 65}, "events[1].model_version", "64"),
    ({"kind": "view", "product": "x" * 65}, "events[1].product", "64"),
    ({"kind": "view", "product": "PRODUCT", "quantity": 0}, "events[1].quantity", "between 1 and"),
    ({"kind": "view", "product": "PRODUCT", "value": "lots"}, "events[1].value", "number"),
    ({"kind": "view", "product": "PRODUCT", "prodcut": "x"}, "events[1].prodcut", "Unknown field"),
    ({"kind": "view", "product": "PRODUCT", "context": {"a": {"nested": 1}}}, "events[1].context", "string, number"),
    ({"kind": "view", "product": "PRODUCT", "context": {"source": "fake"}}, "events[1].context", "not an allowed key"),
    ({"kind": "view", "product": "PRODUCT", "context": {"page": "/" * 300}}, "events[1].context", "longer than"),
    ({"kind": "view", "product": "PRODUCT", "context": "text"}, "events[1].context", "object"),
    ({"kind": "view", "product": "PRODUCT", "context": {"n": 10**20}}, "events[1].context", "string, number"),
    ({"kind": "view", "product": "PRODUCT", "context": {f"k{i}": i for i in range(21)}}, "events[1].context", "At most 20"),
    ({"kind": "view", "product": "PRODUCT", "context": {"Bad-Key": 1}}, "events[1].context", "not an allowed key"),
    ("not an object", "events[1]", "Invalid data"),
]


@pytest.mark.parametrize("bad, path, words", BAD_EVENTS, ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_EVENTS)])
def test_bad_event_is_listed_and_the_others_are_stored(client_ua, bad, path, words):
    p = factories.product()
    if isinstance(bad, dict) and bad.get("product") == "PRODUCT":
        bad = {**bad, "product": str(p.pk)}
    response = post(client_ua, {"events": [_valid(p), bad, _valid(p)]})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [1]
    assert path in body["errors"] and path in body["rejected"][0]["errors"], body
    assert body["detail"].startswith(f"{path}: ")
    assert words in " ".join(body["errors"][path])
    assert Event.objects.count() == 2


@pytest.mark.parametrize("bad, path, words", BAD_EVENTS[:6], ids=[case[1] for case in BAD_EVENTS[:6]])
def test_a_batch_of_only_bad_events_is_400_and_stores_nothing(client_ua, bad, path, words):
    p = factories.product()
    if isinstance(bad, dict) and bad.get("product") == "PRODUCT":
        bad = {**bad, "product": str(p.pk)}
    response = post(client_ua, {"events": [bad]})
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(path.replace("[1]", "[0]") + ": ")
    assert Event.objects.count() == 0 and Shopper.objects.count() == 0
    assert ps.COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "payload, content_type, path, words",
    [
        ("{not json", "application/json", "body", "Invalid JSON"),
        (" ", "application/json", "body", "Invalid JSON"),
        ('{"events": [{"kind": "view", "quantity": NaN}]}', "application/json", "body", "Invalid JSON"),
        ('{"events": []}', "text/plain", "Content-Type", "application/json"),
        ("events=1", "application/x-www-form-urlencoded", "Content-Type", "application/json"),
        ("[]", "application/json", "body", "JSON object"),
        ("{}", "application/json", "events", "required"),
        ('{"events": {}}', "application/json", "events", "list"),
        ('{"events": []}', "application/json", "events", "at least one"),
        ('{"events": [], "shopper": "x"}', "application/json", "shopper", "Unknown field"),
    ],
)
def test_bad_body_is_400_naming_the_problem(client_ua, payload, content_type, path, words):
    response = post(client_ua, payload, content_type=content_type)
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert body["detail"].startswith(f"{path}: ")
    assert words in body["detail"]
    assert Event.objects.count() == 0


def test_oversized_batch(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_MAX_BATCH": 3}
    p = factories.product()
    response = post(client_ua, {"events": [_valid(p)] * 4})
    assert response.status_code == 400
    assert response.json()["detail"] == "events: At most 3 events per request, got 4."
    assert post(client_ua, {"events": [_valid(p)] * 3}).status_code == 202


def test_oversized_body(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_MAX_BODY_BYTES": 200}
    p = factories.product()
    response = post(client_ua, {"events": [{**_valid(p), "context": {"page": "x" * 250}}]})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body: Larger than 200 bytes")


def test_every_bad_event_is_reported(client_ua):
    p = factories.product()
    response = post(client_ua, {"events": [{"kind": "nope"}, _valid(p), {"kind": "view", "product": "??"}]})
    errors = response.json()["errors"]
    assert list(errors) == ["events[0].kind", "events[2].product"]


def test_store_may_allow_cart_events_from_the_browser(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_EVENT_KINDS": [*ps.API_EVENT_KINDS, "add_to_cart", "purchase"]}
    p = factories.product()
    assert post(client_ua, {"events": [{"kind": "add_to_cart", "product": str(p.pk)}]}).status_code == 202
    # ...but purchases always come from the server.
    response = post(client_ua, {"events": [{"kind": "purchase", "value": "5"}]})
    assert response.status_code == 400 and response.json()["detail"].startswith("events[0].kind:")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "https://testserver"},  # another scheme is another origin
        {"HTTP_ORIGIN": "", "HTTP_REFERER": "https://evil.example/page"},
        {"HTTP_ORIGIN": ""},  # neither header
    ],
)
def test_cross_site_post_is_forbidden(client_ua, headers):
    p = factories.product()
    response = post(client_ua, {"events": [_valid(p)]}, **headers)
    assert response.status_code == 403
    assert "Origin" in response.json()["detail"]
    assert Event.objects.count() == 0 and Shopper.objects.count() == 0


def test_referer_is_used_without_origin(client_ua):
    p = factories.product()
    response = post(client_ua, {"events": [_valid(p)]}, HTTP_ORIGIN="", HTTP_REFERER="http://testserver/shop/")
    assert response.status_code == 202


def test_trusted_origins(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "TRUSTED_ORIGINS": ["https://shop.example", "https://*.cdn.example"]}
    p = factories.product()
    for origin, expected in [
        ("https://shop.example", 202),
        ("https://eu.cdn.example", 202),
        ("http://eu.cdn.example", 403),
        ("https://cdn.example.evil", 403),
    ]:
        assert post(client_ua, {"events": [_valid(p)]}, HTTP_ORIGIN=origin).status_code == expected, origin


def test_throttled_per_shopper(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": "2/min"}
    p = factories.product()
    client_ua.get(f"/shop/p/{p.pk}/")  # gets the shopper cookie
    assert [post(client_ua, {"events": [_valid(p)]}).status_code for _ in range(3)] == [202, 202, 429]
    assert Event.objects.count() == 3  # the page view and two batches
    # Another browser (no cookie, same address) has its own budget once it has a cookie.
    other = type(client_ua)(HTTP_USER_AGENT=factories.BROWSER_UA)
    assert post(other, {"events": [_valid(p)]}).status_code == 202


def test_throttle_can_be_disabled(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None}
    p = factories.product()
    assert {post(client_ua, {"events": [_valid(p)]}).status_code for _ in range(5)} == {202}


@pytest.mark.parametrize("agent", ["Googlebot/2.1 (+http://www.google.com/bot.html)", ""])
def test_bots_get_204_and_nothing_is_stored(client, agent):
    p = factories.product()
    response = post(client, {"events": [_valid(p)]}, HTTP_USER_AGENT=agent)
    assert response.status_code == 204
    assert Event.objects.count() == 0 and Shopper.objects.count() == 0
    assert ps.COOKIE_NAME not in response.cookies


def test_get_is_not_allowed(client_ua):
    assert client_ua.get(URL, **SAME_ORIGIN).status_code == 405


@pytest.mark.parametrize(
    "language, message",
    [("pl", "Nieznany rodzaj zdarzenia „teleport”."), ("nl", "Onbekende soort gebeurtenis “teleport”."),
     ("tr", "Bilinmeyen olay türü “teleport”.")],
)
def test_errors_are_translated(client_ua, language, message):
    response = post(client_ua, {"events": [{"kind": "teleport"}]}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    assert response.json()["errors"]["events[0].kind"] == [message]
