"""``manage.py personalize_import_oscar_orders [--since YYYY-MM-DD]``: past Oscar orders as
purchase events (runs again safely: recorded orders are skipped)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.contrib.oscar.importing import import_orders
from personalize.events.importing import parse_timestamp


class Command(BaseCommand):
    help = "Record past django-oscar orders as personalize purchase events."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", help="Only orders placed on or after this date (ISO date or date-time).")
        parser.add_argument("--batch-size", type=int, default=500, help="Orders read per query (default 500).")

    def handle(self, *args: Any, since: str | None = None, batch_size: int = 500, **options: Any) -> None:
        when = None
        if since:
            try:
                when = parse_timestamp(since)
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from exc
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = import_orders(since=when, batch_size=batch_size)
        self.stdout.write(
            f"{report.orders} order(s) read: {report.imported} imported, {report.already_recorded} already recorded, "
            f"{report.without_products} without products; {report.shoppers_created} shopper(s) created."
        )
