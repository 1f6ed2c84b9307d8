"""Campaigns: eligibility, arms, caps, rendering, clicks and attribution."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.http import HttpResponse
from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone

from personalize import attribution
from personalize import events as tracking
from personalize.identity import set_cookie
from personalize.campaigns import selection
from personalize.models import CampaignAssignment, CampaignVariant, OfferCode
from personalize.models import Cart, Contact, Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def render(req, placement="home_banner") -> str:
    return Template('{% load personalize %}{% personalized_content "' + placement + '" %}').render(
        Context({"request": req})
    )


def shopper(**fields) -> Shopper:
    return Shopper.objects.create(**fields)


def test_renders_the_highest_priority_campaign_and_records_the_impression():
    factories.campaign(headline="Low", priority=1)
    best = factories.campaign(headline="High", priority=5)
    s = shopper()
    html = render(factories.shopper_request(s))
    assert "High" in html and "Low" not in html
    assert f'data-campaign="{best.pk}"' in html and 'data-personalize-widget="campaign"' in html
    assignment = CampaignAssignment.objects.get(campaign=best, shopper=s)
    assert (assignment.arm, assignment.impressions) == ("A", 1)
    render(factories.shopper_request(s))
    assignment.refresh_from_db()
    assert assignment.impressions == 2


def test_other_placements_and_empty_placements_render_nothing():
    factories.campaign("cart", headline="Cart only")
    req = factories.shopper_request(shopper())
    assert render(req, "home_banner").strip() == ""
    assert "Cart only" in render(req, "cart")


@pytest.mark.parametrize(
    "fields",
    [
        {"starts_at": timezone.now() + timedelta(hours=1)},
        {"starts_at": timezone.now() - timedelta(days=2), "ends_at": timezone.now() - timedelta(days=1)},
        {"is_active": False},
    ],
    ids=["not-started", "ended", "inactive"],
)
def test_out_of_schedule_or_inactive_campaigns_are_not_shown(fields):
    factories.campaign(headline="Hidden", **fields)
    assert "Hidden" not in render(factories.shopper_request(shopper()))


def test_segment_targeting_uses_segments_for():
    first = factories.segment("first-visit", [("visit_state", {"state": "first"})])
    returning = factories.segment("returning", [("visit_state", {"state": "returning"})])
    factories.campaign(headline="Welcome offer", segments=[first], priority=2)
    factories.campaign(headline="Welcome back", segments=[returning], priority=1)
    assert "Welcome offer" in render(factories.shopper_request(shopper(visits=1)))
    html = render(factories.shopper_request(shopper(visits=4)))
    assert "Welcome back" in html and "Welcome offer" not in html


def test_new_visitor_gets_a_shopper_row_when_a_campaign_is_shown():
    factories.campaign(headline="Hi there")
    req = factories.request()
    assert "Hi there" in render(req)
    assert Shopper.objects.count() == 1
    assert CampaignAssignment.objects.count() == 1


def test_bots_see_nothing_and_leave_nothing():
    factories.campaign(headline="Hi there")
    req = factories.request(HTTP_USER_AGENT="Googlebot/2.1")
    assert "Hi there" not in render(req)
    assert not Shopper.objects.exists()


def test_store_wide_holdout_sees_no_campaign():
    factories.campaign(headline="Promo")
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "HOLDOUT_PERCENT": 30, "CONSENT_REQUIRED": False}):
        from personalize.holdout import in_holdout

        shoppers = [shopper() for _ in range(60)]
        held = [s for s in shoppers if in_holdout(s)]
        shown = [s for s in shoppers if not in_holdout(s)]
        assert held and shown
        for s in held[:5]:
            assert "Promo" not in render(factories.shopper_request(s))
        for s in shown[:5]:
            assert "Promo" in render(factories.shopper_request(s))


def test_frequency_cap_per_window():
    campaign = factories.campaign(headline="Capped", frequency_cap=2, frequency_hours=24)
    factories.campaign(headline="Fallback", priority=-1)
    s = shopper()
    assert "Capped" in render(factories.shopper_request(s))
    assert "Capped" in render(factories.shopper_request(s))
    third = render(factories.shopper_request(s))
    assert "Capped" not in third and "Fallback" in third
    # A day later the window restarts.
    CampaignAssignment.objects.filter(campaign=campaign).update(window_start=timezone.now() - timedelta(hours=25))
    assert "Capped" in render(factories.shopper_request(s))
    assignment = CampaignAssignment.objects.get(campaign=campaign)
    assert (assignment.impressions, assignment.window_impressions) == (3, 1)


def test_control_group_sees_nothing_but_is_recorded_and_sticky():
    campaign = factories.campaign(headline="Tested", control_percent=50)
    factories.campaign(headline="Other", priority=-1)
    arms = Counter()
    for _ in range(80):
        s = shopper()
        html = render(factories.shopper_request(s))
        assignment = CampaignAssignment.objects.get(campaign=campaign, shopper=s)
        arms[assignment.arm] += 1
        if assignment.arm == "control":
            # the placement stays empty: the control measures "no campaign here"
            assert "Tested" not in html and "Other" not in html
            assert assignment.impressions == 0
        else:
            assert "Tested" in html
        again = render(factories.shopper_request(s))
        assert ("Tested" in again) == ("Tested" in html)
    assert 20 < arms["control"] < 60 and arms["A"] == 80 - arms["control"]


def test_arms_are_deterministic_and_follow_weights():
    campaign = factories.campaign(
        headline="x",
        control_percent=20,
        contents=[{"variant": "A", "headline": "Variant A"}, {"variant": "B", "headline": "Variant B"}],
    )
    CampaignVariant.objects.create(campaign=campaign, key="A", weight=1)
    CampaignVariant.objects.create(campaign=campaign, key="B", weight=3)
    spec = selection.load_campaigns("home_banner")[0]
    shoppers = [Shopper(key=__import__("uuid").uuid4()) for _ in range(4000)]
    arms = Counter(spec.arm_for(s) for s in shoppers)
    assert abs(arms["control"] / 4000 - 0.20) < 0.03
    assert abs(arms["B"] / (arms["A"] + arms["B"]) - 0.75) < 0.03
    assert [spec.arm_for(s) for s in shoppers[:50]] == [spec.arm_for(s) for s in shoppers[:50]]


def test_assigned_arm_stays_when_weights_change():
    campaign = factories.campaign(
        headline="x", contents=[{"variant": "A", "headline": "Variant A"}, {"variant": "B", "headline": "Variant B"}]
    )
    CampaignVariant.objects.create(campaign=campaign, key="A", weight=1)
    variant_b = CampaignVariant.objects.create(campaign=campaign, key="B", weight=1)
    s = shopper()
    first = render(factories.shopper_request(s))
    arm = CampaignAssignment.objects.get(shopper=s).arm
    variant_b.weight = 1000 if arm == "A" else 1
    variant_b.save()
    assert f"Variant {arm}" in render(factories.shopper_request(s)) and f"Variant {arm}" in first


def test_offer_respects_the_cross_channel_fatigue_cap_but_plain_content_does_not():
    offer = factories.offer(code="SAVE10")
    factories.campaign(headline="Offer banner", offer=offer, priority=5)
    factories.campaign(headline="Plain banner", priority=1)
    s = shopper()
    Contact.objects.create(shopper=s, channel="email", source="flow:1")  # an email offer just now
    html = render(factories.shopper_request(s))
    assert "Offer banner" not in html and "Plain banner" in html
    fresh = shopper()
    html = render(factories.shopper_request(fresh))
    assert "Offer banner" in html and "SAVE10" in html
    assert Contact.objects.filter(shopper=fresh, channel="onsite").count() == 1
    # Showing the same offer again is not a new contact, and is not blocked by its own contact.
    assert "Offer banner" in render(factories.shopper_request(fresh))
    assert Contact.objects.filter(shopper=fresh).count() == 1


def reveal(client_ua, s: Shopper, html: str, method: str = "post"):
    """Follow the banner's "get your code" link as the shopper's browser."""
    response = HttpResponse()
    set_cookie(response, s.key)
    client_ua.cookies.update(response.cookies)
    url = re.search(r'href="([^"]+)" data-personalize-reveal', html).group(1)
    return getattr(client_ua, method)(url)


def test_a_unique_code_is_issued_when_revealed_not_when_shown_and_only_once(client_ua):
    offer = factories.offer(code_mode="unique", code="", code_prefix="HI")
    campaign = factories.campaign(offer=offer, contents=[{"variant": "A", "headline": "Hello", "text": "Your code: {code}"}])
    s = shopper()
    html = render(factories.shopper_request(s))
    assert not OfferCode.objects.exists()  # shown, not issued
    assert html.count("data-personalize-reveal") == 1  # in place of {code}, not twice
    answer = reveal(client_ua, s, html)
    code = OfferCode.objects.get(shopper=s).code
    assert answer.status_code == 200 and answer.json() == {"code": code} and code.startswith("HI-")
    assert reveal(client_ua, s, html).json() == {"code": code}  # asking again: the same code
    assert OfferCode.objects.filter(shopper=s).count() == 1
    # Revealing counts as a click on the campaign (and its event, for attribution).
    assert CampaignAssignment.objects.get(campaign=campaign, shopper=s).clicks == 2
    assert Event.objects.filter(shopper=s, kind="campaign_click", context__source="code").count() == 2


def test_without_script_the_reveal_link_goes_back_and_the_next_banner_shows_the_code(client_ua):
    offer = factories.offer(code_mode="unique", code="", code_prefix="HI")
    factories.campaign(offer=offer, contents=[{"variant": "A", "headline": "Hello", "text": "Yours: {code}"}])
    s = shopper()
    html = render(factories.shopper_request(s))
    response = reveal(client_ua, s, html, "get")
    assert response.status_code == 302
    code = OfferCode.objects.get(shopper=s).code
    request = factories.shopper_request(s)
    request.session = client_ua.session
    again = render(request)
    assert code in again and "data-personalize-reveal" not in again


def test_clicking_a_unique_code_campaign_issues_its_code(client_ua):
    offer = factories.offer(code_mode="unique", code="", code_prefix="GO")
    factories.campaign(headline="Hello", offer=offer, contents=[{"variant": "A", "headline": "Go", "link": "/sale/"}])
    s = shopper()
    html = render(factories.shopper_request(s))
    assert not OfferCode.objects.exists()
    response = HttpResponse()
    set_cookie(response, s.key)
    client_ua.cookies.update(response.cookies)
    click = re.search(r'class="personalize-campaign-cta" href="([^"]+)"', html).group(1)
    assert client_ua.get(click).status_code == 302
    assert OfferCode.objects.filter(shopper=s).count() == 1


def test_another_shoppers_reveal_link_issues_nothing_for_a_shopper_outside_the_arm(client_ua):
    offer = factories.offer(code_mode="unique", code="", code_prefix="HI")
    campaign = factories.campaign(headline="Hello", offer=offer, control_percent=50)
    shown = next(s for s in (shopper() for _ in range(40)) if campaign_arm(campaign, s) != "control")
    control = next(s for s in (shopper() for _ in range(40)) if campaign_arm(campaign, s) == "control")
    html = render(factories.shopper_request(shown))
    assert reveal(client_ua, control, html).status_code == 404  # the link was not theirs
    assert not OfferCode.objects.filter(shopper=control).exists()


def campaign_arm(campaign, s: Shopper) -> str:
    from personalize.campaigns.reveal import spec_of

    return spec_of(campaign.pk).arm_for(s)


def test_personal_time_limit_shows_a_countdown_and_then_ends(client_ua):
    offer = factories.offer(code_mode="unique", code="")
    campaign = factories.campaign(headline="Hurry", offer=offer, personal_minutes=30, show_countdown=True)
    s = shopper()
    html = render(factories.shopper_request(s))
    assert "data-personalize-countdown=" in html and "Hurry" in html
    reveal(client_ua, s, html)
    code = OfferCode.objects.get(shopper=s)
    assert timedelta(minutes=29) < code.expires_at - timezone.now() <= timedelta(minutes=30)
    CampaignAssignment.objects.filter(campaign=campaign).update(first_seen=timezone.now() - timedelta(minutes=31))
    assert "Hurry" not in render(factories.shopper_request(s))


def test_content_is_escaped():
    factories.campaign(
        contents=[{"variant": "A", "headline": "<script>alert(1)</script>", "text": "<b>bold</b>", "link": "/sale/"}]
    )
    html = render(factories.shopper_request(shopper()))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_content_language_falls_back_to_the_default_language():
    factories.campaign(
        default_language="en",
        contents=[
            {"variant": "A", "language": "en", "headline": "Hello"},
            {"variant": "A", "language": "de", "headline": "Hallo"},
        ],
    )
    req = factories.shopper_request(shopper())
    req.LANGUAGE_CODE = "de-at"
    assert "Hallo" in render(req)
    req = factories.shopper_request(shopper())
    req.LANGUAGE_CODE = "fr"
    assert "Hello" in render(req)


def test_placeholders_are_filled_without_format_injection():
    factories.campaign(headline="Hi {first_name} {__class__}", contents=None)
    user = factories.user(first_name="Ana")
    s = shopper(user=user)
    html = render(factories.shopper_request(s, user_obj=user))
    assert "Hi Ana {__class__}" in html


def test_click_link_counts_and_redirects(client_ua):
    campaign = factories.campaign(contents=[{"variant": "A", "headline": "Go", "link": "/sale/", "cta_label": "Shop now"}])
    from personalize.identity import set_cookie

    s = shopper()
    html = render(factories.shopper_request(s))
    import re

    url = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
    from django.http import HttpResponse

    response = HttpResponse()
    set_cookie(response, s.key)
    client_ua.cookies.update(response.cookies)
    answer = client_ua.get(url)
    assert answer.status_code == 302 and answer["Location"] == "/sale/"
    assert CampaignAssignment.objects.get(campaign=campaign, shopper=s).clicks == 1
    assert client_ua.get(url[:-3] + "xx/").status_code == 400


def test_cache_is_invalidated_when_a_campaign_changes():
    campaign = factories.campaign(headline="Before")
    req = factories.shopper_request(shopper())
    assert "Before" in render(req)
    content = campaign.contents.get()
    content.headline = "After"
    content.save()
    assert "After" in render(factories.shopper_request(shopper()))


def test_cached_choice_costs_few_queries(django_assert_max_num_queries):
    for i in range(10):
        factories.campaign(headline=f"C{i}", priority=i)
    s = shopper()
    selection.choose(factories.shopper_request(shopper()), "home_banner")  # warm definitions
    selection.load_campaigns("cart")
    req = factories.shopper_request(s)
    # the shopper's segments (a cart read) + their assignments; campaigns come from the cache
    with django_assert_max_num_queries(2):
        choice = selection.choose(req, "home_banner")
    assert choice.spec.name and choice.content.headline == "C9"
    with django_assert_max_num_queries(0):  # a second placement on the same page
        selection.choose(req, "cart")


def test_seeing_a_campaign_earns_no_credit_a_click_does(client_ua):
    """The one attribution rule: an impression credits nothing; the click redirect records a
    ``campaign_click`` event, and the purchase after it is credited to that campaign."""
    campaign = factories.campaign(contents=[{"variant": "A", "headline": "Go", "link": "/sale/"}])
    s = shopper()
    html = render(factories.shopper_request(s))
    product = factories.product(price=Decimal("40.00"))
    purchase = tracking.track(factories.shopper_request(s), "purchase", lines=[{"product": product, "quantity": 2}], order_ref="O-1")
    assert attribution.credit(purchase) is None  # seen, not clicked

    url = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = HttpResponse()
    set_cookie(response, s.key)
    client_ua.cookies.update(response.cookies)
    assert client_ua.get(url).status_code == 302
    click = Event.objects.get(kind="campaign_click")
    assert click.shopper_id == s.pk and click.context["campaign"] == campaign.pk and click.context["arm"] == "A"
    later = tracking.track(factories.shopper_request(s), "purchase", value="10", order_ref="O-2")
    credit = attribution.credit(later)
    assert (credit.channel, credit.campaign_id, credit.arm, credit.value) == ("campaign", campaign.pk, "A", Decimal("10"))


def test_a_stranger_opening_a_shared_campaign_link_records_no_click(client_ua):
    factories.campaign(contents=[{"variant": "A", "headline": "Go", "link": "/sale/"}])
    html = render(factories.shopper_request(shopper()))
    url = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client_ua.get(url).status_code == 302  # still goes to the link
    assert not Event.objects.filter(kind="campaign_click").exists()


def test_greeting():
    def greet(req) -> str:
        return Template("{% load personalize %}{% greeting %}").render(Context({"request": req}))

    user = factories.user(first_name="<b>Ana</b>")
    known = shopper(user=user, visits=3)
    assert "Welcome back, &lt;b&gt;Ana&lt;/b&gt;!" in greet(factories.shopper_request(known, user_obj=user))
    assert 'data-greeting="returning"' in greet(factories.shopper_request(shopper(visits=2)))
    new = greet(factories.request())
    assert 'data-greeting="new"' in new and "Welcome!" in new


def test_product_page_campaign_after_the_product_was_viewed_three_times():
    factories.campaign("product_page", headline="Still thinking about it?", min_product_views=3)
    product = factories.product()
    s = shopper()

    def page() -> str:
        req = factories.shopper_request(s)
        return Template('{% load personalize %}{% personalized_content "product_page" %}').render(
            Context({"request": req, "product": product})
        )

    for _ in range(2):
        tracking.track(factories.shopper_request(s), "view", product=product)
    assert "Still thinking" not in page()
    tracking.track(factories.shopper_request(s), "view", product=product)
    assert "Still thinking" in page()


def test_product_views_condition_only_on_product_pages():
    from django.core.exceptions import ValidationError

    campaign = factories.campaign("home_banner", min_product_views=3)
    with pytest.raises(ValidationError):
        campaign.full_clean()


def test_returning_request_chooses_from_the_session_without_queries(django_assert_num_queries):
    factories.campaign(headline="Once", frequency_cap=1, frequency_hours=24, offer=factories.offer(code="ONCE5"))
    factories.campaign(headline="Offer two", priority=-1, offer=factories.offer(code="TWO5"))
    factories.campaign(headline="Plain", priority=-2)
    s = shopper()
    session = factories.request().session

    def req():
        r = factories.shopper_request(s)
        r.session = session
        return r

    assert "Once" in render(req())
    # The cap and the fatigue answer come from the session, kept in step by the impression.
    warm = req()
    selection.request_state(warm)  # segments (cached in the session too)
    with django_assert_num_queries(0):
        choice = selection.choose(warm, "home_banner")
    assert choice.spec.name and choice.content.headline == "Plain"
    # the session's state expires: the database has the same answer
    session[selection.SESSION_KEY]["at"] = 0
    assert "Plain" in render(req())


def test_campaign_whose_segments_are_all_switched_off_targets_nobody():
    seg = factories.segment("everyone-new", [("visit_state", {"state": "first"})])
    factories.campaign(headline="Targeted", segments=[seg])
    seg.is_active = False
    seg.save()
    assert "Targeted" not in render(factories.shopper_request(shopper(visits=1)))


def _exit_intent_session_client(client_ua, s):
    from django.http import HttpResponse

    from personalize.identity import set_cookie

    response = HttpResponse()
    set_cookie(response, s.key)
    client_ua.cookies.update(response.cookies)
    return client_ua


def test_exit_intent_is_counted_when_it_opens_not_when_the_page_renders(client_ua):
    import re

    campaign = factories.campaign("exit_intent", headline="Wait!", offer=factories.offer(code="STAY5"), frequency_cap=1)
    s = shopper()
    Cart.objects.create(shopper=s, lines=[{"product": "1", "quantity": 1, "price": "9.00"}], item_count=1, value=9)
    html = render(factories.shopper_request(s), "exit_intent")
    assert "<dialog" in html and "Wait!" in html and "STAY5" in html
    assert not CampaignAssignment.objects.exists() and not Contact.objects.exists()
    url = re.search(r'data-seen-url="([^"]+)"', html).group(1)
    client = _exit_intent_session_client(client_ua, s)
    assert client.get(url).status_code == 405  # only the browser's POST counts
    assert client.post(url).status_code == 204
    assignment = CampaignAssignment.objects.get(campaign=campaign, shopper=s)
    assert (assignment.arm, assignment.impressions) == ("A", 1)
    assert Contact.objects.filter(shopper=s, source=f"campaign:{campaign.pk}").count() == 1
    # frequency cap 1: once it has opened, it is not armed again
    assert "Wait!" not in render(factories.shopper_request(s), "exit_intent")
    assert client.post(url[:-4] + "xyz/").status_code == 400


def test_exit_intent_control_group_renders_only_a_marker():
    import re

    campaign = factories.campaign("exit_intent", headline="Wait!", control_percent=90)
    for _ in range(30):
        s = shopper()
        html = render(factories.shopper_request(s), "exit_intent")
        if "<template data-personalize-exit-intent" in html:
            assert "Wait!" not in html and re.search(r'data-seen-url="[^"]+"', html)
            break
    else:
        pytest.fail("no control shopper in 30 at 90%")
    assert not CampaignAssignment.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("Fresh beans for you, {first_name}.", {"first_name": "Ana"}, "Fresh beans for you, Ana."),
        ("Fresh beans for you, {first_name}.", {}, "Fresh beans for you."),
        ("Hi {first_name}!", {"first_name": ""}, "Hi!"),
        ("Hi {first_name|there}!", {}, "Hi there!"),
        ("Hi {first_name|there}!", {"first_name": "Ana"}, "Hi Ana!"),
        ("{first_name}, welcome back", {}, "welcome back"),
        ("Use {code} for {offer}", {"code": "X1", "offer": "10% off"}, "Use X1 for 10% off"),
        ("{unknown} stays", {}, "{unknown} stays"),
    ],
)
def test_placeholders_fill_and_tidy_up_when_unknown(text, values, expected):
    from personalize.campaigns.content import fill_placeholders

    assert fill_placeholders(text, values) == expected


def test_a_cart_offer_is_not_shown_to_an_empty_cart():
    factories.campaign("exit_intent", headline="5 off your cart", offer=factories.offer(code="STAY6"))
    empty = shopper()
    assert "5 off your cart" not in render(factories.shopper_request(empty), "exit_intent")
    full = shopper()
    Cart.objects.create(shopper=full, lines=[{"product": "1", "quantity": 1, "price": "9.00"}], item_count=1, value=9)
    assert "5 off your cart" in render(factories.shopper_request(full), "exit_intent")


def test_free_shipping_gap_is_a_price_and_the_nudge_hides_over_the_threshold(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "FREE_SHIPPING_THRESHOLD": "50.00", "PRICE_FORMAT": "€{amount}"}
    factories.campaign("cart", headline="Only {free_shipping_gap} away from free shipping")
    near, over = shopper(), shopper()
    Cart.objects.create(shopper=near, lines=[{"product": "1", "quantity": 1, "price": "40.99"}], item_count=1, value=Decimal("40.99"))
    Cart.objects.create(shopper=over, lines=[{"product": "1", "quantity": 1, "price": "60.00"}], item_count=1, value=Decimal("60.00"))
    assert "Only €9.01 away from free shipping" in render(factories.shopper_request(near), "cart")
    html = render(factories.shopper_request(over), "cart")
    assert "away from free shipping" not in html and "Only  away" not in html


def test_a_banner_code_never_revealed_is_issued_at_checkout_and_redeemed_once():
    from personalize.offers import OfferError, best_offer, redeem

    offer = factories.offer(code_mode="unique", code="", code_prefix="WELCOME", discount_type="percent", value=10)
    factories.campaign(headline="10% off: {code}", offer=offer)
    product = factories.product(price=50)
    cart = [{"product": str(product.pk), "quantity": 1, "price": "50.00"}]
    s = shopper()
    untouched = shopper()
    render(factories.shopper_request(s))
    assert not OfferCode.objects.exists()
    assert best_offer(factories.shopper_request(untouched), cart).discount == 0  # never saw it
    decision = best_offer(factories.shopper_request(s), cart)
    issued = OfferCode.objects.get(shopper=s)
    assert (decision.discount, decision.code, decision.code_id) == (Decimal("5.00"), issued.code, issued.pk)
    assert best_offer(factories.shopper_request(s), cart).code == issued.code  # no second code
    redeem(factories.shopper_request(s), decision, "order-1")
    issued.refresh_from_db()
    assert issued.used_at is not None and issued.order_ref == "order-1"
    # Used: checkout does not mint another one by itself.
    assert best_offer(factories.shopper_request(s), cart).discount == 0
    assert OfferCode.objects.filter(shopper=s).count() == 1
    with pytest.raises(OfferError):
        redeem(factories.shopper_request(s), decision, "order-2")
