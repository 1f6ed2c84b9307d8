"""``manage.py personalize_export_recommendations --placement for_you --limit 10 [--output FILE]``."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from personalize.conf import personalize_settings as ps
from personalize.placements import UnknownPlacement, get_placement
from personalize.placements.exporting import export_recommendations


class Command(BaseCommand):
    help = "Write every shopper's current recommendations as JSON {shopper_key: [product keys, best first]}."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--placement", default="for_you")
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument("--seen-within-days", type=int, help="Only shoppers seen in the last N days.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["limit"]
        if not 1 <= limit <= ps.WIDGET_MAX_LIMIT:
            raise CommandError(f"--limit must be between 1 and {ps.WIDGET_MAX_LIMIT}.")
        days = options["seen_within_days"]
        if days is not None and days < 1:
            raise CommandError("--seen-within-days must be at least 1.")
        seen_since = timezone.now() - timedelta(days=days) if days else None
        path = options["output"]
        try:
            get_placement(options["placement"])
        except UnknownPlacement as exc:
            raise CommandError(f"--placement: {exc}") from exc
        partial = f"{path}.partial" if path else None
        try:
            out = open(partial, "w", encoding="utf-8") if partial else self.stdout._out
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        bar = None if options["no_progress"] or not path else tqdm(desc="shoppers", file=sys.stderr, leave=False)

        def progress(count: int) -> None:
            if bar is not None:
                bar.update(count - bar.n)

        try:
            count = export_recommendations(
                out, placement=options["placement"], limit=limit, seen_since=seen_since, progress=progress
            )
        finally:
            if bar is not None:
                bar.close()
            if partial:
                out.close()
        if partial:
            os.replace(partial, path)  # readers never see a half-written file
            self.stderr.write(self.style.SUCCESS(f"{count} shopper(s) written to {path}."))
