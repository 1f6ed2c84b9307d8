"""Identity: who is shopping (a signed cookie until login, the account after it), and what their
browser is. ``request.shopper`` is set by :class:`personalize.middleware.PersonalizeMiddleware`."""

from personalize.identity.agent import detect_country, detect_device, is_bot
from personalize.identity.consent import has_consent, set_consent
from personalize.identity.merge import attach_user, merge_shoppers
from personalize.identity.resolution import (
    created_now,
    ensure_shopper,
    get_shopper,
    is_deferred,
    is_new,
    read_cookie_key,
    set_cookie,
    shopper_for,
    touch,
)

__all__ = [
    "attach_user",
    "created_now",
    "detect_country",
    "detect_device",
    "ensure_shopper",
    "get_shopper",
    "has_consent",
    "is_bot",
    "is_deferred",
    "is_new",
    "merge_shoppers",
    "read_cookie_key",
    "set_consent",
    "set_cookie",
    "shopper_for",
    "touch",
]
