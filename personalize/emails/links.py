"""Signed links in lifecycle emails: cart restore (expiring) and unsubscribe (lasting).

Tokens are signed (``personalize.signing``) with their own salts, so a restore token cannot be
used as an unsubscribe token and the other way round. Both carry only the send's id: no shopper
key and no address appears in a URL (access logs, proxies, analytics). A restore token names one
send; the view rebuilds what that send showed, never anything else.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf, reverse

from personalize import signing
from personalize.events.schema import bad_string
from personalize.sites import absolute

MAX_SEND_ID = 2**63 - 1  # the largest id a bigint column holds
MAX_EMAIL = 254


def restore_token(send_id: int) -> str:
    """An opaque signed token naming one send (no shopper key, no address: URLs end up in logs)."""
    return signing.sign("email_restore", int(send_id))


def _send_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEND_ID:
        raise signing.BadSignature("malformed payload")
    return value


def _shopper_key(value: Any) -> str:
    """A legacy link's shopper key: a UUID (anything else reached a UUID lookup: 500)."""
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise signing.BadSignature("malformed payload") from None


def _email(value: Any) -> str:
    """A legacy link's address, as the database can store it (no NUL or lone surrogate)."""
    if not isinstance(value, str) or not value or len(value) > MAX_EMAIL or bad_string(value):
        raise signing.BadSignature("malformed payload")
    return value


def read_restore_token(token: str) -> dict[str, Any]:
    """``{"s": send id}`` (and ``"k"``, the shopper key, for a link sent before tokens were
    opaque); raises ``signing.SignatureExpired`` / ``signing.BadSignature``."""
    payload = signing.unsign("email_restore", token)
    if isinstance(payload, dict):  # a legacy link: {"s": send id, "k": shopper key}
        return {"s": _send_id(payload.get("s")), "k": _shopper_key(payload.get("k"))}
    return {"s": _send_id(payload)}


def unsubscribe_token(send_id: int) -> str:
    """An opaque signed token naming the send whose address unsubscribes (never expires)."""
    return signing.sign("email_unsubscribe", int(send_id))


def read_unsubscribe_token(token: str) -> dict[str, Any]:
    """``{"s": send id}``, or ``{"k", "e"}`` (shopper key, address) for a legacy link."""
    payload = signing.unsign("email_unsubscribe", token)
    if isinstance(payload, dict):
        return {"k": _shopper_key(payload.get("k")), "e": _email(payload.get("e"))}
    return {"s": _send_id(payload)}


# reverse() once per URL name (a run builds two links per email): the pattern with a marker.
_MARK = "PERSONALIZE-TOKEN"
_patterns: dict[tuple[str, Any, str], str] = {}


def _link(name: str, token: str) -> str:
    key = (name, get_urlconf(), get_script_prefix())
    pattern = _patterns.get(key)
    if pattern is None:
        pattern = _patterns[key] = reverse(name, args=[_MARK])
    return pattern.replace(_MARK, token)


def _forget_patterns(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        _patterns.clear()


setting_changed.connect(_forget_patterns, dispatch_uid="personalize.emails.links")


def restore_url(send_id: int, base: str | None = None) -> str:
    return absolute(_link("personalize:email_restore", restore_token(send_id)), base)


def unsubscribe_url(send_id: int, base: str | None = None) -> str:
    return absolute(_link("personalize:email_unsubscribe", unsubscribe_token(send_id)), base)
