"""Refresh materialised segment memberships now (what the beat job does every 15 minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.models import Segment
from personalize.segments.materialise import refresh_segments


class Command(BaseCommand):
    help = "Refresh the memberships of materialised segments (all active ones, or the given slugs)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slugs", nargs="*", help="Segment slugs (default: every active materialised segment).")
        parser.add_argument("--batch-size", type=int, default=None, help="Shoppers per batch.")

    def handle(self, *args: Any, slugs: list[str], batch_size: int | None, **options: Any) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be a positive number.")
        if slugs:
            known = dict(Segment.objects.filter(slug__in=slugs).values_list("slug", "mode"))
            unknown = sorted(set(slugs) - set(known))
            if unknown:
                raise CommandError(f"Unknown segment(s): {', '.join(unknown)}")
            live = sorted(slug for slug, mode in known.items() if mode != Segment.Mode.MATERIALISED)
            if live:
                raise CommandError(f"Not materialised (evaluated per request): {', '.join(live)}")
        results = refresh_segments(slugs or None, batch_size=batch_size)
        for result in results:
            if result.refreshed:
                self.stdout.write(f"{result.slug}: {result.members} members (+{result.added} -{result.removed})")
            else:
                self.stdout.write(f"{result.slug}: skipped (another refresh is running, or it failed)")
        if not results:
            self.stdout.write("No active materialised segments.")
