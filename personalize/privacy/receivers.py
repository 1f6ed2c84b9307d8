"""Privacy receivers: withdrawn consent, deleted accounts, suppressed addresses."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver

from personalize import exposures, signals
from personalize.conf import personalize_settings as ps
from personalize.emails import suppression
from personalize.identity import read_cookie_key
from personalize.models import ErasureRecord, Shopper
from personalize.privacy.erasure import erase_person
from personalize.privacy.people import Person, find_person

logger = logging.getLogger("personalize")


@receiver(signals.consent_changed, dispatch_uid="personalize.privacy.withdrawn")
def erase_on_withdrawal(sender: Any, request: Any, granted: bool, **kwargs: Any) -> None:
    """Withdrawn consent: the browser's anonymous profile goes (an account's stays: it is the
    person's to erase from their privacy page, and nothing new is added to it)."""
    if granted:
        return
    key = read_cookie_key(request)
    if key is not None:
        exposures.forget(key)  # a first visit's row still waiting in a worker's buffer is never written
    shopper = Shopper.objects.filter(key=key, user__isnull=True).first() if key else None
    if shopper is None:
        return
    try:
        # Only this browser's own merge group: an address on it does not widen the erasure.
        person = Person(shopper_ids={shopper.pk} | set(Shopper.objects.filter(merged_into=shopper).values_list("pk", flat=True)))
        erase_person(person, source=ErasureRecord.Source.CONSENT_WITHDRAWN)
    except Exception:  # a consent click must never fail
        logger.exception("personalize: could not erase the profile after consent was withdrawn")


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="personalize.privacy.user_deleted")
def erase_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted account takes its shopper profiles (all merged ones) with it."""
    if not ps.ERASE_ON_USER_DELETE:
        return  # Shopper.user is SET_NULL: the profiles stay, anonymous, until retention
    if not Shopper.objects.filter(user=instance).exists():
        return
    erase_person(find_person(user=instance), source=ErasureRecord.Source.ACCOUNT_DELETED)


@receiver(pre_save, sender=Shopper, dispatch_uid="personalize.privacy.suppressed_email")
def drop_suppressed_email(sender: Any, instance: Shopper, **kwargs: Any) -> None:
    """An address an erased person asked us to forget is never stored on a profile again."""
    if instance.email and suppression.is_suppressed(instance.email):
        instance.email = ""
        instance.email_consent = False
