"""The ``--email/--user/--shopper`` arguments shared by the privacy commands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email

from personalize.privacy.people import Person, PersonNotFound, find_person


def add_person_arguments(parser: Any) -> None:
    parser.add_argument("--email", default="", help="An email address (accounts and guest profiles with it).")
    parser.add_argument("--user", default=None, help="A user's primary key or username.")
    parser.add_argument("--shopper", default=None, help="A shopper key (the UUID in the personalize cookie).")


def person_from_options(options: dict[str, Any]) -> Person:
    email, user, shopper = options.get("email") or "", options.get("user"), options.get("shopper")
    if not (email.strip() or user or shopper):
        raise CommandError("Name the person: --email, --user or --shopper.")
    if email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            raise CommandError(f"{email[:80]!r} is not an email address.") from None
    try:
        return find_person(user=user, email=email, shopper=shopper)
    except PersonNotFound as exc:
        raise CommandError(str(exc).capitalize() + ".") from None
