"""Admin of lifecycle emails: flows and steps, sends (failures visible), the recovery report."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from personalize.emails import reporting
from personalize.emails.defaults import ABANDONED_SLUG
from personalize.models import EmailSend, Flow, Step
from personalize.models import Event
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin_user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin_user)
    return client


def make_sends():
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    first, last = flow.steps.get(position=1), flow.steps.get(position=3)
    now = timezone.now()
    rows = []
    for i in range(4):
        shopper = factories.cart_shopper([], updated_at=now)
        rows.append(
            EmailSend.objects.create(
                flow=flow, step=first, shopper=shopper, cycle="cart:1", status="sent", email=f"s{i}@example.com",
                sent_at=now - timedelta(days=1), clicked_at=now - timedelta(hours=20) if i < 2 else None,
                order_ref="O-1" if i == 0 else "", order_value=Decimal("80.00") if i == 0 else None,
                recovered_at=now - timedelta(hours=19) if i == 0 else None,
            )
        )
        if i == 0:  # the order the click led to: the report credits it by the one attribution rule
            Event.objects.create(shopper=shopper, kind="purchase", order_ref="O-1", value=Decimal("80.00"), created_at=now - timedelta(hours=19))
    shopper = factories.cart_shopper([], updated_at=now)
    EmailSend.objects.create(flow=flow, step=last, shopper=shopper, cycle="cart:1", status="failed", attempts=4, error="SMTP 554")
    return flow, first, last


def test_step_table_counts_sent_clicked_orders_revenue_and_failures():
    flow, first, last = make_sends()
    rows = {row["step_id"]: row for row in reporting.step_table(timezone.now() - timedelta(days=30))}
    assert (rows[first.pk]["sent"], rows[first.pk]["clicked"], rows[first.pk]["orders"]) == (4, 2, 1)
    assert rows[first.pk]["revenue"] == Decimal("80.00") and rows[first.pk]["click_rate"] == 50.0
    assert rows[last.pk]["failed"] == 1 and rows[last.pk]["sent"] == 0


def test_daily_series_over_time():
    make_sends()
    series = reporting.daily_series(7)
    assert len(series["labels"]) == 7
    assert sum(series["sent"]) == 4 and sum(series["clicked"]) == 2
    assert sum(series["orders"]) == 1 and sum(series["revenue"]) == 80.0


def test_report_page_renders_table_and_chart_data(staff_client):
    make_sends()
    response = staff_client.get(reverse("admin:personalize_flow_report") + "?days=7")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="email-report"' in html and "chart.umd.min.js" in html and "email_report.js" in html
    data = json.loads(html.split('id="email-report-data" type="application/json">')[1].split("</script>")[0])
    assert sum(data["sent"]) == 4 and sum(data["revenue"]) == 80.0
    assert "80.00" in html


def test_report_needs_permission(client):
    staff = get_user_model().objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:personalize_flow_report")).status_code == 403


def test_flow_pages_show_broken_steps_and_failures(staff_client):
    make_sends()
    Step.objects.filter(flow__slug=ABANDONED_SLUG, position=2).update(is_broken=True, error="TemplateSyntaxError: boom")
    flows = staff_client.get(reverse("admin:personalize_flow_changelist"))
    assert flows.status_code == 200 and b"Recovery report" in flows.content
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    change = staff_client.get(reverse("admin:personalize_flow_change", args=[flow.pk]))
    assert change.status_code == 200 and b"TemplateSyntaxError: boom" in change.content
    sends = staff_client.get(reverse("admin:personalize_emailsend_changelist") + "?status__exact=failed")
    assert sends.status_code == 200 and sends.context["cl"].result_count == 1


def test_clear_broken_action(staff_client):
    Step.objects.filter(flow__slug=ABANDONED_SLUG).update(is_broken=True, error="x")
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    staff_client.post(reverse("admin:personalize_flow_changelist"), {"action": "clear_broken", "_selected_action": [flow.pk]})
    assert not Step.objects.filter(flow=flow, is_broken=True).exists()


# --- system checks ---------------------------------------------------------------------------


def test_checks_flag_bad_email_settings(settings):
    from personalize.emails.checks import check_emails

    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "",
        "EMAIL_QUIET_HOURS": ("late", "8"),
        "EMAIL_RESTORE_CART_HOOK": "nowhere.hook",
        "EMAIL_TIME_ZONE": "Mars/Olympus",
    }
    ids = {message.id for message in check_emails()}
    assert ids == {"personalize.W040", "personalize.E040", "personalize.E041", "personalize.W041"}
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SITE_URL": "https://shop.example", "EMAIL_QUIET_HOURS": None, "EMAIL_RESTORE_CART_HOOK": None, "EMAIL_TIME_ZONE": None}
    assert check_emails() == []


def test_daily_series_shows_sends_dated_ahead_by_a_moved_clock():
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    shopper = factories.cart_shopper([], updated_at=timezone.now())
    ahead = timezone.now() + timedelta(days=3)
    EmailSend.objects.create(flow=flow, step=flow.steps.get(position=1), shopper=shopper, cycle="cart:1", status="sent", sent_at=ahead)
    series = reporting.daily_series(7)
    assert series["labels"][-1] == timezone.localdate(ahead).isoformat()
    assert sum(series["sent"]) == 1


def test_step_delays_are_a_number_and_a_unit_not_a_timedelta_string(staff_client):
    from personalize.admin.widgets import DurationField, describe_duration

    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    html = staff_client.get(reverse("admin:personalize_flow_change", args=[flow.pk])).content.decode()
    assert 'name="steps-0-delay_0"' in html and 'name="steps-0-delay_1"' in html
    assert "1 00:00:00" not in html and "1 day, 0:00:00" not in html
    field = DurationField()
    assert field.clean(["3", "days"]) == timedelta(days=3)
    assert field.widget.decompress(timedelta(hours=24)) == [1, "days"]
    assert describe_duration(timedelta(minutes=90)) == "90 minutes"
