"""Privacy records: that an erasure happened (no personal data), and suppressed addresses.

An :class:`ErasureRecord` is the controller's proof of having acted on a request (GDPR art. 5(2),
accountability) without keeping what was erased: it holds when, through which door, and how
many rows of each kind went, never an id, key or address of the person.

An :class:`EmailSuppression` keeps an erased address from being collected or mailed again. It
holds a keyed hash (HMAC with ``SECRET_KEY``) of the normalised address, not the address.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["ErasureRecord", "EmailSuppression"]


class ErasureRecord(models.Model):
    class Source(models.TextChoices):
        COMMAND = "command", _("Management command")
        ADMIN = "admin", _("Admin")
        SELF_SERVICE = "self_service", _("The shopper's own page")
        ACCOUNT_DELETED = "account_deleted", _("Account deleted")
        CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
        API = "api", _("Python API")

    source = models.CharField(_("source"), max_length=32, choices=Source.choices)
    # Who carried it out for a staff door (a staff username), never the person erased.
    actor = models.CharField(_("carried out by"), max_length=150, blank=True)
    # Model label -> rows erased or anonymised, e.g. {"personalize.Event": 120}.
    counts = models.JSONField(_("rows"), default=dict, blank=True)
    profiles = models.PositiveIntegerField(_("profiles"), default=0)
    suppressed = models.BooleanField(_("address suppressed"), default=False)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def total(self) -> int:
        return sum(int(value) for value in (self.counts or {}).values())


class EmailSuppression(models.Model):
    digest = models.CharField(_("address hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.digest[:12]
