"""The exposure buffer (personalize/exposures.py): pages count campaign exposures and offer
contacts in the process; one flush writes them in one statement, exactly once, and two workers'
counts add up. Results, clicks and checkout still see every exposed shopper."""

from __future__ import annotations

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize import exposures
from personalize.campaigns.reveal import record_click
from personalize.campaigns.stats import campaign_results
from personalize.fatigue import may_contact
from personalize.models import CampaignAssignment, Contact, Shopper
from tests import factories
from tests.placements_helpers import shopper_request

pytestmark = pytest.mark.django_db

BANNER = Template('{% load personalize %}{% personalized_content "home_banner" %}')


@pytest.fixture(autouse=True)
def buffered(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CAMPAIGN_EXPOSURE_FLUSH_SECONDS": 60}


def show(shopper: Shopper, session=None) -> str:
    request = shopper_request(shopper)
    if session is not None:
        request.session = session
    return BANNER.render(Context({"request": request}))


def test_pages_write_no_assignment_and_one_flush_writes_them_in_one_statement_exactly_once():
    campaign = factories.campaign("home_banner", headline="Hello")
    shoppers = [Shopper.objects.create() for _ in range(5)]
    session = factories.request().session
    for shopper in shoppers:
        with CaptureQueriesContext(connection) as queries:
            assert "Hello" in show(shopper)
        writes = [q for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
        assert not writes, writes
    show(shoppers[0], session)
    show(shoppers[0], session)  # the same shopper twice more: one entry, counted 3 times
    assert not CampaignAssignment.objects.exists()
    with CaptureQueriesContext(connection) as queries:
        assert exposures.flush() == 5
    upserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO") and "campaignassignment" in q["sql"]]
    assert len(upserts) == 1  # one statement for every shopper
    rows = dict(CampaignAssignment.objects.filter(campaign=campaign).values_list("shopper_id", "impressions"))
    assert rows == {s.pk: (3 if s == shoppers[0] else 1) for s in shoppers}
    assert exposures.flush() == 0  # flushed exactly once
    assert sum(CampaignAssignment.objects.values_list("impressions", flat=True)) == 7


def test_two_workers_buffers_add_up_without_double_counting():
    campaign = factories.campaign("home_banner", headline="Hello")
    shopper = Shopper.objects.create()
    now = timezone.now()
    one, two = exposures.Buffer(), exposures.Buffer()
    for _ in range(3):
        one.add_exposure(campaign.pk, shopper, "A", now, shown=1)
    two.add_exposure(campaign.pk, shopper, "A", now - timedelta(minutes=5), shown=1)
    two.add_exposure(campaign.pk, shopper, "A", now + timedelta(seconds=1), shown=1)
    exposures.flush(one)
    exposures.flush(two)
    exposures.flush(one)
    exposures.flush(two)  # again: nothing left to write
    row = CampaignAssignment.objects.get(campaign=campaign, shopper=shopper)
    assert row.impressions == 5 and row.window_impressions == 5
    assert row.first_seen == now - timedelta(minutes=5) and row.last_seen == now + timedelta(seconds=1)


def test_an_existing_assignment_keeps_its_arm_and_clicks_and_a_reset_window_replaces_the_old_one():
    campaign = factories.campaign("home_banner", headline="Hello", frequency_cap=3, frequency_hours=24)
    shopper = Shopper.objects.create()
    old = timezone.now() - timedelta(days=2)
    CampaignAssignment.objects.create(
        campaign=campaign, shopper=shopper, arm="B", impressions=4, clicks=2, first_seen=old, last_seen=old,
        window_start=old, window_impressions=3,
    )
    now = timezone.now()
    buffer = exposures.Buffer()
    buffer.add_exposure(campaign.pk, shopper, "A", now, shown=1, window_reset=True)
    exposures.flush(buffer)
    row = CampaignAssignment.objects.get()
    assert (row.arm, row.impressions, row.clicks, row.first_seen) == ("B", 5, 2, old)
    assert (row.window_start, row.window_impressions) == (now, 1)


def test_results_count_every_exposed_shopper_control_included():
    campaign = factories.campaign("home_banner", headline="Hello", control_percent=50)
    shoppers = [Shopper.objects.create() for _ in range(30)]
    for shopper in shoppers:
        show(shopper)
    assert not CampaignAssignment.objects.exists()  # all in the buffer
    results = campaign_results(campaign)  # flushes this process's buffer first
    by_arm = {arm.arm: arm for arm in results.arms}
    assert sum(arm.shoppers for arm in results.arms) == 30
    assert by_arm["control"].shoppers > 0 and by_arm["control"].impressions == 0
    assert by_arm["A"].impressions == by_arm["A"].shoppers == 30 - by_arm["control"].shoppers


def test_the_buffer_is_flushed_after_a_request_once_it_is_old_enough(client):
    factories.campaign("home_banner", headline="Hello")
    show(Shopper.objects.create())
    client.get("/no-such-page/")  # any request's end (request_finished)
    assert not CampaignAssignment.objects.exists()  # 60 s not reached
    exposures.BUFFER.oldest -= 61
    client.get("/no-such-page/")
    assert CampaignAssignment.objects.count() == 1 and len(exposures.BUFFER) == 0


def test_a_full_buffer_flushes_itself(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CAMPAIGN_EXPOSURE_BUFFER_MAX": 3}
    factories.campaign("home_banner", headline="Hello")
    for _ in range(3):
        show(Shopper.objects.create())
    assert CampaignAssignment.objects.count() == 3 and len(exposures.BUFFER) == 0


def test_a_failed_flush_keeps_its_entries_for_the_next_one():
    factories.campaign("home_banner", headline="Hello")
    show(Shopper.objects.create())
    with mock.patch.object(exposures, "upsert", side_effect=DatabaseError("down")):
        assert exposures.flush() == 0
    assert len(exposures.BUFFER) == 1
    assert exposures.flush() == 1 and CampaignAssignment.objects.get().impressions == 1


def test_a_loss_is_bounded_by_twice_the_maximum(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CAMPAIGN_EXPOSURE_BUFFER_MAX": 2}
    buffer = exposures.Buffer()
    now = timezone.now()
    entries = [exposures.Exposure(1, pk, "A", now, now, impressions=1, shopper_key=uuid.uuid4()) for pk in range(10)]
    buffer.put_back(entries, [])
    assert len(buffer.exposures) == 4 and buffer.dropped == 6


def test_an_erased_shopper_exposure_is_dropped_not_an_error():
    factories.campaign("home_banner", headline="Hello")
    gone, kept = Shopper.objects.create(), Shopper.objects.create()
    show(gone)
    show(kept)
    gone.delete()
    assert exposures.flush() == 1
    assert list(CampaignAssignment.objects.values_list("shopper_id", flat=True)) == [kept.pk]


def test_the_offer_contact_is_buffered_and_the_fatigue_cap_sees_it_before_the_flush():
    offer = factories.offer(code_mode="shared", code="HELLO")
    factories.campaign("home_banner", headline="Hello", offer=offer)
    shopper = Shopper.objects.create()
    assert "Hello" in show(shopper)
    assert not Contact.objects.exists() and not may_contact(shopper)
    exposures.flush()
    assert Contact.objects.filter(shopper=shopper, channel="onsite").count() == 1 and not may_contact(shopper)


def test_a_click_before_another_workers_flush_creates_the_assignment_and_the_impression_follows():
    campaign = factories.campaign("home_banner", headline="Hello", control_percent=0)
    shopper = Shopper.objects.create()
    other_worker = exposures.Buffer()
    other_worker.add_exposure(campaign.pk, shopper, "A", timezone.now(), shown=1)
    assert record_click(shopper, campaign.pk, "A")
    assert not record_click(Shopper.objects.create(), campaign.pk, "control")  # not that shopper's arm
    row = CampaignAssignment.objects.get()
    assert (row.impressions, row.clicks) == (0, 1)
    exposures.flush(other_worker)
    row.refresh_from_db()
    assert (row.arm, row.impressions, row.clicks) == ("A", 1, 1)


def test_checkout_sees_a_banner_exposure_still_in_the_buffer():
    from decimal import Decimal

    from personalize.models import OfferCode
    from personalize.offers import best_offer

    offer = factories.offer(code_mode="unique", code="", code_prefix="NEW", discount_type="percent", value=10)
    factories.campaign("home_banner", headline="10% off", offer=offer)
    product = factories.product(price=20)
    shopper = Shopper.objects.create()
    show(shopper)
    assert not CampaignAssignment.objects.exists()
    decision = best_offer(shopper_request(shopper), [{"product": str(product.pk), "quantity": 1, "price": "20.00"}])
    assert decision.discount == Decimal("2.00") and decision.code == OfferCode.objects.get(shopper=shopper).code


@pytest.mark.django_db(transaction=True)
def test_an_idle_process_flushes_by_its_timer(settings):
    import time as clock

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CAMPAIGN_EXPOSURE_FLUSH_SECONDS": 0.2}
    factories.campaign("home_banner", headline="Hello")
    show(Shopper.objects.create())
    assert exposures.BUFFER.timer is not None and not CampaignAssignment.objects.exists()
    deadline = clock.monotonic() + 10
    while not CampaignAssignment.objects.exists() and clock.monotonic() < deadline:
        clock.sleep(0.05)  # no request comes: the timer's thread writes the buffer
    assert CampaignAssignment.objects.get().impressions == 1 and exposures.BUFFER.timer is None


def test_a_flush_cancels_the_pending_timer():
    factories.campaign("home_banner", headline="Hello")
    show(Shopper.objects.create())
    timer = exposures.BUFFER.timer
    assert timer is not None and timer.interval == 60
    exposures.flush()
    assert exposures.BUFFER.timer is None and timer.finished.is_set()


def test_a_first_visits_second_page_in_the_same_process_is_no_second_contact_and_one_assignment():
    from django.http import HttpResponse

    from personalize.identity import set_cookie

    offer = factories.offer(code_mode="unique", code="", code_prefix="NEW")
    factories.campaign("home_banner", headline="Hello", offer=offer)
    first = factories.request()
    assert "Hello" in BANNER.render(Context({"request": first}))
    key = first._personalize_shopper.key
    assert not Shopper.objects.exists()  # the first visit's row waits for the flush
    response = HttpResponse()
    set_cookie(response, key)
    second = factories.request()
    second.COOKIES.update({k: m.value for k, m in response.cookies.items()})
    assert "Hello" in BANNER.render(Context({"request": second}))  # no session from page one
    exposures.flush()
    shopper = Shopper.objects.get()
    assert shopper.key == key
    row = CampaignAssignment.objects.get(shopper=shopper)
    assert row.impressions == 2 and Contact.objects.filter(shopper=shopper).count() == 1


def test_a_first_visit_that_sees_a_campaign_writes_nothing_and_the_flush_makes_its_row():
    factories.campaign("home_banner", headline="Hello")
    request = factories.request(HTTP_ACCEPT_LANGUAGE="nl")
    request.LANGUAGE_CODE = "nl"
    with CaptureQueriesContext(connection) as queries:
        assert "Hello" in BANNER.render(Context({"request": request}))
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert not writes, writes
    assert request._personalize_set_cookie  # the browser keeps its key: the same arm next page
    assert exposures.flush() == 1
    shopper = Shopper.objects.get()
    assert (shopper.key, shopper.language) == (request._personalize_shopper.key, "nl")
    assert CampaignAssignment.objects.get().shopper == shopper


def test_a_first_visit_made_by_two_workers_and_by_its_own_event_is_one_row():
    from personalize.identity import ensure_shopper

    campaign = factories.campaign("home_banner", headline="Hello")
    request = factories.request()
    BANNER.render(Context({"request": request}))
    shopper = request._personalize_shopper
    assert shopper.pk is None
    other_worker = exposures.Buffer()
    other_worker.add_exposure(campaign.pk, Shopper(key=shopper.key), "A", timezone.now(), shown=1)
    assert ensure_shopper(request) is shopper and shopper.pk  # an event of the request writes the row at once
    assert exposures.flush(other_worker) == 1 and exposures.flush() == 1
    assert Shopper.objects.count() == 1
    assert CampaignAssignment.objects.get().impressions == 2


def test_a_browser_that_withdraws_consent_before_the_flush_leaves_no_row():
    factories.campaign("home_banner", headline="Hello")
    request = factories.request()
    BANNER.render(Context({"request": request}))
    key = request._personalize_shopper.key
    other_worker = exposures.Buffer()
    other_worker.add_exposure(1, Shopper(key=key), "A", timezone.now(), shown=1)
    exposures.forget(key)  # what withdrawal and self-service erasure call
    assert len(exposures.BUFFER) == 0
    exposures.flush(other_worker)  # another worker's copy: the cache's marker stops it
    assert not Shopper.objects.filter(key=key).exists()


def test_a_flush_writes_its_assignments_in_key_order_so_two_workers_cannot_deadlock():
    """Two workers flushing assignments they share lock the rows in the order of their
    statement: in any order but one and the same, PostgreSQL saw them deadlock (page bench)."""
    campaigns = [factories.campaign("home_banner", headline=f"Hello {n}") for n in range(2)]
    shoppers = [Shopper.objects.create() for _ in range(4)]
    buffer, now = exposures.Buffer(), timezone.now()
    for shopper in reversed(shoppers):
        for campaign in reversed(campaigns):
            buffer.add_exposure(campaign.pk, shopper, "A", now, shown=1)
    assert exposures.flush(buffer) == 8
    # One multi-row INSERT numbers its new rows in the order of its VALUES.
    order = list(CampaignAssignment.objects.values_list("campaign_id", "shopper_id").order_by("pk"))
    assert order == sorted(order)
