"""Lifecycle emails: content, language, headers, signed links, restore, unsubscribe, attribution."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core import signing as django_signing
from django.urls import reverse

from personalize import signing
from personalize.emails import links

RESTORE_LINK = re.compile(r"https://shop\.example/personalize/emails/restore/[^/\s\"]+/")
from personalize.emails.defaults import ABANDONED_SLUG, WINBACK_SLUG
from personalize.models import EmailSend, Flow, Step, Unsubscribe
from personalize.models import Cart, Shopper
from personalize.emails import attribution as email_attribution
from personalize.emails import sending as lifecycle
from personalize.emails import subscriptions
from tests import factories

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "https://shop.example",
        "CART_URL": "/shop/cart/",
        "EMAIL_QUIET_HOURS": None,
        "EMAIL_RECOMMENDATIONS": 0,
    }
    settings.LANGUAGES = [("en", "English"), ("fr", "French"), ("de", "German")]
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)
    mail.outbox.clear()
    return settings


def sent_email(products=None, when=NOON + HOUR, **shopper_fields):
    """Send step 1 for a fresh shopper; returns (shopper, send, message)."""
    products = products if products is not None else [factories.product(name="Desk lamp", price=Decimal("24.50"))]
    shopper = factories.cart_shopper(products, updated_at=NOON, **shopper_fields)
    before = len(mail.outbox)
    lifecycle.send_due(when)
    assert len(mail.outbox) == before + 1
    send = EmailSend.objects.get(shopper=shopper, status="sent")
    return shopper, send, mail.outbox[-1]


def html_of(message):
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


# --- content ---------------------------------------------------------------------------------


def test_email_has_products_with_absolute_links_total_and_both_parts():
    lamp = factories.product(name="Desk lamp", price=Decimal("24.50"))
    chair = factories.product(name="Chair", price=Decimal("10.00"))
    shopper, send, message = sent_email([lamp, chair], user_obj=factories.user(first_name="Zoé"))
    html = html_of(message)
    assert message.subject == "You left something in your cart"
    for part in (message.body, html):
        assert "Desk lamp" in part and "Chair" in part
        assert "34.50" in part  # the cart total
        assert "Zoé" in part
    assert f'data-product-id="{lamp.pk}"' in html
    assert f"https://shop.example/shop/product/{lamp.pk}/" in html or f"https://shop.example{lamp.get_absolute_url()}" in html
    # The token carries the signing second: read the link back instead of rebuilding it.
    (restore,) = set(RESTORE_LINK.findall(message.body))
    assert restore in html
    token = restore.rsplit("/", 2)[-2]
    assert links.read_restore_token(token) == {"s": send.pk}
    # Opaque: neither the shopper key nor the address can be read from the link.
    assert str(shopper.key) not in restore and send.email not in restore
    assert str(shopper.key) not in str(django_signing.loads(token, salt=signing.salt("email_restore")))


def test_marketer_and_catalogue_text_is_escaped():
    evil = factories.product(name="<script>alert(1)</script>")
    _shopper, _send, message = sent_email([evil])
    html = html_of(message)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_one_click_unsubscribe_headers():
    shopper, send, message = sent_email()
    headers = message.message()
    url = headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://shop.example/personalize/emails/unsubscribe/")
    assert links.read_unsubscribe_token(url.rsplit("/", 2)[-2]) == {"s": send.pk}
    assert send.email not in url and send.email.split("@")[0] not in str(
        django_signing.loads(url.rsplit("/", 2)[-2], salt=signing.salt("email_unsubscribe"))
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body


def test_language_from_the_cart_session_subject_and_template():
    _shopper, send, message = sent_email(language="fr")
    assert message.subject == "Vous avez oublié quelque chose dans votre panier"
    assert send.language == "fr"
    assert '<html lang="fr">' in html_of(message)


def test_account_language_wins_over_the_cart(monkeypatch):
    from personalize.adapters import DefaultAdapter

    monkeypatch.setattr(DefaultAdapter, "user_language", lambda self, user: "de")
    _shopper, send, message = sent_email(language="fr")
    assert send.language == "de"
    assert message.subject.startswith("Sie haben etwas")


def test_unknown_language_falls_back_to_the_default():
    _shopper, send, message = sent_email(language="xx")
    assert send.language == "en" and message.subject == "You left something in your cart"


def test_language_specific_template_override(tmp_path, settings):
    folder = tmp_path / "personalize" / "emails" / "fr"
    folder.mkdir(parents=True)
    (folder / "abandoned_cart.html").write_text("<p>Bonjour {{ first_name }}, {{ lines.0.title }}</p>")
    (folder / "abandoned_cart.txt").write_text("Bonjour {{ first_name }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    _shopper, _send, message = sent_email(language="fr", user_obj=factories.user(first_name="Jeanne"))
    assert message.body == "Bonjour Jeanne"
    assert "Bonjour Jeanne, Desk lamp" in html_of(message)
    _shopper, _send, english = sent_email(language="en")
    assert "Bonjour" not in english.body


def test_subject_translation_by_base_language():
    step = Step(subject="Hello", subject_translations={"pt": "Olá"})
    assert step.subject_for("pt-br") == "Olá"
    assert step.subject_for("de") == "Hello"


# --- restore link ----------------------------------------------------------------------------


def test_restore_link_rebuilds_the_cart_in_another_browser_with_the_offer(client_ua):
    Step.objects.filter(flow__slug=ABANDONED_SLUG).exclude(position=3).update(active=False)
    lamp = factories.product(name="Desk lamp")
    shopper = factories.cart_shopper([lamp], updated_at=NOON - 100 * HOUR, quantity=2)
    lifecycle.send_due(NOON)
    send = EmailSend.objects.get(shopper=shopper, status="sent")
    assert send.offer_code

    response = client_ua.get(links.restore_url(send.pk).replace("https://shop.example", ""))
    assert response.status_code == 302 and response["Location"] == "/shop/cart/"
    # A new browser (new shopper) got exactly the email's cart.
    visitor = Shopper.objects.exclude(pk=shopper.pk).get(cart__isnull=False)
    assert [(line["product"], line["quantity"]) for line in visitor.cart.lines] == [(str(lamp.pk), 2)]
    assert client_ua.session["personalize_offer_code"] == send.offer_code
    send.refresh_from_db()
    assert send.clicked_at is not None
    first_click = send.clicked_at
    client_ua.get(links.restore_url(send.pk).replace("https://shop.example", ""))
    send.refresh_from_db()
    assert send.clicked_at == first_click  # the first click counts


def test_restore_calls_the_store_hook(client_ua, settings):
    calls = []
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_RESTORE_CART_HOOK": "tests.test_emails.record_hook"}
    record_hook.calls = calls
    shopper, send, _message = sent_email()
    client_ua.get(reverse("personalize:email_restore", args=[links.restore_token(send.pk)]))
    assert len(calls) == 1
    assert [line["quantity"] for line in calls[0]] == [1]
    assert calls[0][0]["product"].name == "Desk lamp"


def record_hook(request, lines):
    record_hook.calls.append(lines)


def test_restore_leaves_out_deleted_products_with_a_note(client_ua):
    kept, gone = factories.product(name="Kept"), factories.product(name="Gone")
    shopper, send, _message = sent_email([kept, gone])
    gone.delete()
    response = client_ua.get(reverse("personalize:email_restore", args=[links.restore_token(send.pk)]), follow=False)
    assert response.status_code == 302
    visitor = Shopper.objects.exclude(pk=shopper.pk).get(cart__isnull=False)
    assert [line["product"] for line in visitor.cart.lines] == [str(kept.pk)]
    notes = [str(m) for m in response.wsgi_request._messages]
    assert any("no longer available" in note for note in notes)


def test_tampered_link_shows_a_friendly_page_and_restores_nothing(client_ua):
    shopper, send, _message = sent_email()
    token = links.restore_token(send.pk)
    tampered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    response = client_ua.get(reverse("personalize:email_restore", args=[tampered]))
    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    assert not Cart.objects.exclude(shopper=shopper).exists()


def test_a_signed_token_for_another_shoppers_send_is_refused(client_ua):
    victim, victim_send, _ = sent_email()
    attacker = Shopper.objects.create()
    # A legacy link (send id + shopper key), correctly signed, where send and shopper do not match.
    token = signing.sign("email_restore", {"s": victim_send.pk, "k": str(attacker.key)})
    response = client_ua.get(reverse("personalize:email_restore", args=[token]))
    assert response.status_code == 400
    assert not Cart.objects.exclude(shopper=victim).exists()


def test_unsubscribe_token_is_not_a_restore_token(client_ua):
    shopper, send, _message = sent_email()
    token = links.unsubscribe_token(send.pk)
    assert client_ua.get(reverse("personalize:email_restore", args=[token])).status_code == 400


def test_expired_link_shows_a_friendly_page(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_LINK_MAX_AGE_DAYS": 14}
    shopper, send, _message = sent_email()
    token = links.restore_token(send.pk)
    later = time.time() + 15 * 86400
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client_ua.get(reverse("personalize:email_restore", args=[token]))
    assert response.status_code == 400
    assert b"This link has expired" in response.content
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 13 * 86400):
        assert client_ua.get(reverse("personalize:email_restore", args=[token])).status_code == 302


def test_bot_opening_the_link_is_not_a_click(client):
    shopper, send, _message = sent_email()
    client.get(reverse("personalize:email_restore", args=[links.restore_token(send.pk)]), HTTP_USER_AGENT="Googlebot")
    send.refresh_from_db()
    assert send.clicked_at is None


@pytest.mark.parametrize("payload", [["not", "a", "dict"], {"s": "1", "k": "x"}, {"s": 1}, "text", None, True, 0, -3])
def test_read_restore_token_rejects_malformed_payloads(payload):
    token = django_signing.dumps(payload, salt=signing.salt("email_restore"), compress=True)
    with pytest.raises(signing.BadSignature):
        links.read_restore_token(token)


def test_a_token_of_one_kind_never_reads_as_another():
    token = signing.sign("email_unsubscribe", {"k": "key", "e": "a@example.com"})
    with pytest.raises(signing.BadSignature):
        signing.unsign("email_restore", token)
    assert signing.unsign("email_unsubscribe", token) == {"k": "key", "e": "a@example.com"}


# --- unsubscribe -----------------------------------------------------------------------------


def test_unsubscribe_get_asks_and_post_unsubscribes(client):
    shopper, send, message = sent_email()
    url = message.message()["List-Unsubscribe"].strip("<>").replace("https://shop.example", "")
    page = client.get(url)
    assert page.status_code == 200 and b"<form" in page.content
    assert not Unsubscribe.objects.exists()  # GET never unsubscribes (link scanners)

    # RFC 8058: a mail client POSTs this body, with no CSRF token and no confirmation.
    client_csrf = client.__class__(enforce_csrf_checks=True)
    response = client_csrf.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    unsub = Unsubscribe.objects.get()
    assert unsub.email == send.email and unsub.shopper == shopper and unsub.source == "one-click"

    client_csrf.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert Unsubscribe.objects.count() == 1  # idempotent

    # The flow stops: the later steps never go.
    assert lifecycle.send_due(NOON + 30 * HOUR).sent == 0
    assert lifecycle.send_due(NOON + 80 * HOUR).unsubscribed == 1


def test_tampered_unsubscribe_link(client):
    response = client.post(reverse("personalize:email_unsubscribe", args=["bogus:token"]))
    assert response.status_code == 400
    assert not Unsubscribe.objects.exists()


def test_unsubscribe_cancels_a_pending_retry():
    shopper, send, _message = sent_email()
    EmailSend.objects.filter(pk=send.pk).update(status="retry", next_attempt_at=NOON)
    subscriptions.unsubscribe(shopper, send.email)
    send.refresh_from_db()
    assert send.status == "skipped"


# --- attribution -----------------------------------------------------------------------------


def test_click_then_purchase_on_another_device_is_attributed(client_ua, django_capture_on_commit_callbacks):
    import personalize

    lamp = factories.product(price=Decimal("40.00"))
    shopper, send, _message = sent_email([lamp])
    client_ua.get(reverse("personalize:email_restore", args=[links.restore_token(send.pk)]))
    request = factories.request()
    request.session = client_ua.session
    with django_capture_on_commit_callbacks(execute=True):  # attribution runs after the commit
        personalize.track(request, "purchase", lines=[{"product": lamp, "quantity": 1, "price": "40.00"}], order_ref="A-100")
    send.refresh_from_db()
    assert send.order_ref == "A-100" and send.order_value == Decimal("40.00") and send.recovered_at is not None


def test_purchase_by_the_same_shopper_after_a_click_is_attributed_once(django_capture_on_commit_callbacks):
    from personalize import events as tracking

    shopper, send, _message = sent_email()
    email_attribution.record_click(send)
    with django_capture_on_commit_callbacks(execute=True):  # attribution runs after the commit
        tracking.save_events([tracking.build_event(shopper, "purchase", value="12.00", order_ref="B-1")])
        tracking.save_events([tracking.build_event(shopper, "purchase", value="99.00", order_ref="B-2")])
    send.refresh_from_db()
    assert send.order_ref == "B-1" and send.order_value == Decimal("12.00")


def test_purchase_without_a_click_or_after_the_window_is_not_attributed(settings, django_capture_on_commit_callbacks):
    from personalize import events as tracking

    shopper, send, _message = sent_email()
    with django_capture_on_commit_callbacks(execute=True):
        tracking.save_events([tracking.build_event(shopper, "purchase", value="12.00", order_ref="C-1")])
    send.refresh_from_db()
    assert send.order_ref == ""
    EmailSend.objects.filter(pk=send.pk).update(clicked_at=NOON - timedelta(days=30))
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        tracking.save_events([tracking.build_event(shopper, "purchase", value="12.00", order_ref="C-2", created_at=timezone.now())])
    send.refresh_from_db()
    assert send.order_ref == ""
