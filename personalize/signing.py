"""Every signed token personalize hands out, in one place: each kind has its own salt and max age.

A token of one kind never verifies as another (the salts differ), expired tokens raise
``django.core.signing.SignatureExpired`` and anything else not genuine raises
``django.core.signing.BadSignature``; :func:`unsign` also rejects payloads of the wrong shape
(a validly signed string where a dict was expected), so views answer 400, never 500.
A new token kind is one entry in :data:`KINDS`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.signals import setting_changed

from personalize.conf import personalize_settings as ps

BadSignature = signing.BadSignature
SignatureExpired = signing.SignatureExpired


@dataclass(frozen=True)
class TokenKind:
    salt: Callable[[], str]
    max_age_seconds: Callable[[], float | None]
    shape: type | tuple[type, ...] = object
    # A list payload: exactly these element types, in order (``bool`` never passes as ``int``).
    items: tuple[type, ...] | None = None


def _is(value: Any, types: type | tuple[type, ...]) -> bool:
    allowed = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in allowed and object not in allowed:
        return False
    return isinstance(value, allowed)


DAY = 86400

KINDS: dict[str, TokenKind] = {
    # The shopper cookie (set with HttpResponse.set_signed_cookie, same salt and age).
    "shopper": TokenKind(lambda: ps.COOKIE_SALT, lambda: ps.COOKIE_AGE_SECONDS, str),
    # A click on a recommended product: placement, model version, variant, product.
    "rec_click": TokenKind(lambda: ps.REC_CLICK_SALT, lambda: ps.REC_CLICK_MAX_AGE_SECONDS, dict),
    # A click on campaign content: [campaign id, arm, link].
    "campaign_click": TokenKind(
        lambda: "personalize.campaign.click", lambda: ps.CAMPAIGN_CLICK_MAX_AGE_DAYS * DAY, list, (int, str, str)
    ),
    # A campaign's "get your code" link: [campaign id, arm]; as long-lived as a click link.
    "campaign_code": TokenKind(
        lambda: "personalize.campaign.code", lambda: ps.CAMPAIGN_CLICK_MAX_AGE_DAYS * DAY, list, (int, str)
    ),
    # A deferred campaign (exit intent) shown by the browser: [campaign id, arm]; a day is plenty.
    "campaign_seen": TokenKind(lambda: "personalize.campaign.seen", lambda: DAY, list, (int, str)),
    # A {% personalize_fragment %} placeholder: {"w": widget, "a": arguments}. Pages carrying
    # it may sit in a CDN for a while: valid for 30 days.
    "fragment": TokenKind(lambda: "personalize.fragment", lambda: 30 * DAY, dict),
    # An email's cart-restore link: the send id (expires).
    "email_restore": TokenKind(
        lambda: "personalize.emails.restore", lambda: ps.EMAIL_LINK_MAX_AGE_DAYS * DAY, (int, dict)
    ),
    # An email's unsubscribe link: lasting (RFC 8058 asks for links that keep working).
    # Both carry only the send's id (an int): no shopper key or address in URLs and access logs.
    # A dict is a link sent before that ({"s", "k"} / {"k", "e"}), still read (emails.links).
    "email_unsubscribe": TokenKind(lambda: "personalize.emails.unsubscribe", lambda: None, (int, dict)),
}


def salt(kind: str) -> str:
    return KINDS[kind].salt()


def max_age(kind: str) -> float | None:
    return KINDS[kind].max_age_seconds()


def sign(kind: str, value: Any) -> str:
    """A URL-safe signed token of ``kind`` carrying ``value`` (JSON-serialisable)."""
    return signing.dumps(value, salt=salt(kind), compress=True)


# Signing costs ~0.1-0.3 ms and a page signs every link it shows. A token whose value is the
# same for everyone (no shopper in it: a recommended product's click, a campaign's links) is
# reused by the process for reuse_seconds(kind): its timestamp is then that much older, far
# inside the kind's max age. HTML carrying such tokens may be held as long (widgets.render).
REUSE_SECONDS = 60.0
REUSE_MAX_ENTRIES = 4096
_reused: dict[tuple[str, str], tuple[float, str]] = {}


def reuse_seconds(kind: str) -> float:
    """How long a shared token of ``kind`` (or HTML carrying one) may be reused."""
    age = max_age(kind)
    return REUSE_SECONDS if age is None else min(REUSE_SECONDS, float(age) / 10)


def sign_shared(kind: str, value: Any) -> str:
    """:func:`sign` for a value that names no shopper, reused for :func:`reuse_seconds`."""
    memo_key = (kind, json.dumps(value, sort_keys=True))
    now = time.monotonic()
    held = _reused.get(memo_key)
    if held is not None and held[0] > now:
        return held[1]
    token = sign(kind, value)
    if len(_reused) >= REUSE_MAX_ENTRIES:
        _reused.clear()
    _reused[memo_key] = (now + reuse_seconds(kind), token)
    return token


def _forget_reused(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "PERSONALIZE"):
        _reused.clear()


setting_changed.connect(_forget_reused)


def unsign(kind: str, token: str) -> Any:
    """The value of a genuine, unexpired token of ``kind`` with the kind's shape.

    Raises :class:`SignatureExpired` or :class:`BadSignature` (malformed, tampered, another
    kind's token, or a payload of the wrong type).
    """
    try:
        value = signing.loads(str(token), salt=salt(kind), max_age=max_age(kind))
    except SignatureExpired:
        raise
    except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise BadSignature(str(exc)) from exc
    spec = KINDS[kind]
    if not _is(value, spec.shape):
        raise BadSignature(f"malformed {kind} payload")
    if spec.items is not None and (len(value) != len(spec.items) or not all(map(_is, value, spec.items))):
        raise BadSignature(f"malformed {kind} payload")
    return value
