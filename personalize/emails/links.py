"""Signed links in lifecycle emails: cart restore (expiring) and unsubscribe (lasting).

Tokens are ``django.core.signing`` payloads with their own salts, so a restore token cannot be
used as an unsubscribe token and the other way round. A restore token names one send; the view
rebuilds what that send showed, never anything else, so a tampered token gets nobody's cart.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf, reverse

from personalize import signing
from personalize.sites import absolute


def restore_token(send_id: int, shopper_key: Any) -> str:
    return signing.sign("email_restore", {"s": send_id, "k": str(shopper_key)})


def read_restore_token(token: str) -> dict[str, Any]:
    """The payload; raises ``signing.SignatureExpired`` / ``signing.BadSignature``."""
    payload = signing.unsign("email_restore", token)
    if not isinstance(payload.get("s"), int) or not isinstance(payload.get("k"), str):
        raise signing.BadSignature("malformed payload")
    return payload


def unsubscribe_token(shopper_key: Any, email: str) -> str:
    return signing.sign("email_unsubscribe", {"k": str(shopper_key), "e": email})


def read_unsubscribe_token(token: str) -> dict[str, Any]:
    payload = signing.unsign("email_unsubscribe", token)
    if not isinstance(payload.get("k"), str) or not isinstance(payload.get("e"), str):
        raise signing.BadSignature("malformed payload")
    return payload


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


def restore_url(send_id: int, shopper_key: Any, base: str | None = None) -> str:
    return absolute(_link("personalize:email_restore", restore_token(send_id, shopper_key)), base)


def unsubscribe_url(shopper_key: Any, email: str, base: str | None = None) -> str:
    return absolute(_link("personalize:email_unsubscribe", unsubscribe_token(shopper_key, email)), base)
