"""Every email the demo shop "sends" is stored here, so the outbox page can show it."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    subject = models.CharField(_("subject"), max_length=255)
    from_email = models.CharField(_("from"), max_length=255)
    to = models.TextField(_("to"), help_text=_("One address per line."))
    body_text = models.TextField(_("plain text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("outbox:detail", args=[self.pk])

    @property
    def recipients(self) -> list[str]:
        return [line for line in self.to.splitlines() if line]
