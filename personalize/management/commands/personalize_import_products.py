"""``manage.py personalize_import_products products.csv|products.json [--strict] [--dry-run]``.

Creates or updates the store's products through the adapter (see
:mod:`personalize.recommenders.products_import` for the columns and the adapter hook).
Exits non-zero, listing the rows, when a row is rejected.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.recommenders.products_import import import_products, read_rows


class Command(BaseCommand):
    help = "Import products (CSV with a 'key' column, or JSON objects) into the store's product model."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="A .csv or .json file.")
        parser.add_argument("--strict", action="store_true", help="Save nothing when any row is rejected.")
        parser.add_argument("--dry-run", action="store_true", help="Validate every row, save nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        try:
            with open(path, "rb") as handle:
                rows = read_rows(path, handle.read())
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        report = import_products(rows, strict=options["strict"], dry_run=options["dry_run"])
        saved = "nothing saved (dry run)" if options["dry_run"] else (
            "nothing saved (--strict)" if options["strict"] and report.errors else "saved"
        )
        self.stdout.write(f"{report.created} product(s) created, {report.updated} updated, {len(report.errors)} rejected; {saved}.")
        if report.errors:
            for number, why in report.errors[:20]:
                self.stderr.write(f"row {number}: {why}")
            more = " (first 20 shown)" if len(report.errors) > 20 else ""
            raise CommandError(f"{len(report.errors)} row(s) rejected{more}.")
