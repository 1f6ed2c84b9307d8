"""Export everything personalize holds about one person as one JSON document (GDPR art. 15/20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from personalize.management.people import add_person_arguments, person_from_options
from personalize.privacy.exporting import export_person, to_json


class Command(BaseCommand):
    help = "Write one JSON document of everything personalize holds about a person (all their profiles)."

    def add_arguments(self, parser: Any) -> None:
        add_person_arguments(parser)
        parser.add_argument("--output", "-o", default="", help="Write to this file instead of stdout.")

    def handle(self, *args: Any, output: str, **options: Any) -> None:
        person = person_from_options(options)
        text = to_json(export_person(person))
        if not output:
            self.stdout.write(text)
            return
        try:
            Path(output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from None
        self.stderr.write(f"Wrote {len(person.shopper_ids)} profile(s) to {output}")
