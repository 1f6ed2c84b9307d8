"""Query and cache round-trip budgets of whole pages of widgets (issue 11: "widgets nearly free").

A product page (campaign slot, bought together, similar, recently viewed) and a home page
(greeting, campaign slot, recently viewed, for you, trending) rendered warm for a returning
shopper and for a first-time visitor: at most the queries listed, and no cache round trip but
the returning shopper's cached profile (generations, candidate lists, cards, stock checks and
rendered lists are held in the process within LOCAL_CACHE_SECONDS). Counted as the shopper's
request renders them, not timed.
"""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import timezone

from personalize.events.tracking import track
from personalize.models import Event, Shopper
from tests import factories
from tests.placements_helpers import configure, ids, products, shopper_request
from tests.test_serving import counting_cache_calls

pytestmark = pytest.mark.django_db

PRODUCT_PAGE = Template(
    "{% load personalize %}"
    '{% personalized_content "product_page" %}'
    "{% frequently_bought_together product limit=4 %}"
    "{% similar_products product limit=8 %}"
    "{% recently_viewed limit=8 %}"
)
HOME_PAGE = Template(
    "{% load personalize %}"
    "{% greeting %}"
    '{% personalized_content "home_banner" %}'
    "{% recently_viewed limit=8 %}"
    "{% recommended_for_you limit=8 %}"
    "{% trending limit=8 %}"
)
FRAGMENT_PAGE = Template(
    "{% load personalize %}"
    "{% personalize_fragment 'frequently_bought_together' product=product limit=4 %}"
    "{% personalize_fragment 'similar_products' product=product limit=8 %}"
    "{% personalize_fragment 'recommended_for_you' limit=8 %}"
)

# Returning shopper, warm: the shopper (one lookup, with its cart); the campaign's impression
# goes to the exposure buffer (its assignment and the fatigue answer come from the session), no
# UPDATE per page. The profile (every list, recently viewed and the campaigns' conditions read
# it) is one cache read of the shopper's state: no query while they have not acted since
# (personalize.profiles.live).
RETURNING_PRODUCT_PAGE_QUERIES = 1
RETURNING_HOME_PAGE_QUERIES = 1
RETURNING_CACHE_CALLS = {"get_many": 1}
# A first-time visitor (no cookie) who sees no campaign: no query at all.
NEW_VISITOR_QUERIES = 0
# ...who sees a campaign with a unique-code offer: no query either. The shopper's row, the
# assignment and the fatigue contact wait in the exposure buffer (personalize.exposures: one
# insert of new rows per flush), the code is issued when clicked, revealed or used, a new
# visitor has no cart, and the session is not written.
NEW_VISITOR_CAMPAIGN_QUERIES = 0
# Fragments: the neutral lists read nothing per request.
FRAGMENT_PAGE_QUERIES = 0


@pytest.fixture
def shop(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}  # the shipped bound
    catalogue = products(30)
    # The shipped exposure buffer (written by a flush, not by the page).
    configure(settings, items=catalogue, LOCAL_CACHE_SECONDS=5, CONSENT_REQUIRED=False, CAMPAIGN_EXPOSURE_FLUSH_SECONDS=10)
    factories.campaign("product_page", headline="On this page")
    factories.campaign("home_banner", headline="Welcome")
    return catalogue


def returning(catalogue) -> tuple[Shopper, object]:
    shopper = Shopper.objects.create(visits=3)
    for product in catalogue[10:16]:
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    session = factories.request().session
    return shopper, session


def page(template: Template, shopper: Shopper | None, session: object = None, **context) -> str:
    request = shopper_request(shopper) if shopper is not None else factories.request()
    if session is not None:
        request.session = session
    return template.render(Context({"request": request, **context}))


@pytest.mark.parametrize(
    ("template", "budget"), [(PRODUCT_PAGE, RETURNING_PRODUCT_PAGE_QUERIES), (HOME_PAGE, RETURNING_HOME_PAGE_QUERIES)],
    ids=["product", "home"],
)
def test_a_returning_shoppers_page_of_widgets_stays_in_its_query_budget_and_reads_the_cache_once(
    shop, template, budget, django_assert_max_num_queries
):
    shopper, session = returning(shop)
    for _ in range(2):  # cold: lists, cards, stock checks, the campaign's assignment, the session
        page(template, shopper, session, product=shop[0])
    with django_assert_max_num_queries(budget), counting_cache_calls() as calls:
        html = page(template, shopper, session, product=shop[0])
    assert calls == RETURNING_CACHE_CALLS, calls
    assert len(ids(html)) >= 8 and ("On this page" in html or "Welcome" in html)


@pytest.mark.django_db(transaction=True)  # committed: the view's receivers run after the commit
def test_a_returning_shoppers_product_page_that_tracks_its_view_makes_no_cache_round_trip(
    shop, django_assert_max_num_queries
):
    """As a store's product view does: the view is tracked, then the page renders; the profile
    is the one this thread holds with the view's own step (personalize.caching.shoppers)."""
    shopper, session = returning(shop)
    for product in (shop[2], shop[0], shop[1]):  # cold: this product's lists, the earlier pages
        request = shopper_request(shopper)
        request.session = session
        track(request, "view", product=product)
        PRODUCT_PAGE.render(Context({"request": request, "product": product}))
    request = shopper_request(shopper)
    request.session = session
    track(request, "view", product=shop[2])
    with django_assert_max_num_queries(RETURNING_PRODUCT_PAGE_QUERIES), counting_cache_calls() as calls:
        html = PRODUCT_PAGE.render(Context({"request": request, "product": shop[2]}))
    assert sum(calls.values()) == 0, calls
    assert str(shop[1].pk) in ids(html) and "On this page" in html  # recently viewed, up to date


@pytest.mark.parametrize("template", [PRODUCT_PAGE, HOME_PAGE], ids=["product", "home"])
def test_a_first_time_visitors_page_without_campaigns_costs_no_query(shop, template, django_assert_max_num_queries):
    from personalize.models import Campaign

    Campaign.objects.all().delete()
    page(template, None, product=shop[0])
    with django_assert_max_num_queries(NEW_VISITOR_QUERIES), counting_cache_calls() as calls:
        html = page(template, None, product=shop[0])
    assert sum(calls.values()) == 0, calls
    assert len(ids(html)) >= 8


def test_a_page_of_fragments_costs_no_query_and_no_cache_round_trip(shop, django_assert_max_num_queries):
    shopper, session = returning(shop)
    page(FRAGMENT_PAGE, shopper, session, product=shop[0])
    with django_assert_max_num_queries(FRAGMENT_PAGE_QUERIES), counting_cache_calls() as calls:
        html = page(FRAGMENT_PAGE, shopper, session, product=shop[0])
    assert sum(calls.values()) == 0, calls
    assert html.count("data-personalize-fragment=") == 3 and len(ids(html)) >= 12


def test_a_revealed_unique_code_costs_no_query_on_the_next_page_until_it_is_redeemed(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from personalize.campaigns.reveal import reveal_code, spec_of
    from personalize.models import OfferCode
    from personalize.offers.codes import forget_codes

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}
    offer = factories.offer(code_mode="unique", code="", code_prefix="HI")
    campaign = factories.campaign("home_banner", headline="Your code {code}", offer=offer)
    shopper = Shopper.objects.create(visits=2)
    session = factories.request().session
    banner = Template('{% load personalize %}{% personalized_content "home_banner" %}')
    with CaptureQueriesContext(connection) as queries:
        first = page(banner, shopper, session)
    assert "data-personalize-reveal" in first and not OfferCode.objects.exists()  # shown, not issued
    assert not [q for q in queries.captured_queries if "offercode" in q["sql"].lower()], queries.captured_queries
    code = reveal_code(shopper, spec_of(campaign.pk), session=session)  # the "get your code" link
    with CaptureQueriesContext(connection) as queries:
        again = page(banner, shopper, session)
    assert code in again and "data-personalize-reveal" not in again
    assert not [q for q in queries.captured_queries if "offercode" in q["sql"].lower()], queries.captured_queries
    # Redeemed (checkout forgets the session's entry): the banner offers a code again, and none
    # is minted until the shopper asks.
    OfferCode.objects.filter(code=code).update(used_at=timezone.now(), order_ref="o-1")
    forget_codes(session, [offer.pk])
    fresh = page(banner, shopper, session)
    assert code not in fresh and "data-personalize-reveal" in fresh and OfferCode.objects.filter(shopper=shopper).count() == 1


@pytest.mark.parametrize(("cap", "rewritten"), [(0, False), (3, True)], ids=["uncapped", "capped"])
def test_a_banner_on_every_page_rewrites_the_session_only_when_its_count_decides_something(settings, cap, rewritten):
    from personalize.campaigns import selection

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}
    factories.campaign("home_banner", headline="Hello again", frequency_cap=cap, frequency_hours=24 if cap else 0)
    shopper = Shopper.objects.create(visits=2)
    session = factories.request().session
    banner = Template('{% load personalize %}{% personalized_content "home_banner" %}')
    assert "Hello again" in page(banner, shopper, session)
    assert "Hello again" in page(banner, shopper, session)  # the session holds the assignment now
    session.modified = False
    assert "Hello again" in page(banner, shopper, session)
    assert session.modified is rewritten
    stored = session[selection.SESSION_KEY]["a"]
    assert len(stored) == 1  # the assignment itself is always kept


def test_a_first_visits_banner_looks_up_no_assignment_and_no_code_of_the_row_it_just_created(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from personalize.models import OfferCode

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}
    offer = factories.offer(code_mode="unique", code="", code_prefix="NEW")
    factories.campaign("home_banner", headline="Welcome {code}", offer=offer)
    banner = Template('{% load personalize %}{% personalized_content "home_banner" %}')
    with CaptureQueriesContext(connection) as queries:
        html = page(banner, None)
    assert "data-personalize-reveal" in html and not OfferCode.objects.exists()
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in selects if "campaignassignment" in sql or "offercode" in sql], selects


@pytest.mark.parametrize("template", [PRODUCT_PAGE, HOME_PAGE], ids=["product", "home"])
def test_a_first_time_visitors_page_with_an_offer_campaign_writes_nothing(
    shop, template, django_assert_max_num_queries
):
    from personalize import exposures
    from personalize.models import Campaign, CampaignAssignment, Contact, OfferCode

    offer = factories.offer(code_mode="unique", code="", code_prefix="NEW")
    Campaign.objects.update(offer=offer)
    page(template, None, product=shop[0])  # warm: lists, cards, campaign specs
    exposures.flush()
    before = (Shopper.objects.count(), CampaignAssignment.objects.count(), Contact.objects.count())
    request = factories.request()
    with django_assert_max_num_queries(NEW_VISITOR_CAMPAIGN_QUERIES) as queries:
        html = template.render(Context({"request": request, "product": shop[0]}))
    assert not queries.captured_queries, [q["sql"] for q in queries.captured_queries]
    assert "personalize-campaign-reveal" in html and not OfferCode.objects.exists()
    assert not request.session.modified  # a one-page visit leaves no session row
    # Nothing lost: the buffer writes the row, the exposure and the contact in its flush.
    assert (Shopper.objects.count(), CampaignAssignment.objects.count(), Contact.objects.count()) == before
    exposures.flush()
    assert Shopper.objects.filter(key=request._personalize_shopper.key).exists()
    assert (Shopper.objects.count(), CampaignAssignment.objects.count(), Contact.objects.count()) == (
        before[0] + 1, before[1] + 1, before[2] + 1
    )
