"""Lifecycle email flows, their steps, every send, and unsubscribes.

Design notes (docs/emails.md):

* A :class:`Flow` is a sequence of :class:`Step` s. For abandoned carts a step's ``delay`` counts
  from the cart's last change; for win-back it counts from the day the customer lapsed
  (``WINBACK_DAYS`` after their last purchase).
* Marketer text in several languages: ``Step.subject`` is the default-language subject and
  ``Step.subject_translations`` maps language codes to subjects (``{"fr": "Votre panier"}``).
  Templates are looked up per language first (``personalize/emails/<lang>/<template>.html``),
  then the shared one, whose own strings are translated with ``{% translate %}``.
* :class:`EmailSend` is both the claim and the record: one row per (step, shopper, cycle),
  unique in the database, inserted *before* the email goes out. ``cycle`` names what the step
  is about: ``cart:<revision>`` for a cart (a changed cart is a new cycle: the flow restarts),
  ``lapse:<last purchase id>`` for win-back.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["Flow", "Step", "EmailSend", "Unsubscribe"]


class Flow(models.Model):
    class Kind(models.TextChoices):
        ABANDONED_CART = "abandoned_cart", _("Abandoned cart")
        WIN_BACK = "win_back", _("Win-back")
        BROWSE_ABANDONMENT = "browse_abandonment", _("Browse abandonment")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True, help_text=_("Stable identifier (default flows use it)."))
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("email flow")
        verbose_name_plural = _("email flows")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    flow = models.ForeignKey(Flow, verbose_name=_("flow"), on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    delay = models.DurationField(
        _("delay"),
        default=timedelta(hours=1),
        help_text=_(
            "Abandoned cart: after the cart's last change. Win-back: after the customer lapsed. "
            "Browse abandonment: after the last view of the product."
        ),
    )
    subject = models.CharField(_("subject"), max_length=200, help_text=_("“{first_name}” is replaced by the shopper's first name."))
    subject_translations = models.JSONField(
        _("subject translations"),
        default=dict,
        blank=True,
        help_text=_('Subjects in other languages: {"fr": "Votre panier vous attend"}.'),
    )
    template = models.CharField(
        _("template"),
        max_length=100,
        default="abandoned_cart",
        help_text=_("Name under personalize/emails/: <name>.html and <name>.txt (per language: <lang>/<name>.html)."),
    )
    offer = models.ForeignKey(
        "personalize.Offer",
        verbose_name=_("offer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="email_steps",
        help_text=_("Code included in the email and applied by its link."),
    )
    active = models.BooleanField(_("active"), default=True)
    is_broken = models.BooleanField(
        _("broken"), default=False, help_text=_("Set when the template failed to render; clear it after fixing.")
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("email step")
        verbose_name_plural = _("email steps")
        ordering = ["flow", "position"]
        constraints = [models.UniqueConstraint(fields=["flow", "position"], name="personalize_step_position")]

    def __str__(self) -> str:
        return f"{self.flow} #{self.position}"

    def subject_for(self, language: str) -> str:
        """The subject in ``language`` (``pt-br`` falls back to ``pt``, ``sr-latn`` not to ``sr``), else the default one.

        The default one goes through the message catalogue of ``language``: the shipped default
        subjects are translated there (an edited subject is not in it and stays as written).
        """
        from django.utils import translation

        translations = self.subject_translations or {}
        language = (language or "").lower()
        base, _sep, subtag = language.partition("-")
        # pt-br falls back to pt; sr-latn never to sr: a script subtag means other letters.
        for code in (language,) if len(subtag) == 4 else (language, base):
            if code and translations.get(code):
                return str(translations[code])
        if not language or not self.subject:  # gettext("") is the catalogue's header
            return self.subject
        with translation.override(language):
            return translation.gettext(self.subject)


class EmailSend(models.Model):
    """One step for one shopper and cycle: the claim before sending and the record after."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("Claimed (sending)")
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Waiting to retry")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    flow = models.ForeignKey(Flow, verbose_name=_("flow"), on_delete=models.CASCADE, related_name="sends")
    step = models.ForeignKey(Step, verbose_name=_("step"), on_delete=models.CASCADE, related_name="sends")
    shopper = models.ForeignKey("personalize.Shopper", verbose_name=_("shopper"), on_delete=models.CASCADE, related_name="email_sends")
    cycle = models.CharField(_("cycle"), max_length=100, help_text=_("cart:<revision>, lapse:<purchase> or browse:<product>."))
    cart_revision = models.PositiveIntegerField(_("cart revision"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CLAIMED)
    email = models.EmailField(_("email"), blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    # What the email showed (restore links rebuild exactly this): [{"product", "quantity", "price"}]
    lines = models.JSONField(_("lines"), default=list, blank=True)
    offer_code = models.CharField(_("offer code"), max_length=48, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    error = models.TextField(_("error / note"), blank=True)
    created_at = models.DateTimeField(_("claimed at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    order_ref = models.CharField(_("recovered order"), max_length=64, blank=True)
    order_value = models.DecimalField(_("recovered revenue"), max_digits=12, decimal_places=2, null=True, blank=True)
    recovered_at = models.DateTimeField(_("recovered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("email send")
        verbose_name_plural = _("email sends")
        ordering = ["-created_at"]
        constraints = [
            # The no-duplicate guarantee: a step goes at most once per shopper and cycle.
            models.UniqueConstraint(fields=["step", "shopper", "cycle"], name="personalize_emailsend_once"),
        ]
        indexes = [
            models.Index(fields=["shopper", "status", "sent_at"], name="personalize_send_cap"),
            models.Index(fields=["status", "next_attempt_at"], name="personalize_send_retry"),
            models.Index(fields=["flow", "sent_at"], name="personalize_send_report"),
        ]

    def __str__(self) -> str:
        return f"{self.step} → {self.email or self.shopper_id} ({self.status})"


class Unsubscribe(models.Model):
    """A shopper (or an address) that wants no more lifecycle email."""

    shopper = models.ForeignKey(
        "personalize.Shopper", verbose_name=_("shopper"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(_("email"), db_index=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=32, blank=True, help_text=_("link, one-click, admin..."))

    class Meta:
        verbose_name = _("unsubscribe")
        verbose_name_plural = _("unsubscribes")
        indexes = [models.Index(fields=["shopper"], name="personalize_unsub_shopper")]

    def __str__(self) -> str:
        return self.email or str(self.shopper_id)

    def save(self, *args, **kwargs) -> None:
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)
