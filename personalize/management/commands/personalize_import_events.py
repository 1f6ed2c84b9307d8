"""``manage.py personalize_import_events FILE.csv [--strict]``: load historical interactions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from personalize.events.importing import BadHeader, ImportFailed, import_events


class Command(BaseCommand):
    help = (
        "Import interactions from CSV (columns shopper,product,kind,timestamp[,value,quantity]); "
        "shopper is your customer key, product your product key."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="CSV file (UTF-8, header row), or - for standard input.")
        parser.add_argument("--strict", action="store_true", help="Any bad row or unknown product fails the import; nothing is written.")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        import sys

        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        path = options["file"]
        try:
            handle = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot open {path}: {exc.strerror or exc}") from exc
        bar = None if options["no_progress"] else tqdm(desc="rows", unit=" rows", file=self.stderr._out, leave=False)

        def progress(rows: int) -> None:
            if bar is not None:
                bar.update(rows - bar.n)

        try:
            report = import_events(handle, strict=options["strict"], batch_size=options["batch_size"], progress=progress)
        except BadHeader as exc:
            raise CommandError(f"{path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        except ImportFailed as exc:
            self._problems(exc.report)
            raise CommandError(
                f"{exc.report.skipped} bad row(s) ({exc.report.unknown_products} unknown product(s)) "
                f"in {exc.report.rows} row(s): nothing imported (--strict)."
            ) from exc
        finally:
            if bar is not None:
                bar.close()
            if handle is not sys.stdin:
                handle.close()
        self._problems(report)
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.imported} event(s) imported from {report.rows} row(s); {report.skipped} skipped "
                f"({report.unknown_products} unknown product(s)); {report.shoppers_created} new shopper(s)."
            )
        )

    def _problems(self, report: Any) -> None:
        for line, message in report.problems:
            self.stderr.write(f"line {line}: {message}")
        if report.skipped > len(report.problems):
            self.stderr.write(f"... and {report.skipped - len(report.problems)} more.")
