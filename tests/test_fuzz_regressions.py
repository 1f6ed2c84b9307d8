"""Server errors the API fuzz run (bench/fuzz_api.py, CI stage 7) found, each now a 4xx.

The fuzzer signs arbitrary JSON payloads with the server's key (bench/fuzz_hooks.py): a token
only the server can make, but of a shape no view expected. Every case here answered 500 on
PostgreSQL before; they run in both the SQLite and the PostgreSQL stage.
"""

from __future__ import annotations

import pytest
from django.http import HttpResponse

from personalize import signing
from personalize.identity import set_cookie
from personalize.models import CampaignAssignment, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def with_shopper(client):
    """The client carries the signed cookie of a stored shopper (so the views query with it)."""
    shopper = Shopper.objects.create()
    response = HttpResponse()
    set_cookie(response, shopper.key)
    client.cookies.update(response.cookies)
    return shopper


@pytest.mark.parametrize(
    "payload",
    [
        [1, "A", ["/sale/"]],  # the link a list: validate_link called .startswith on it
        [1, "A", {"u": "/sale/"}],
        [True, "A", "/sale/"],  # bool is not a campaign id
        ["1", "A", "/sale/"],  # a string id reached CampaignAssignment.filter(campaign_id=...)
        [1, None, "/sale/"],
        [1, "A"],  # too short
        [1, "A", "/sale/", "extra"],
    ],
)
def test_campaign_click_with_a_signed_payload_of_the_wrong_shape_is_a_400(client_ua, payload):
    factories.campaign(contents=[{"variant": "A", "headline": "Go", "link": "/sale/"}])
    with_shopper(client_ua)
    response = client_ua.get(f"/personalize/c/{signing.sign('campaign_click', payload)}/")
    assert response.status_code == 400
    assert b"not valid or has expired" in response.content


@pytest.mark.parametrize("payload", [[True, None], [True, "A"], [1, None], ["1", "A"], [1, ["A"]], [1]])
def test_campaign_seen_with_a_signed_payload_of_the_wrong_shape_is_a_400(client_ua, payload):
    """``[true, null]`` once found campaign 1 (``True == 1``) and inserted an assignment with a
    NULL arm: IntegrityError."""
    factories.campaign()
    with_shopper(client_ua)
    response = client_ua.post(f"/personalize/c/seen/{signing.sign('campaign_seen', payload)}/")
    assert response.status_code == 400
    assert not CampaignAssignment.objects.exists()


@pytest.mark.parametrize("arm", ["Z", "x" * 50])
def test_campaign_seen_with_an_arm_the_campaign_does_not_have_counts_nothing(client_ua, arm):
    """An arm longer than the column (DataError on PostgreSQL) or not the campaign's: 204, no row."""
    campaign = factories.campaign()
    with_shopper(client_ua)
    response = client_ua.post(f"/personalize/c/seen/{signing.sign('campaign_seen', [campaign.pk, arm])}/")
    assert response.status_code == 204
    assert not CampaignAssignment.objects.exists()


def test_campaign_seen_with_a_genuine_token_still_counts(client_ua):
    campaign = factories.campaign()
    shopper = with_shopper(client_ua)
    response = client_ua.post(f"/personalize/c/seen/{signing.sign('campaign_seen', [campaign.pk, 'A'])}/")
    assert response.status_code == 204
    assert CampaignAssignment.objects.get(campaign=campaign, shopper=shopper).arm == "A"


KEY = "0b9f1d8e-8a3b-4c1e-9d7f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    "kind,payload,method",
    [
        # A legacy {"s", "k"} / {"k", "e"} link whose key is no UUID reached a UUID lookup.
        ("email_restore", {"s": 1, "k": "not-a-uuid"}, "get"),
        ("email_restore", {"s": 2**70, "k": KEY}, "get"),
        ("email_restore", {"s": 1, "k": ["x"]}, "get"),
        ("email_unsubscribe", {"k": "not-a-uuid", "e": "a@example.com"}, "post"),
        # Addresses PostgreSQL cannot store (NUL, too long) or a page cannot encode (surrogate).
        ("email_unsubscribe", {"k": KEY, "e": "a\x00b@example.com"}, "post"),
        ("email_unsubscribe", {"k": KEY, "e": "x" * 400 + "@example.com"}, "post"),
        ("email_unsubscribe", {"k": KEY, "e": "\ud800@example.com"}, "get"),
        ("email_unsubscribe", {"k": KEY, "e": 7}, "get"),
        ("email_unsubscribe", 2**70, "post"),
    ],
)
def test_email_links_with_a_signed_payload_of_the_wrong_shape_are_a_400(client_ua, kind, payload, method):
    name = "restore" if kind == "email_restore" else "unsubscribe"
    response = getattr(client_ua, method)(f"/personalize/emails/{name}/{signing.sign(kind, payload)}/")
    assert response.status_code == 400
    assert b"This link is not valid" in response.content


@pytest.mark.parametrize(
    "payload",
    [
        {"w": {"x": 1}, "a": {}},  # an unhashable widget reached ``in WIDGETS``: TypeError
        {"w": ["trending"], "a": {}},
        {"w": "trending", "a": {"limit": [3]}},
        {"w": "trending", "a": {"placement": {"p": 1}}},
        {"w": "trending", "a": {"nope": 1}},
        {"w": "trending", "a": []},
    ],
)
def test_fragments_with_a_signed_payload_of_the_wrong_shape_are_a_400(client_ua, payload):
    response = client_ua.get("/personalize/fragments/", {"f": signing.sign("fragment", payload)})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_fragments_with_a_genuine_token_still_render(client_ua):
    factories.product()
    response = client_ua.get("/personalize/fragments/", {"f": signing.sign("fragment", {"w": "trending", "a": {"limit": 3}})})
    assert response.status_code == 200
    assert len(response.json()["fragments"]) == 1
