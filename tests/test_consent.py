"""Consent (docs/privacy.md): nothing personal before consent, the banner, DNT/GPC, set_consent.

The rest of the suite runs with ``CONSENT_REQUIRED`` off (tests/settings.py); these tests turn the
default back on.
"""

from __future__ import annotations

import json

import pytest
from django.core.checks import run_checks
from django.http import HttpResponse
from django.template import engines
from django.test import override_settings
from django.urls import path

import personalize
from personalize.conf import personalize_settings as ps
from personalize.models import ErasureRecord, Event, Shopper
from tests import factories
from tests.urls import urlpatterns as base_urlpatterns

pytestmark = pytest.mark.django_db

BANNER_PAGE = engines["django"].from_string(
    "{% load personalize %}<html><body>{% recently_viewed %}{% personalize_consent %}</body></html>"
)


def _banner_page(request):
    return HttpResponse(BANNER_PAGE.render({}, request))


def _cmp_view(request):
    """A store's own consent manager telling personalize the choice, then tracking."""
    personalize.set_consent(request, request.GET.get("consent") == "yes")
    personalize.track(request, "search", query="boots")
    return HttpResponse("ok")


urlpatterns = [
    *base_urlpatterns,
    path("banner/", _banner_page),
    path("cmp/", _cmp_view),
]


def settings_with(**values):
    merged = {**settings_personalize(), **values}
    return override_settings(PERSONALIZE=merged, ROOT_URLCONF=__name__)


def settings_personalize():
    from django.conf import settings

    return dict(settings.PERSONALIZE)


@pytest.fixture
def consent_on():
    with settings_with(CONSENT_REQUIRED=True):
        yield


def product_url(product) -> str:
    return f"/shop/p/{product.pk}/"


def accept(client, choice="accept", **extra):
    return client.post("/personalize/consent/", {"choice": choice, "next": "/banner/"}, **extra)


def test_before_consent_nothing_is_stored_or_set(consent_on, client_ua):
    product = factories.product()
    response = client_ua.get(product_url(product))
    assert response.status_code == 200
    assert ps.COOKIE_NAME not in response.cookies
    assert not response.cookies.get("sessionid")
    assert not Shopper.objects.exists()
    assert not Event.objects.exists()
    # The beacon, too: accepted silently, nothing written.
    beacon = client_ua.post(
        "/personalize/api/events/", json.dumps({"events": [{"kind": "view", "product": str(product.pk)}]}),
        content_type="application/json", HTTP_ORIGIN="http://testserver",
    )
    assert beacon.status_code == 204
    assert not Shopper.objects.exists() and not Event.objects.exists()


def test_banner_until_accepted_then_tracking_starts(consent_on, client_ua):
    page = client_ua.get("/banner/")
    html = page.content.decode()
    assert "data-personalize-consent" in html and 'name="choice" value="accept"' in html
    assert 'role="region"' in html and "csrfmiddlewaretoken" in html
    response = accept(client_ua)
    assert response.status_code == 302 and response["Location"] == "/banner/"
    assert response.cookies[ps.CONSENT_COOKIE_NAME].value == "granted"
    assert "data-personalize-consent" not in client_ua.get("/banner/").content.decode()
    product = factories.product()
    viewed = client_ua.get(product_url(product))
    assert ps.COOKIE_NAME in viewed.cookies
    assert Event.objects.filter(kind="view", product_key=str(product.pk)).count() == 1


def test_decline_is_remembered_and_nothing_is_tracked(consent_on, client_ua):
    response = accept(client_ua, "decline")
    assert response.cookies[ps.CONSENT_COOKIE_NAME].value == "denied"
    assert "data-personalize-consent" not in client_ua.get("/banner/").content.decode()
    client_ua.get(product_url(factories.product()))
    assert not Shopper.objects.exists() and not Event.objects.exists()


def test_fetch_path_answers_json_without_redirect(consent_on, client_ua):
    response = accept(client_ua, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["granted"] is True
    assert response.cookies[ps.CONSENT_COOKIE_NAME].value == "granted"


@pytest.mark.parametrize("choice", ["", "yes", "accept\x00", "x" * 500])
def test_bad_choice_is_a_400(consent_on, client_ua, choice):
    response = client_ua.post("/personalize/consent/", {"choice": choice})
    assert response.status_code == 400
    assert ps.CONSENT_COOKIE_NAME not in response.cookies


def test_consent_view_refuses_get_and_foreign_next(consent_on, client_ua):
    assert client_ua.get("/personalize/consent/").status_code == 405
    response = client_ua.post("/personalize/consent/", {"choice": "accept", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_consent_needs_the_csrf_token(consent_on):
    from django.test import Client

    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=factories.BROWSER_UA)
    assert client.post("/personalize/consent/", {"choice": "accept"}).status_code == 403


@pytest.mark.parametrize("header", ["HTTP_DNT", "HTTP_SEC_GPC"])
def test_dnt_and_gpc_mean_no_even_without_required_consent(client_ua, header):
    with settings_with(CONSENT_REQUIRED=False):
        client_ua.get(product_url(factories.product()), **{header: "1"})
        assert not Shopper.objects.exists() and not Event.objects.exists()
        client_ua.get(product_url(factories.product()))
        assert Event.objects.count() == 1  # the same store tracks a browser without the signal


def test_dnt_can_be_ignored_by_setting_and_overridden_by_explicit_acceptance(client_ua):
    with settings_with(CONSENT_REQUIRED=True, CONSENT_HONOR_DNT=False):
        accept(client_ua)
        client_ua.get(product_url(factories.product()), HTTP_DNT="1")
        assert Event.objects.count() == 1
    with settings_with(CONSENT_REQUIRED=True):
        # This person explicitly accepted: their choice beats the browser-wide signal.
        client_ua.get(product_url(factories.product()), HTTP_DNT="1")
        assert Event.objects.count() == 2


def test_banner_hidden_for_a_browser_signal(consent_on, client):
    html = client.get("/banner/", HTTP_SEC_GPC="1", HTTP_USER_AGENT=factories.BROWSER_UA).content.decode()
    assert "data-personalize-consent" not in html


def test_set_consent_for_a_store_consent_manager(consent_on, client_ua):
    client_ua.get("/cmp/?consent=no")
    assert not Event.objects.exists()
    response = client_ua.get("/cmp/?consent=yes")
    assert Event.objects.filter(kind="search", query="boots").count() == 1
    assert response.cookies[ps.CONSENT_COOKIE_NAME].value == "granted"
    assert ps.COOKIE_NAME in response.cookies


def test_withdrawal_erases_the_anonymous_profile_and_drops_the_cookie(consent_on, client_ua):
    accept(client_ua)
    client_ua.get(product_url(factories.product()))
    assert Shopper.objects.count() == 1
    response = accept(client_ua, "decline")
    assert not Shopper.objects.exists() and not Event.objects.exists()
    assert response.cookies[ps.COOKIE_NAME].value == ""  # deleted
    assert ErasureRecord.objects.get().source == ErasureRecord.Source.CONSENT_WITHDRAWN


def test_without_consent_widgets_ignore_an_existing_profile(consent_on, client_ua):
    accept(client_ua)
    product = factories.product(name="Seen before")
    client_ua.get(product_url(product))
    assert "Seen before" in client_ua.get("/shop/").content.decode()
    client_ua.cookies.pop(ps.CONSENT_COOKIE_NAME)  # the choice expired: no consent now
    html = client_ua.get("/shop/").content.decode()
    assert "Seen before" not in html
    client_ua.get(product_url(factories.product()))
    assert Event.objects.count() == 1


def test_check_warns_when_no_one_can_consent():
    with settings_with(CONSENT_REQUIRED=True):
        ids = {message.id for message in run_checks()}
    assert "personalize.W080" in ids
    with settings_with(CONSENT_REQUIRED=False):
        assert "personalize.W080" not in {message.id for message in run_checks()}


def test_a_code_issued_to_the_account_works_at_checkout_without_consent(consent_on):
    """Consent governs personalisation, not what the store owes: the account's code is its own."""
    from decimal import Decimal

    from personalize.models import Offer
    from personalize.offers import best_offer, redeem
    from personalize.offers.codes import issue_code

    user = factories.user()
    account = Shopper.objects.create(user=user)
    offer = Offer.objects.create(name="Ten", value=Decimal("10"), code_mode=Offer.CodeMode.UNIQUE, code="")
    code = issue_code(offer, account)
    product = factories.product(price=Decimal("20.00"))
    request = factories.request("/checkout/", user_obj=user)  # no consent cookie: no personalisation
    assert not personalize.has_consent(request)
    decision = best_offer(request, [{"product": product, "quantity": 1}], code=code)
    assert decision.applies and decision.discount == Decimal("2.00")
    redemption = redeem(request, decision, order_ref="O-9")
    assert redemption.shopper_id == account.pk
    assert not Event.objects.exists()  # and still nothing tracked
