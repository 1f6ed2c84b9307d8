"""Finding every profile of one person: by account, by email address or by shopper key.

A person may have several ``Shopper`` rows: the account's, browser profiles merged into it on
login, guest profiles that gave the same address at checkout. Export and erasure must reach all
of them, so they start from :func:`find_person`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q

from personalize.adapters import get_adapter
from personalize.models import EmailSend, Shopper, Unsubscribe


class PersonNotFound(LookupError):
    """The user, address or shopper key given names nobody (or is malformed)."""


@dataclass
class Person:
    """The profiles (``Shopper`` ids), addresses and accounts of one person."""

    shopper_ids: set[int] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    user_ids: set[Any] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return not (self.shopper_ids or self.emails)


def _storable(text: str) -> bool:
    """Whether PostgreSQL can hold ``text`` in a query (no NUL, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalise_email(address: str) -> str:
    return (address or "").strip().lower()


def resolve_user(value: Any) -> Any:
    """A user from an instance, a primary key or a username; :class:`PersonNotFound` otherwise."""
    User = get_user_model()
    if isinstance(value, User):
        return value
    text = str(value or "").strip()
    if not text or not _storable(text) or len(text) > 254:
        raise PersonNotFound(f"no user {text[:60]!r}")
    lookup = Q(**{User.USERNAME_FIELD: text})
    try:
        lookup |= Q(pk=User._meta.pk.to_python(text))
    except Exception:  # noqa: BLE001 - not a valid primary key for this user model: username only
        pass
    user = User._default_manager.filter(lookup).first()
    if user is None:
        raise PersonNotFound(f"no user {text!r}")
    return user


def resolve_shopper(value: Any) -> Shopper:
    """A shopper from an instance or its key (the UUID in its cookie)."""
    if isinstance(value, Shopper):
        return value
    try:
        key = uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        raise PersonNotFound(f"{str(value)[:60]!r} is not a shopper key") from None
    shopper = Shopper.objects.filter(key=key).first()
    if shopper is None:
        raise PersonNotFound(f"no shopper {key}")
    return shopper


def _users_with_email(address: str) -> list[Any]:
    User = get_user_model()
    email_field = User.get_email_field_name()
    return list(User._default_manager.filter(**{f"{email_field}__iexact": address}))


def _merge_group(ids: set[int]) -> set[int]:
    """``ids`` plus every profile merged into them and every profile they were merged into."""
    group = set(ids)
    frontier = set(ids)
    while frontier:
        rows = Shopper.objects.filter(Q(merged_into__in=frontier) | Q(pk__in=frontier)).values_list("pk", "merged_into")
        found = {pk for pk, _target in rows} | {target for _pk, target in rows if target}
        frontier = found - group
        group |= found
    return group


def find_person(*, user: Any = None, email: str = "", shopper: Any = None) -> Person:
    """Every profile of the person named by ``user``, ``email`` or ``shopper`` (any combination).

    Grows until nothing new turns up: an account brings its address, an address brings the guest
    profiles that gave it, a profile brings every profile merged with it. An unknown address is
    not an error (nothing is held; suppressing it still makes sense); an unknown user or key is.
    """
    if user is None and not normalise_email(email) and shopper is None:
        raise PersonNotFound("name a user, an email address or a shopper")
    if not _storable(email or "") or len(email or "") > 254:
        raise PersonNotFound(f"{str(email)[:60]!r} is not an email address")
    person = Person()
    if user is not None:
        person.user_ids.add(resolve_user(user).pk)
    if normalise_email(email):
        person.emails.add(normalise_email(email))
    if shopper is not None:
        person.shopper_ids.add(resolve_shopper(shopper).pk)
    for _round in range(MAX_ROUNDS):
        before = (len(person.shopper_ids), len(person.emails), len(person.user_ids))
        _grow(person)
        if before == (len(person.shopper_ids), len(person.emails), len(person.user_ids)):
            break
    person.emails.discard("")
    return person


# Each round follows one more link (account -> address -> guest profile -> merged profile).
MAX_ROUNDS = 6


def _grow(person: Person) -> None:
    adapter = get_adapter()
    User = get_user_model()
    for address in list(person.emails):
        person.user_ids |= {account.pk for account in _users_with_email(address)}
        person.shopper_ids |= set(Shopper.objects.filter(email__iexact=address).values_list("pk", flat=True))
        person.shopper_ids |= set(EmailSend.objects.filter(email__iexact=address).values_list("shopper_id", flat=True))
        person.shopper_ids |= set(
            Unsubscribe.objects.filter(email=address, shopper__isnull=False).values_list("shopper_id", flat=True)
        )
    if person.user_ids:
        person.shopper_ids |= set(Shopper.objects.filter(user__in=person.user_ids).values_list("pk", flat=True))
    person.shopper_ids = _merge_group(person.shopper_ids)
    for row_email, user_id in Shopper.objects.filter(pk__in=person.shopper_ids).values_list("email", "user_id"):
        person.emails.add(normalise_email(row_email))
        if user_id:
            person.user_ids.add(user_id)
    for account in User._default_manager.filter(pk__in=person.user_ids):
        person.emails.add(normalise_email(adapter.user_email(account)))
    person.emails.discard("")
