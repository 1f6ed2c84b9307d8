"""Marketing-email consent for account holders (docs/privacy.md), suppression, legacy links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from personalize import signing
from personalize.adapters import DefaultAdapter
from personalize.emails import sending
from personalize.emails.defaults import WINBACK_SLUG
from personalize.emails.subscriptions import set_email_consent
from personalize.models import EmailSend, Flow, Unsubscribe
from personalize.privacy.erasure import erase
from tests import factories

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class NoSignupConsent(DefaultAdapter):
    def user_email_consent(self, user) -> bool:
        return user.username.startswith("optin")


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "https://shop.example",
        "EMAIL_QUIET_HOURS": None,
        "EMAIL_RECOMMENDATIONS": 0,
        "EMAIL_SIGNUP_CONSENT_COUNTS": False,  # the default
    }
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)
    mail.outbox.clear()
    return settings


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def test_account_holders_need_an_opt_in_by_default():
    product = factories.product()
    factories.cart_shopper([product], updated_at=NOON, user_obj=factories.user(email="silent@example.com"))
    opted = factories.cart_shopper([product], updated_at=NOON, user_obj=factories.user(email="yes@example.com"))
    set_email_consent(opted, True)
    sending.send_due(NOON + HOUR)
    assert recipients() == ["yes@example.com"]


def test_signup_consent_counts_when_the_store_says_so(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "EMAIL_SIGNUP_CONSENT_COUNTS": True,
        "ADAPTER": "tests.test_privacy_emails.NoSignupConsent",
    }
    product = factories.product()
    factories.cart_shopper([product], updated_at=NOON, user_obj=factories.user("optin-ana", email="ana@example.com"))
    factories.cart_shopper([product], updated_at=NOON, user_obj=factories.user("other-bo", email="bo@example.com"))
    sending.send_due(NOON + HOUR)
    assert recipients() == ["ana@example.com"]


def test_opting_out_stops_pending_retries():
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON, email="g@example.com", consent=True)
    flow = Flow.objects.filter(steps__isnull=False).first()
    send = EmailSend.objects.create(flow=flow, step=flow.steps.first(), shopper=shopper, cycle="cart:9", status="retry")
    set_email_consent(shopper, False)
    send.refresh_from_db()
    assert send.status == "skipped"
    sending.send_due(NOON + HOUR)
    assert recipients() == []


def test_erased_and_suppressed_address_is_never_mailed_again():
    product = factories.product()
    gone = factories.cart_shopper([product], updated_at=NOON, email="gone@example.com", consent=True)
    erase(shopper=gone.key, suppress=True)
    # The same person comes back as a guest; the store's checkout stores the address again.
    again = factories.cart_shopper([product], updated_at=NOON, email="gone@example.com", consent=True)
    again.refresh_from_db()
    assert again.email == ""
    # An account with that address (the store's own data) is not mailed either.
    account = factories.cart_shopper([product], updated_at=NOON, user_obj=factories.user(email="Gone@example.com"))
    set_email_consent(account, True)
    sending.send_due(NOON + HOUR)
    assert recipients() == []


def test_legacy_unsubscribe_link_still_works(client_ua):
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON, email="old@example.com", consent=True)
    token = signing.sign("email_unsubscribe", {"k": str(shopper.key), "e": "old@example.com"})
    response = client_ua.post(reverse("personalize:email_unsubscribe", args=[token]))
    assert response.status_code == 200
    assert Unsubscribe.objects.filter(email="old@example.com", shopper=shopper).exists()


def test_unsubscribe_link_of_an_erased_send_is_a_friendly_400(client_ua):
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON, email="e@example.com", consent=True)
    flow = Flow.objects.filter(steps__isnull=False).first()
    send = EmailSend.objects.create(flow=flow, step=flow.steps.first(), shopper=shopper, cycle="cart:1", email="e@example.com")
    token = signing.sign("email_unsubscribe", send.pk)
    erase(shopper=shopper.key)
    response = client_ua.get(reverse("personalize:email_unsubscribe", args=[token]))
    assert response.status_code == 400
