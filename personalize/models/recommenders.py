"""One row per training run of a recommender: what it learnt from, how well it did, where
its artefact lives, and whether it is the one serving."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from personalize.storage import artefact_storage

__all__ = ["ModelVersion"]


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training", _("Training")
        READY = "ready", _("Ready (not activated)")
        ACTIVE = "active", _("Active")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected (worse than the active version)")

    alias = models.CharField(_("recommender"), max_length=64, default="default", db_index=True)
    backend = models.CharField(_("backend"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(_("active"), default=False)
    data_since = models.DateTimeField(_("data from"), null=True, blank=True)
    data_until = models.DateTimeField(_("data until"), null=True, blank=True)
    n_events = models.PositiveIntegerField(_("events"), default=0)
    n_shoppers = models.PositiveIntegerField(_("shoppers"), default=0)
    n_products = models.PositiveIntegerField(_("products"), default=0)
    params = models.JSONField(_("hyper-parameters"), default=dict, blank=True)
    # {"model": {"precision@10": .., "recall@10": .., "ndcg@10": .., "coverage": .., "users": n},
    #  "baseline": {...same for the popularity baseline...}}
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    training_seconds = models.FloatField(_("training seconds"), null=True, blank=True)
    # Private storage (personalize.storage): a hybrid model holds a vector per shopper.
    artefact = models.FileField(
        _("artefact"), upload_to="personalize/models/", storage=artefact_storage, max_length=255, blank=True
    )
    error = models.TextField(_("error"), blank=True)
    # Set when a serving process could not load the artefact (missing or corrupt file).
    load_error = models.TextField(_("load error"), blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["alias"], condition=Q(is_active=True), name="personalize_one_active_model_per_alias"
            )
        ]
        permissions = [("train_modelversion", _("Can start a recommender training"))]

    def __str__(self) -> str:
        return f"{self.alias} #{self.pk} ({self.get_status_display()})"

    def metric(self, name: str, which: str = "model") -> float | None:
        value = (self.metrics or {}).get(which, {}).get(name)
        return float(value) if value is not None else None

    @property
    def ndcg(self) -> float | None:
        return self.metric("ndcg@10")
