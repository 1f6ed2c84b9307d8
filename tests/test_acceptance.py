"""Regressions found by clicking through the demo shop as a new user (acceptance pass)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.http import HttpResponse
from django.template import Context, Template

from personalize.models import Cart, OfferCode
from personalize.identity import set_cookie
from personalize.models import Shopper
from personalize.offers import best_offer
from tests import factories

pytestmark = pytest.mark.django_db


def render_exit_intent(shopper: Shopper) -> str:
    template = Template('{% load personalize %}{% personalized_content "exit_intent" %}')
    return template.render(Context({"request": factories.shopper_request(shopper)}))


def test_exit_intent_code_applies_by_itself_only_once_the_pop_up_opened(client_ua):
    """The pop-up's unique code is not issued when the page renders (the <dialog> shows a "get
    your code" link); a shopper who never saw it gets no discount silently at checkout, one who
    saw it gets its code issued and applied there."""
    offer = factories.offer(code_mode="unique", code="", code_prefix="STAY", discount_type="amount", value=5)
    factories.campaign("exit_intent", headline="Wait!", offer=offer)
    product = factories.product(price=40)
    shopper = Shopper.objects.create()
    cart = [{"product": str(product.pk), "quantity": 1, "price": "40.00"}]
    # The store told personalize about the cart (an offer "on your cart" needs one to be shown).
    Cart.objects.create(shopper=shopper, lines=cart, item_count=1, value=Decimal("40.00"))

    html = render_exit_intent(shopper)
    assert not OfferCode.objects.exists() and "data-personalize-reveal" in html
    assert best_offer(factories.shopper_request(shopper), cart).discount == 0  # rendered, never opened
    assert not OfferCode.objects.exists()

    response = HttpResponse()
    set_cookie(response, shopper.key)
    client_ua.cookies.update(response.cookies)
    seen_url = re.search(r'data-seen-url="([^"]+)"', html).group(1)
    assert client_ua.post(seen_url).status_code == 204  # the browser opened the pop-up
    decision = best_offer(factories.shopper_request(shopper), cart)
    code = OfferCode.objects.get(shopper=shopper).code  # issued at checkout, where it is used
    assert (decision.discount, decision.code) == (5, code) and code.startswith("STAY-")
    # typing it works too, and asking again issues no second code
    assert best_offer(factories.shopper_request(shopper), cart, code=code).discount == 5
    assert OfferCode.objects.filter(shopper=shopper).count() == 1


def test_lifecycle_email_goes_out_in_the_carts_language_subject_included(settings):
    """Default flows ship their subjects for translation; a Polish cart gets a Polish email."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from personalize.emails.defaults import WINBACK_SLUG
    from personalize.models import Flow
    from personalize.emails import sending as lifecycle

    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_QUIET_HOURS": None, "EMAIL_RECOMMENDATIONS": 0}
    settings.LANGUAGES = [("en", "English"), ("pl", "Polish")]
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)
    now = timezone.now()
    product = factories.product(price=20)
    factories.cart_shopper([product], updated_at=now - timedelta(hours=2), language="pl")
    mail.outbox.clear()
    lifecycle.send_due(now)
    [message] = mail.outbox
    assert message.subject == "Coś zostało w Twoim koszyku"
    assert "Wróć do koszyka" in message.body and "Return to my cart" not in message.body


def test_prices_in_widgets_and_emails_follow_price_format(settings):
    """Widgets and emails printed a bare "57.98" where the store shows "€57.98"."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone, translation

    from personalize.emails.defaults import WINBACK_SLUG
    from personalize.models import Flow
    from personalize.pricing import format_price
    from personalize.emails import sending as lifecycle

    settings.PERSONALIZE = {
        **settings.PERSONALIZE, "PRICE_FORMAT": "€{amount}", "EMAIL_QUIET_HOURS": None, "EMAIL_RECOMMENDATIONS": 0,
    }
    assert format_price("1301.5") == "€1,301.50" and format_price(None) == ""
    with translation.override("pl"):
        assert format_price("1301.5") == "€1\xa0301,50"
    html = Template('{% load personalize %}{% include "personalize/widgets/_items.html" %}').render(
        Context({"items": [{"id": "1", "title": "Lamp", "url": "/p/1/", "price": "24.5"}]})
    )
    assert '<span class="personalize-item-price">€24.50</span>' in html

    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)
    now = timezone.now()
    factories.cart_shopper([factories.product(price=Decimal("24.50"))], updated_at=now - timedelta(hours=2), quantity=2)
    mail.outbox.clear()
    lifecycle.send_due(now)
    [message] = mail.outbox
    assert "Total: €49.00" in message.body
    [(body_html, _mimetype)] = message.alternatives
    assert "€49.00" in body_html
