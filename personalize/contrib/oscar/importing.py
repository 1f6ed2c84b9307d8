"""Past Oscar orders as personalize purchase events (``personalize_import_oscar_orders``).

Recommenders, "bought together", segments (RFM, lifetime value) and attribution then know the
store's history from day one. Orders already recorded (same order number) are skipped, so the
import can run again; imported events do not touch cart snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from oscar.core.loading import get_model

from personalize.adapters import get_adapter
from personalize.caching import shoppers as shopper_state
from personalize.events.schema import build_event
from personalize.models import Event, EventKind, Shopper


@dataclass
class OrderImportReport:
    orders: int = 0
    imported: int = 0
    already_recorded: int = 0
    without_products: int = 0
    shoppers_created: int = 0


def _shoppers(orders: list[Any], report: OrderImportReport) -> dict[int, Shopper]:
    """Order pk -> shopper: the account's profile, else one per guest email (made in bulk)."""
    user_ids = {o.user_id for o in orders if o.user_id}
    by_user = {s.user_id: s for s in Shopper.objects.filter(user_id__in=user_ids)}
    missing = [uid for uid in user_ids if uid not in by_user]
    if missing:
        Shopper.objects.bulk_create([Shopper(user_id=uid) for uid in missing])
        report.shoppers_created += len(missing)
        by_user.update({s.user_id: s for s in Shopper.objects.filter(user_id__in=missing)})
    emails = {o.guest_email.strip().lower() for o in orders if not o.user_id and o.guest_email}
    by_email: dict[str, Shopper] = {}
    for shopper in Shopper.objects.filter(user__isnull=True, email__in=emails).order_by("pk"):
        by_email.setdefault(shopper.email.lower(), shopper)
    new = [email for email in emails if email not in by_email]
    if new:
        Shopper.objects.bulk_create([Shopper(email=email) for email in new])
        report.shoppers_created += len(new)
        for shopper in Shopper.objects.filter(user__isnull=True, email__in=new).order_by("pk"):
            by_email.setdefault(shopper.email.lower(), shopper)
    found = {}
    for order in orders:
        if order.user_id:
            found[order.pk] = by_user[order.user_id]
        elif order.guest_email:
            found[order.pk] = by_email[order.guest_email.strip().lower()]
    return found


def _event(order: Any, shopper: Shopper) -> Event | None:
    adapter = get_adapter()
    lines = []
    for line in order.lines.all():
        if line.product is None:
            continue
        product = adapter.canonical(line.product)
        unit = line.unit_price_incl_tax if line.unit_price_incl_tax is not None else line.unit_price_excl_tax
        lines.append({"product": adapter.product_key(product), "quantity": line.quantity, "price": unit})
    if not lines:
        return None
    return build_event(
        shopper,
        EventKind.PURCHASE,
        lines=lines,
        value=Decimal(order.total_incl_tax),
        order_ref=str(order.number),
        context={"source": "import", "currency": order.currency},
        created_at=order.date_placed,
    )


def import_orders(
    *, since: datetime | None = None, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> OrderImportReport:
    """Record every Oscar order (placed since ``since``) not yet recorded as a purchase."""
    Order = get_model("order", "Order")
    orders = Order._default_manager.order_by("pk")
    if since is not None:
        orders = orders.filter(date_placed__gte=since)
    report = OrderImportReport()
    last_pk = 0
    while True:
        batch = list(
            orders.filter(pk__gt=last_pk).prefetch_related("lines__product__parent")[:batch_size]
        )
        if not batch:
            return report
        last_pk = batch[-1].pk
        _import_batch(batch, report)
        if progress is not None:
            progress(report.orders)


def _import_batch(batch: Iterable[Any], report: OrderImportReport) -> None:
    batch = list(batch)
    report.orders += len(batch)
    numbers = [str(o.number) for o in batch]
    recorded = set(
        Event.objects.filter(kind=EventKind.PURCHASE, order_ref__in=numbers).values_list("order_ref", flat=True)
    )
    todo = [o for o in batch if str(o.number) not in recorded and (o.user_id or o.guest_email)]
    report.already_recorded += sum(1 for o in batch if str(o.number) in recorded)
    with transaction.atomic():
        shoppers = _shoppers(todo, report)
        events = []
        for order in todo:
            event = _event(order, shoppers[order.pk])
            if event is None:
                report.without_products += 1
                continue
            events.append(event)
        Event.objects.bulk_create(events, batch_size=1000)
        pks = [shopper.pk for shopper in shoppers.values()]
        transaction.on_commit(lambda: shopper_state.bump(pks))  # no events_tracked for imported rows
    report.imported += len(events)
