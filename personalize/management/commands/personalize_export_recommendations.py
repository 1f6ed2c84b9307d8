"""``manage.py personalize_export_recommendations --placement for_you --limit 10 [--output FILE]``.

``--key external`` keys the lists by the shopper ids that were imported (``--shoppers`` /
``--shoppers-file`` to export some of them only). Exits non-zero, saying why, when the
placement's trained model cannot be loaded in this process (the lists would otherwise be
the fallback's).
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from personalize.conf import personalize_settings as ps
from personalize.placements import UnknownPlacement, get_placement
from personalize.placements.exporting import KEY_FIELDS, export_recommendations
from personalize.recommenders import get_recommender
from personalize.recommenders.loading import load_problem


class Command(BaseCommand):
    help = "Write every shopper's current recommendations as JSON {shopper_key: [product keys, best first]}."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--placement", default="for_you")
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument("--seen-within-days", type=int, help="Only shoppers seen in the last N days.")
        parser.add_argument(
            "--key", choices=sorted(KEY_FIELDS), default="cookie",
            help="Key the lists by the shopper's cookie key (default), the id it was imported with (external) or its primary key (id).",
        )
        parser.add_argument("--shoppers", help="Comma-separated shopper keys (in the --key space) to export; default: all.")
        parser.add_argument("--shoppers-file", help="File with one shopper key per line (in the --key space).")
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
            config = get_placement(options["placement"])
        except UnknownPlacement as exc:
            raise CommandError(f"--placement: {exc}") from exc
        problem = load_problem(config.recommender)
        if problem:
            raise CommandError(
                f"{problem}. The export would serve the fallback lists instead: run it where training saved "
                "the model (ARTEFACT_STORAGE / ARTEFACT_DIR) or retrain."
            )
        if not get_recommender(config.recommender).ready():
            self.stderr.write(f"Note: recommender “{config.recommender}” has no active model yet: lists come from its fallbacks.")
        shoppers = self._shoppers(options)
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
                out, placement=options["placement"], limit=limit, seen_since=seen_since, key=options["key"],
                shoppers=shoppers, progress=progress,
            )
        finally:
            if bar is not None:
                bar.close()
            if partial:
                out.close()
        if partial:
            os.replace(partial, path)  # readers never see a half-written file
            self.stderr.write(self.style.SUCCESS(f"{count} shopper(s) written to {path}."))
        if shoppers is not None and count < len(set(shoppers)):
            self.stderr.write(f"{len(set(shoppers)) - count} of the listed shopper key(s) are unknown (--key {options['key']}).")

    def _shoppers(self, options: dict[str, Any]) -> list[str] | None:
        keys: list[str] = []
        if options["shoppers"]:
            keys += [k.strip() for k in options["shoppers"].split(",") if k.strip()]
        if options["shoppers_file"]:
            try:
                with open(options["shoppers_file"], encoding="utf-8") as handle:
                    keys += [line.strip() for line in handle if line.strip()]
            except OSError as exc:
                raise CommandError(f"Cannot read {options['shoppers_file']}: {exc.strerror or exc}") from exc
        if not (options["shoppers"] or options["shoppers_file"]):
            return None
        if not keys:
            raise CommandError("--shoppers / --shoppers-file name no shopper.")
        if options["key"] == "cookie":
            bad = [k for k in keys if not _is_uuid(k)]
            if bad:
                raise CommandError(f"Not a cookie key (UUID): {bad[0]!r}; use --key external for imported ids.")
        return keys


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
