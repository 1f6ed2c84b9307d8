"""``manage.py personalize_send_lifecycle_emails [--dry-run] [--now ISO] [--limit N] [--ignore-quiet-hours]``.

Runs what the beat task ``personalize.emails.send_due`` runs. ``--now`` moves the clock (for a
demo or to replay a run): "2026-11-23T10:00", "+26h" / "+3d" (from now) are accepted. Emails due
inside the quiet hours wait; the command says how many and until when, and
``--ignore-quiet-hours`` sends them now.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from personalize.emails.sending import send_due

RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_now(value: str) -> datetime:
    value = value.strip()
    match = RELATIVE.match(value)
    if match:
        return timezone.now() + timedelta(**{UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = parse_datetime(value)
    except ValueError:
        when = None
    if when is None:
        raise CommandError(f"--now: {value!r} is not an ISO date-time (2026-11-23T10:00) nor an offset (+26h, +3d).")
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


class Command(BaseCommand):
    help = "Send the lifecycle emails (abandoned cart, win-back) that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show what would be sent; send and record nothing.")
        parser.add_argument("--now", help="Pretend it is this time: ISO date-time, or +26h / +3d from now (demo).")
        parser.add_argument("--limit", type=int, help="Send at most this many emails.")
        parser.add_argument(
            "--ignore-quiet-hours",
            action="store_true",
            help="Send now even inside EMAIL_QUIET_HOURS (21:00-08:00 in the shopper's time zone by default).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_now(options["now"]) if options.get("now") else None
        limit = options.get("limit")
        if limit is not None and limit < 0:
            raise CommandError("--limit must be 0 or more.")
        stats = send_due(now, dry_run=options["dry_run"], limit=limit, ignore_quiet_hours=options["ignore_quiet_hours"])
        if options["dry_run"]:
            for item in stats.planned:
                self.stdout.write(
                    f"would send {item['flow']} step {item['step']} to {item['email']} ({item['language']}, {item['cycle']})"
                )
        summary = ", ".join(f"{key}={value}" for key, value in stats.as_dict().items() if value)
        self.stdout.write(self.style.SUCCESS(summary or "nothing due"))
        if stats.deferred_quiet and stats.quiet_until is not None:
            until = stats.quiet_until
            self.stdout.write(
                f"{stats.deferred_quiet} deferred by quiet hours until {until:%H:%M} {until.tzname()} "
                f"({until:%Y-%m-%d}); use --ignore-quiet-hours to try it now."
            )
