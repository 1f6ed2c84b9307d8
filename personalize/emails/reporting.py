"""Numbers for the admin: per flow and step, and per day (sent, clicked, recovered)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from personalize import attribution
from personalize.models import EmailSend

S = EmailSend.Status
MAX_AHEAD_DAYS = 14


def email_credits(since: Any) -> list[attribution.Credit]:
    """The orders since ``since`` credited to an email step (the one attribution rule)."""
    return [c for c in attribution.credits(attribution.in_period(since)).values() if attribution.step_of(c) is not None]


def step_table(since: Any, found: list[attribution.Credit] | None = None) -> list[dict[str, Any]]:
    """One row per flow and step: sent, clicked, recovered orders and revenue, failures, skips.

    ``found``: :func:`email_credits` of the same period, when the caller already has them."""
    rows = (
        EmailSend.objects.filter(created_at__gte=since)
        .values("flow_id", "flow__name", "step_id", "step__position", "step__is_broken")
        .annotate(
            sent=Count("id", filter=Q(status=S.SENT)),
            clicked=Count("id", filter=Q(status=S.SENT, clicked_at__isnull=False)),
            failed=Count("id", filter=Q(status=S.FAILED)),
            pending=Count("id", filter=Q(status__in=[S.RETRY, S.CLAIMED])),
            skipped=Count("id", filter=Q(status=S.SKIPPED)),
        )
        .order_by("flow__name", "step__position")
    )
    # Orders and revenue come from the one attribution rule (a code redeemed from a campaign, or
    # a later click elsewhere, takes the order away from the email; an emailed code brings it).
    credited = attribution.totals(found if found is not None else email_credits(since), attribution.step_of)
    table = []
    for row in rows:
        row["orders"] = credited.get(row["step_id"], {}).get("orders", 0)
        row["revenue"] = credited.get(row["step_id"], {}).get("revenue", Decimal("0"))
        row["click_rate"] = (100.0 * row["clicked"] / row["sent"]) if row["sent"] else None
        row["conversion_rate"] = (100.0 * row["orders"] / row["sent"]) if row["sent"] else None
        table.append(row)
    return table


def daily_series(days: int, now: Any = None, found: list[attribution.Credit] | None = None) -> dict[str, list]:
    """Per day over the last ``days``: emails sent, links clicked, and the orders and revenue
    credited to an email (the one attribution rule, as in :func:`step_table`: an order a link led
    to but that redeemed a campaign's code, or followed a later click elsewhere, is not the email's)."""
    now = now or timezone.now()
    start = timezone.localdate(now) - timedelta(days=days - 1)
    since = now - timedelta(days=days)
    # Runs with a moved clock (the command's --now, in a demo) date sends ahead of today: show them.
    latest = EmailSend.objects.filter(status=S.SENT, sent_at__gt=now).aggregate(latest=Max("sent_at"))["latest"]
    end = timezone.localdate(min(latest, now + timedelta(days=MAX_AHEAD_DAYS))) if latest else timezone.localdate(now)
    days = (end - start).days + 1
    labels = [start + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(labels)}
    sent, clicked, orders = [0] * days, [0] * days, [0] * days
    revenue = [0.0] * days

    def fill(field: str, target: list) -> None:
        qs = EmailSend.objects.filter(status=S.SENT, **{f"{field}__gte": since})
        for row in qs.annotate(day=TruncDate(field)).values("day").annotate(n=Count("id")).order_by():
            day: date = row["day"]
            if day in index:
                target[index[day]] += row["n"]

    fill("sent_at", sent)
    fill("clicked_at", clicked)
    for credit in found if found is not None else email_credits(since):
        day = timezone.localdate(credit.purchased_at)
        if day in index:
            orders[index[day]] += 1
            revenue[index[day]] += float(credit.value)
    return {
        "labels": [d.isoformat() for d in labels],
        "sent": sent,
        "clicked": clicked,
        "orders": orders,
        "revenue": [round(v, 2) for v in revenue],
    }
