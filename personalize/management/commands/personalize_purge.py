"""Delete what is older than the retention settings (what the daily beat job does)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.privacy.retention import purge


class Command(BaseCommand):
    help = "Delete events older than EVENT_RETENTION_DAYS and anonymous profiles idle for ANONYMOUS_PROFILE_RETENTION_DAYS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per delete statement.")

    def handle(self, *args: Any, batch_size: int | None, **options: Any) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be a positive number.")
        counts = purge(batch_size=batch_size)
        if not counts:
            self.stdout.write("Nothing is older than the retention periods.")
        for label, n in counts.items():
            self.stdout.write(f"{label}: {n} deleted")
