"""Suppressed addresses: erased people who asked not to be collected or mailed again.

Only a keyed hash is stored (HMAC-SHA256 with ``SECRET_KEY`` and its own salt), so the list
itself reveals no address; ``SECRET_KEY_FALLBACKS`` are tried too, so rotating the key keeps
old entries working until the fallback is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from personalize.models import EmailSuppression

SALT = "personalize.privacy.suppression"


def _normalise(address: str) -> str:
    return (address or "").strip().lower()


def digest(address: str, secret: str | bytes | None = None) -> str:
    # surrogatepass: a malformed address typed in the admin's search still hashes (to nothing stored).
    value = _normalise(address).encode("utf-8", "surrogatepass")
    return salted_hmac(SALT, value, secret=secret, algorithm="sha256").hexdigest()


def digests(address: str) -> list[str]:
    """The address's hash under the current key and every fallback key."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [digest(address, secret) for secret in secrets]


def suppress(addresses: Iterable[str]) -> int:
    """Add addresses to the list (idempotent); returns how many were new."""
    added = 0
    for address in {_normalise(a) for a in addresses if _normalise(a)}:
        if is_suppressed(address):
            continue
        try:
            with transaction.atomic():
                EmailSuppression.objects.create(digest=digest(address))
            added += 1
        except IntegrityError:  # a concurrent erasure added it
            pass
    return added


def is_suppressed(address: str) -> bool:
    if not _normalise(address):
        return False
    return EmailSuppression.objects.filter(digest__in=digests(address)).exists()


def suppressed_among(addresses: Iterable[str]) -> set[str]:
    """The normalised addresses of ``addresses`` that are suppressed (one query)."""
    by_digest: dict[str, str] = {}
    for address in {_normalise(a) for a in addresses if _normalise(a)}:
        for value in digests(address):
            by_digest[value] = address
    if not by_digest:
        return set()
    found = EmailSuppression.objects.filter(digest__in=list(by_digest)).values_list("digest", flat=True)
    return {by_digest[value] for value in found}


def lift(address: str) -> int:
    """Take an address off the list (the person subscribed again, in writing)."""
    deleted, _rows = EmailSuppression.objects.filter(digest__in=digests(address)).delete()
    return deleted
