"""Receivers personalize connects in ``AppConfig.ready``."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from personalize import identity

logger = logging.getLogger("personalize")


@receiver(user_logged_in, dispatch_uid="personalize.merge_on_login")
def merge_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """History made before login follows the shopper into the account."""
    if request is None:
        return
    try:
        identity.attach_user(request, user)
    except Exception:  # a store's login must never fail because of personalisation
        logger.exception("personalize: could not merge the shopper on login")
