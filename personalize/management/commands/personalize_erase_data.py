"""Erase everything personalize holds about one person (GDPR art. 17), leaving an audit record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.management.people import add_person_arguments, person_from_options
from personalize.models import ErasureRecord
from personalize.privacy.erasure import count_person, erase_person


class Command(BaseCommand):
    help = (
        "Erase every profile, event, cart, code, email send, membership and assignment of a person; "
        "an erasure record (without personal data) remains."
    )

    def add_arguments(self, parser: Any) -> None:
        add_person_arguments(parser)
        parser.add_argument("--suppress", action="store_true", help="Never collect or mail these addresses again.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be erased.")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive", help="Do not ask to confirm.")

    def handle(self, *args: Any, suppress: bool, dry_run: bool, interactive: bool, **options: Any) -> None:
        person = person_from_options(options)
        counts = count_person(person)
        summary = ", ".join(f"{label.split('.')[-1]}: {n}" for label, n in sorted(counts.items())) or "nothing"
        self.stdout.write(f"{len(person.shopper_ids)} profile(s); {summary}")
        if dry_run:
            return
        if interactive:
            answer = input("Erase all of this? This cannot be undone. Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Erasure cancelled.")
        result = erase_person(person, source=ErasureRecord.Source.COMMAND, actor="manage.py", suppress=suppress)
        note = " Addresses suppressed." if result.suppressed else ""
        self.stdout.write(self.style.SUCCESS(f"Erased {result.total} row(s) (record {result.record.pk}).{note}"))
