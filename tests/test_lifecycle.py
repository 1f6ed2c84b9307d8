"""Lifecycle emails as a job: timing, stop conditions, restarts, caps, quiet hours, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from personalize.emails.defaults import ABANDONED_SLUG, WINBACK_SLUG
from personalize.models import EmailSend, Flow, Step, Unsubscribe
from personalize.models import Cart, Contact, Event, EventKind
from personalize.emails import sending as lifecycle
from tests import factories

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "https://shop.example",
        "EMAIL_QUIET_HOURS": ("21:00", "08:00"),
        "EMAIL_TIME_ZONE": "UTC",
        "EMAIL_RECOMMENDATIONS": 0,
    }
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)  # only the flow under test
    mail.outbox.clear()
    return settings


def run(now):
    return lifecycle.send_due(now)


def sends(shopper, **filters):
    return list(EmailSend.objects.filter(shopper=shopper, **filters).order_by("created_at"))


# --- default flows ---------------------------------------------------------------------------


def test_default_flows_exist_once_with_offer_on_last_step_only():
    from personalize.emails.defaults import ensure_default_flows

    ensure_default_flows()
    ensure_default_flows()
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    steps = list(flow.steps.order_by("position"))
    assert [s.delay for s in steps] == [HOUR, 24 * HOUR, 72 * HOUR]
    assert [s.offer_id is not None for s in steps] == [False, False, True]
    assert steps[2].offer.value == Decimal("10")
    assert Flow.objects.filter(slug=WINBACK_SLUG).count() == 1
    assert Flow.objects.get(slug=WINBACK_SLUG).steps.get().offer is not None


def test_default_schedule_is_registered():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="personalize.emails.send_due")
    assert task.interval.every == 10


# --- timing ----------------------------------------------------------------------------------


def test_first_step_waits_for_its_delay_then_goes_once():
    product = factories.product()
    shopper = factories.cart_shopper([product], updated_at=NOON)

    stats = run(NOON + 59 * timedelta(minutes=1))
    assert stats.sent == 0 and mail.outbox == []

    stats = run(NOON + HOUR)
    assert stats.sent == 1
    assert [m.to for m in mail.outbox] == [[shopper.get_email()]]
    [send] = sends(shopper)
    assert (send.status, send.step.position, send.cycle) == ("sent", 1, "cart:1")

    assert run(NOON + HOUR + timedelta(minutes=10)).sent == 0  # a rerun never resends
    assert len(mail.outbox) == 1


def test_steps_follow_their_delays_with_the_offer_on_the_last():
    product = factories.product()
    shopper = factories.cart_shopper([product], updated_at=NOON)
    run(NOON + HOUR)
    assert run(NOON + 24 * HOUR).sent == 0  # step 2 is due, but the 24 h cap from step 1 holds it
    assert run(NOON + 25 * HOUR).sent == 1
    assert run(NOON + 48 * HOUR).sent == 0  # step 3 not due before 72 h
    assert run(NOON + 72 * HOUR).sent == 1
    positions = [s.step.position for s in sends(shopper, status="sent")]
    assert positions == [1, 2, 3]
    last = sends(shopper)[-1]
    assert last.offer_code.startswith("BACK-")
    assert last.offer_code in mail.outbox[-1].body
    assert last.offer_code not in mail.outbox[0].body
    assert run(NOON + 200 * HOUR).sent == 0  # the flow is over for this cart


# --- stop conditions ---------------------------------------------------------------------------


def test_purchase_since_the_cart_changed_stops_the_flow():
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    Event.objects.create(shopper=shopper, kind=EventKind.PURCHASE, value=Decimal("20"), created_at=NOON + 10 * timedelta(minutes=1))
    stats = run(NOON + 2 * HOUR)
    assert stats.sent == 0 and stats.stopped_purchase == 1
    assert mail.outbox == []


def test_purchase_before_the_cart_changed_does_not_stop_it():
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    Event.objects.create(shopper=shopper, kind=EventKind.PURCHASE, value=Decimal("20"), created_at=NOON - HOUR)
    assert run(NOON + 2 * HOUR).sent == 1


def test_emptied_cart_gets_nothing_and_stops_a_running_flow():
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    run(NOON + HOUR)
    Cart.objects.filter(shopper=shopper).update(lines=[], item_count=0, revision=2, updated_at=NOON + 2 * HOUR)
    assert run(NOON + 100 * HOUR).sent == 0
    assert len(mail.outbox) == 1


def test_unsubscribed_shopper_or_address_gets_nothing():
    by_shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    by_email = factories.cart_shopper([factories.product()], updated_at=NOON)
    Unsubscribe.objects.create(shopper=by_shopper)
    Unsubscribe.objects.create(email=by_email.get_email().upper())
    stats = run(NOON + 2 * HOUR)
    assert stats.sent == 0 and stats.unsubscribed == 2
    assert mail.outbox == []


def test_changed_cart_restarts_from_step_one_without_doubling_up():
    product, other = factories.product(), factories.product()
    shopper = factories.cart_shopper([product], updated_at=NOON)
    run(NOON + HOUR)
    # The shopper comes back two hours later and adds a product: a new revision.
    Cart.objects.filter(shopper=shopper).update(
        lines=[{"product": str(product.pk), "quantity": 1, "price": "1"}, {"product": str(other.pk), "quantity": 1, "price": "2"}],
        item_count=2,
        revision=2,
        updated_at=NOON + 3 * HOUR,
    )
    assert run(NOON + 4 * HOUR).sent == 0  # step 1 of the new cart is due, the daily cap holds it
    assert run(NOON + 25 * HOUR).sent == 1
    sent = sends(shopper, status="sent")
    assert [(s.cycle, s.step.position) for s in sent] == [("cart:1", 1), ("cart:2", 1)]
    assert run(NOON + 26 * HOUR).sent == 0  # step 2 of the old cart never goes


def test_shopper_without_valid_email_is_skipped_and_counted_and_others_still_go():
    bad = factories.cart_shopper([factories.product()], updated_at=NOON, user_obj=factories.user(email="not-an-address"))
    no_email = factories.cart_shopper([factories.product()], updated_at=NOON, user_obj=factories.user(email=""))
    good = factories.cart_shopper([factories.product()], updated_at=NOON)
    stats = run(NOON + HOUR)
    assert stats.skipped_no_email == 2
    assert stats.sent == 1 and mail.outbox[0].to == [good.get_email()]
    assert sends(bad)[0].status == "skipped" and sends(no_email)[0].status == "skipped"
    assert run(NOON + HOUR + timedelta(minutes=10)).skipped_no_email == 0  # counted once


def test_deactivated_account_gets_nothing():
    factories.cart_shopper([factories.product()], updated_at=NOON, user_obj=factories.user(is_active=False))
    stats = run(NOON + HOUR)
    assert stats.sent == 0 and stats.skipped_no_email == 1


def test_guest_email_needs_consent():
    product = factories.product()
    with_consent = factories.cart_shopper([product], updated_at=NOON, email="guest@example.com", consent=True)
    factories.cart_shopper([product], updated_at=NOON, email="noconsent@example.com", consent=False)
    run(NOON + HOUR)
    assert [m.to for m in mail.outbox] == [[with_consent.email]]


def test_holdout_shoppers_get_no_lifecycle_email(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 100}
    factories.cart_shopper([factories.product()], updated_at=NOON)
    stats = run(NOON + HOUR)
    assert stats.sent == 0 and stats.skipped_holdout == 1


# --- caps, quiet hours, fatigue ----------------------------------------------------------------


def test_global_cap_spans_flows(settings):
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=True)
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    Event.objects.create(shopper=shopper, kind=EventKind.PURCHASE, value=Decimal("5"), created_at=NOON - timedelta(days=91))
    stats = run(NOON + HOUR)
    assert stats.sent == 1 and stats.deferred_cap == 1
    assert run(NOON + 25 * HOUR).sent == 1  # the other one goes the next day


def test_cap_setting_allows_more(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_CAP_COUNT": 3}
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    run(NOON + HOUR)
    assert run(NOON + 24 * HOUR).sent == 1
    assert len(sends(shopper, status="sent")) == 2


def test_quiet_hours_delay_and_do_not_drop():
    factories.cart_shopper([factories.product()], updated_at=NOON)
    night = datetime(2026, 6, 10, 22, 30, tzinfo=UTC)
    stats = run(night)
    assert stats.sent == 0 and stats.deferred_quiet == 1
    assert run(datetime(2026, 6, 11, 8, 0, tzinfo=UTC)).sent == 1


def test_the_command_says_until_when_quiet_hours_defer_and_can_ignore_them(capsys):
    factories.cart_shopper([factories.product()], updated_at=NOON)
    call_command("personalize_send_lifecycle_emails", "--now", "2026-06-10T22:30:00+00:00")
    out = capsys.readouterr().out
    assert "deferred_quiet=1" in out
    assert "1 deferred by quiet hours until 08:00 UTC (2026-06-11); use --ignore-quiet-hours to try it now." in out
    call_command("personalize_send_lifecycle_emails", "--now", "2026-06-10T22:31:00+00:00", "--ignore-quiet-hours")
    out = capsys.readouterr().out
    assert "sent=1" in out and "deferred by quiet hours" not in out


def test_quiet_hours_use_the_store_time_zone(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_TIME_ZONE": "America/New_York"}
    factories.cart_shopper([factories.product()], updated_at=NOON)
    # 02:30 UTC is 22:30 in New York: quiet there although it is night-time only in UTC terms.
    assert run(datetime(2026, 6, 11, 2, 30, tzinfo=UTC)).deferred_quiet == 1
    # 13:00 UTC is 09:00 in New York.
    assert run(datetime(2026, 6, 11, 13, 0, tzinfo=UTC)).sent == 1


def test_quiet_hours_use_the_shoppers_time_zone(monkeypatch):
    from personalize.adapters import DefaultAdapter

    monkeypatch.setattr(DefaultAdapter, "user_timezone", lambda self, user: "Asia/Tokyo")
    factories.cart_shopper([factories.product()], updated_at=NOON - 10 * HOUR)
    # 13:00 UTC is 22:00 in Tokyo.
    assert run(NOON + HOUR).deferred_quiet == 1


def test_offer_step_waits_for_cross_channel_fatigue_and_records_the_contact(monkeypatch):
    monkeypatch.setattr(lifecycle, "in_quiet_hours", lambda shopper, now: False)
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON - 100 * HOUR)
    Step.objects.filter(flow__slug=ABANDONED_SLUG, position__in=[1, 2]).update(active=False)
    Contact.objects.create(shopper=shopper, channel=Contact.Channel.ONSITE, source="banner")  # just now
    from django.utils import timezone

    now = timezone.now()
    assert run(now).deferred_fatigue == 1
    Contact.objects.all().delete()
    assert run(now).sent == 1
    assert Contact.objects.filter(shopper=shopper, channel="email", source=f"email:{ABANDONED_SLUG}").exists()


# --- robustness --------------------------------------------------------------------------------


def test_deleted_product_is_left_out_with_a_note():
    kept, gone = factories.product(name="Kept lamp"), factories.product(name="Gone chair")
    shopper = factories.cart_shopper([kept, gone], updated_at=NOON)
    gone_key = str(gone.pk)
    gone.delete()
    stats = run(NOON + HOUR)
    assert stats.sent == 1 and stats.missing_products == 1
    body = mail.outbox[0].body
    assert "Kept lamp" in body and "Gone chair" not in body
    assert "no longer available" in body
    [send] = sends(shopper)
    assert gone_key in send.error
    assert [line["product"] for line in send.lines] == [str(kept.pk)]


def test_broken_template_marks_its_step_and_other_flows_continue():
    other = Flow.objects.create(name="Second cart flow", slug="second", kind=Flow.Kind.ABANDONED_CART)
    Step.objects.create(flow=other, position=1, delay=HOUR, subject="Still there?", template="abandoned_cart")
    Step.objects.filter(flow__slug=ABANDONED_SLUG, position=1).update(template="does_not_exist")
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    stats = lifecycle.send_due(NOON + HOUR, limit=None)
    broken = Step.objects.get(flow__slug=ABANDONED_SLUG, position=1)
    assert broken.is_broken and "TemplateDoesNotExist" in broken.error
    assert stats.sent == 1 and mail.outbox[0].subject == "Still there?"
    # Nothing went out for the broken step: no claim is left that would block it once fixed.
    assert not EmailSend.objects.filter(step=broken).exists()
    Step.objects.filter(pk=broken.pk).update(template="abandoned_cart", is_broken=False, error="")
    assert run(NOON + 30 * HOUR).sent == 1
    assert EmailSend.objects.filter(step=broken, shopper=shopper, status="sent").exists()


def test_template_syntax_error_is_caught(tmp_path, settings):
    folder = tmp_path / "personalize" / "emails"
    folder.mkdir(parents=True)
    (folder / "bad.html").write_text("{% if %}")
    (folder / "bad.txt").write_text("fine")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    Step.objects.filter(flow__slug=ABANDONED_SLUG, position=1).update(template="bad")
    factories.cart_shopper([factories.product()], updated_at=NOON)
    stats = run(NOON + HOUR)
    assert stats.step_broken == 1 and stats.sent == 0
    assert "TemplateSyntaxError" in Step.objects.get(flow__slug=ABANDONED_SLUG, position=1).error


class FlakyBackend:
    """Fails the first ``failures`` sends, then delivers to the locmem outbox."""

    failures = 0

    def __init__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        self.inner = EmailBackend()

    def open(self):
        return True

    def close(self):
        return None

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise ConnectionError("SMTP server unavailable")
        return self.inner.send_messages(messages)


def test_failed_send_is_retried_with_backoff_then_marked_failed(settings):
    settings.EMAIL_BACKEND = "tests.test_lifecycle.FlakyBackend"
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_MAX_ATTEMPTS": 3, "EMAIL_RETRY_BACKOFF_MINUTES": 5}
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    FlakyBackend.failures = 1
    stats = run(NOON + HOUR)
    [send] = sends(shopper)
    assert stats.retried == 1 and send.status == "retry" and send.attempts == 1
    assert send.next_attempt_at == NOON + HOUR + timedelta(minutes=5)
    assert run(NOON + HOUR + timedelta(minutes=4)).sent == 0  # not before the backoff
    assert run(NOON + HOUR + timedelta(minutes=5)).sent == 1
    send.refresh_from_db()
    assert send.status == "sent" and send.attempts == 2 and len(mail.outbox) == 1

    other = factories.cart_shopper([factories.product()], updated_at=NOON + 2 * HOUR)
    FlakyBackend.failures = 10
    when = NOON + 3 * HOUR
    for minutes in (0, 5, 15):  # backoff doubles: 5, then 10 minutes
        run(when + timedelta(minutes=minutes))
    [failed] = sends(other)
    assert failed.status == "failed" and failed.attempts == 3 and "SMTP server unavailable" in failed.error
    FlakyBackend.failures = 0
    assert run(when + timedelta(hours=5)).sent == 0  # failed is final


def test_retry_is_dropped_when_the_shopper_bought_meanwhile(settings):
    settings.EMAIL_BACKEND = "tests.test_lifecycle.FlakyBackend"
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    FlakyBackend.failures = 1
    run(NOON + HOUR)
    Cart.objects.filter(shopper=shopper).update(lines=[], item_count=0, revision=2)
    run(NOON + 2 * HOUR)
    assert sends(shopper)[0].status == "skipped" and mail.outbox == []


def test_stale_claim_is_marked_failed_and_never_resent():
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    step = Step.objects.get(flow__slug=ABANDONED_SLUG, position=1)
    # A worker claimed the step and was killed before recording the outcome.
    EmailSend.objects.create(flow=step.flow, step=step, shopper=shopper, cycle="cart:1", status="claimed", created_at=NOON + HOUR)
    assert run(NOON + HOUR + timedelta(minutes=10)).sent == 0
    stats = run(NOON + 2 * HOUR)
    assert stats.interrupted == 1
    claim = EmailSend.objects.get(step=step, shopper=shopper)
    assert claim.status == "failed" and "not resent" in claim.error
    assert mail.outbox == []


def test_concurrent_claim_loses_gracefully(monkeypatch):
    """The claim row is the guard: a run that finds the row already there sends nothing."""
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    step = Step.objects.get(flow__slug=ABANDONED_SLUG, position=1)
    original = lifecycle.Runner.claim

    def racing_claim(self, candidates, products):
        # Another worker inserts the same claim between our scan and our claim.
        EmailSend.objects.create(flow=step.flow, step=step, shopper=shopper, cycle="cart:1", status="sent", created_at=NOON - 30 * HOUR)
        return original(self, candidates, products)

    monkeypatch.setattr(lifecycle.Runner, "claim", racing_claim)
    stats = run(NOON + HOUR)
    assert stats.already_claimed == 1 and stats.sent == 0 and mail.outbox == []


# --- win-back ----------------------------------------------------------------------------------


def test_win_back_once_after_n_days_without_purchase(settings):
    Flow.objects.filter(slug=ABANDONED_SLUG).update(active=False)
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=True)
    lapsed = factories.cart_shopper([], updated_at=NOON, user_obj=factories.user(first_name="Lina"))
    recent = factories.cart_shopper([], updated_at=NOON)
    Event.objects.create(shopper=lapsed, kind=EventKind.PURCHASE, value=Decimal("30"), created_at=NOON - timedelta(days=90, hours=1))
    Event.objects.create(shopper=recent, kind=EventKind.PURCHASE, value=Decimal("30"), created_at=NOON - timedelta(days=89))
    stats = run(NOON)
    assert stats.sent == 1
    message = mail.outbox[0]
    assert message.to == [lapsed.get_email()]
    assert "Lina" in message.body
    [send] = sends(lapsed)
    assert send.offer_code.startswith("MISSYOU-") and send.offer_code in message.body
    run(NOON + timedelta(days=3))
    assert len(sends(lapsed)) == 1  # one email per lapse


def test_win_back_skips_customers_who_came_back_or_lapsed_long_ago():
    Flow.objects.filter(slug=ABANDONED_SLUG).update(active=False)
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=True)
    returned = factories.cart_shopper([], updated_at=NOON)
    ancient = factories.cart_shopper([], updated_at=NOON)
    Event.objects.create(shopper=returned, kind=EventKind.PURCHASE, created_at=NOON - timedelta(days=95))
    Event.objects.create(shopper=returned, kind=EventKind.PURCHASE, created_at=NOON - timedelta(days=10))
    Event.objects.create(shopper=ancient, kind=EventKind.PURCHASE, created_at=NOON - timedelta(days=400))
    assert run(NOON).sent == 0


def test_win_back_includes_recommendations_when_the_recommender_answers(monkeypatch, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_RECOMMENDATIONS": 2}
    Flow.objects.filter(slug=ABANDONED_SLUG).update(active=False)
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=True)
    picks = [factories.product(name="Pick one"), factories.product(name="Pick two"), factories.product(name="Pick three")]
    from personalize.emails import rendering

    calls = []

    def fake_recommend_for(shopper, placement, *, limit, **kwargs):
        calls.append((placement, limit))
        return picks

    monkeypatch.setattr(rendering, "recommend_for", fake_recommend_for)
    shopper = factories.cart_shopper([], updated_at=NOON)
    Event.objects.create(shopper=shopper, kind=EventKind.PURCHASE, created_at=NOON - timedelta(days=91))
    run(NOON)
    html = mail.outbox[0].alternatives[0][0]
    assert "Pick one" in html and "Pick two" in html and "Pick three" not in html
    assert calls and calls[0][0] == "for_you"


def test_failing_recommender_does_not_block_the_email(monkeypatch, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_RECOMMENDATIONS": 2}
    import personalize.placements as placements

    def broken(*args, **kwargs):
        raise RuntimeError("model file missing")

    monkeypatch.setattr(placements, "recommend_for", broken)
    factories.cart_shopper([factories.product()], updated_at=NOON)
    assert run(NOON + HOUR).sent == 1


# --- the command and the task ------------------------------------------------------------------


def test_dry_run_lists_without_sending(capsys):
    shopper = factories.cart_shopper([factories.product()], updated_at=NOON)
    call_command("personalize_send_lifecycle_emails", "--dry-run", "--now", (NOON + HOUR).isoformat())
    out = capsys.readouterr().out
    assert f"would send {ABANDONED_SLUG} step 1 to {shopper.get_email()}" in out
    assert mail.outbox == [] and not EmailSend.objects.exists()


def test_command_sends_with_a_moved_clock(capsys):
    factories.cart_shopper([factories.product()], updated_at=NOON)
    call_command("personalize_send_lifecycle_emails", "--now", (NOON + HOUR).isoformat())
    assert "sent=1" in capsys.readouterr().out
    assert len(mail.outbox) == 1


def test_command_relative_clock(capsys):
    """``--now +3h`` reads the clock: a cart left a minute ago is due three hours from now
    (at any time of day: quiet hours are set aside, the cart is in the past)."""
    from django.utils import timezone

    factories.cart_shopper([factories.product()], updated_at=timezone.now() - timedelta(minutes=1))
    call_command("personalize_send_lifecycle_emails", "--now", "+3h", "--ignore-quiet-hours")
    assert len(mail.outbox) == 1
    call_command("personalize_send_lifecycle_emails", "--ignore-quiet-hours")  # now: not due yet
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("value", ["yesterday", "2026-13-45T99:00", "+3x"])
def test_command_rejects_a_bad_clock(value):
    with pytest.raises(CommandError, match="--now"):
        call_command("personalize_send_lifecycle_emails", "--now", value)


def test_task_runs_the_same_function():
    from personalize.emails.tasks import send_due

    factories.cart_shopper([factories.product()], updated_at=NOON)
    result = send_due.delay(now=(NOON + HOUR).isoformat()).get()
    assert result["sent"] == 1 and len(mail.outbox) == 1


def test_batches_cover_every_cart(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_BATCH_SIZE": 2}
    product = factories.product()
    shoppers = [factories.cart_shopper([product], updated_at=NOON) for _ in range(5)]
    stats = run(NOON + HOUR)
    assert stats.sent == 5 and stats.scanned == 5
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.get_email() for s in shoppers)


def test_limit_stops_the_run():
    product = factories.product()
    for _ in range(3):
        factories.cart_shopper([product], updated_at=NOON)
    assert lifecycle.send_due(NOON + HOUR, limit=2).sent == 2
    assert run(NOON + HOUR).sent == 1


# --- browse abandonment ------------------------------------------------------------------------


def _browse_flow():
    from personalize.emails.defaults import BROWSE_SLUG

    Flow.objects.exclude(slug=BROWSE_SLUG).update(active=False)
    Flow.objects.filter(slug=BROWSE_SLUG).update(active=True)


def _views(shopper, product, times, last):
    for i in range(times):
        Event.objects.create(shopper=shopper, kind=EventKind.VIEW, product_key=str(product.pk), created_at=last - i * timedelta(minutes=5))


def test_browse_abandonment_after_repeated_views_once_per_product():
    _browse_flow()
    lamp, sofa = factories.product(name="Brass lamp"), factories.product(name="Sofa")
    looker = factories.cart_shopper([], updated_at=NOON)
    _views(looker, lamp, 3, NOON)
    _views(looker, sofa, 1, NOON)
    glancer = factories.cart_shopper([], updated_at=NOON)
    _views(glancer, lamp, 2, NOON)
    assert run(NOON + HOUR).sent == 0  # 2 hours after the last view
    stats = run(NOON + 2 * HOUR)
    assert stats.sent == 1 and mail.outbox[0].to == [looker.get_email()]
    assert "Brass lamp" in mail.outbox[0].body and "Sofa" not in mail.outbox[0].body
    assert sends(looker)[0].cycle == f"browse:{lamp.pk}"
    _views(looker, lamp, 3, NOON + 3 * HOUR)
    assert run(NOON + 30 * HOUR).sent == 0  # once per product


def test_browse_abandonment_skips_products_added_to_the_cart_or_a_purchase():
    _browse_flow()
    lamp = factories.product()
    added = factories.cart_shopper([], updated_at=NOON)
    _views(added, lamp, 4, NOON)
    Event.objects.create(shopper=added, kind=EventKind.ADD_TO_CART, product_key=str(lamp.pk), created_at=NOON - timedelta(minutes=1))
    bought = factories.cart_shopper([], updated_at=NOON)
    _views(bought, lamp, 4, NOON)
    Event.objects.create(shopper=bought, kind=EventKind.PURCHASE, created_at=NOON + HOUR)
    in_cart = factories.cart_shopper([lamp], updated_at=NOON - timedelta(days=10))
    _views(in_cart, lamp, 4, NOON)
    assert run(NOON + 3 * HOUR).sent == 0


def test_browse_link_goes_to_the_product_without_touching_carts(client_ua):
    from personalize.emails import links

    _browse_flow()
    lamp = factories.product()
    shopper = factories.cart_shopper([], updated_at=NOON)
    _views(shopper, lamp, 3, NOON)
    run(NOON + 3 * HOUR)
    send = sends(shopper)[0]
    response = client_ua.get(links.restore_url(send.pk).replace("https://shop.example", ""))
    assert response.status_code == 302 and response["Location"] == lamp.get_absolute_url()
    assert not Cart.objects.exclude(shopper=shopper).exists()
