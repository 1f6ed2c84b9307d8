"""Admin for recommender model versions: metrics beside the popularity baseline, status,
the serving flag, load problems, and actions to train now or switch versions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize import jobs
from personalize.admin import model_metrics
from personalize.models import ModelVersion
from personalize.recommenders.training import activate


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


TRAIN_ALL = "train:all"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "alias",
        "status",
        "is_active",
        "ndcg_vs_baseline",
        "precision",
        "recall",
        "coverage",
        "events",
        "shoppers",
        "products",
        "seconds",
        "created_at",
        "problem",
    )
    list_filter = ("alias", "status", "is_active")
    ordering = ("-created_at",)
    actions = ("train_now", "activate_selected")
    # Hyper-parameters, metrics and the tuner's trials as tables (admin/model_metrics.py), never JSON.
    fieldsets = (
        (None, {"fields": ("alias", "backend", "status", "is_active", "problem")}),
        (_("Offline quality"), {"fields": ("metrics_table", "evaluation_table")}),
        (_("Training data"), {"fields": ("data_since", "data_until", "events", "shoppers", "products")}),
        (_("Hyper-parameters"), {"fields": ("params_table",)}),
        (_("Tuning"), {"fields": ("tuning_table",), "classes": ("collapse",)}),
        (_("Run"), {"fields": ("seconds", "created_at", "finished_at", "activated_at", "artefact_file", "error", "load_error")}),
    )
    readonly_fields = [
        *(f.name for f in ModelVersion._meta.fields if f.name not in ("params", "metrics", "artefact")),
        "artefact_file", "problem", "metrics_table", "evaluation_table", "params_table", "tuning_table",
        "events", "shoppers", "products", "seconds",
    ]
    change_form_template = "admin/personalize/modelversion/change_form.html"

    @admin.display(description=_("artefact"))
    def artefact_file(self, obj: ModelVersion) -> str:
        # The file's name, never a link: artefacts live in private storage (no URL serves them).
        return obj.artefact.name if obj.artefact else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are records of runs; they change through actions only

    @admin.display(description=_("NDCG@10 (popular)"))
    def ndcg_vs_baseline(self, obj: ModelVersion) -> str:
        model, base = obj.metric("ndcg@10"), obj.metric("ndcg@10", "baseline")
        if model is None:
            return "–"
        colour = "green" if base is None or model >= base else "#b00"
        return format_html('<span style="color:{}">{}</span> ({})', colour, _fmt(model), _fmt(base))

    @admin.display(description=_("offline metrics"))
    def metrics_table(self, obj: ModelVersion) -> str:
        return model_metrics.metrics_table(obj)

    @admin.display(description=_("how it was measured"))
    def evaluation_table(self, obj: ModelVersion) -> str:
        return model_metrics.evaluation_table(obj)

    @admin.display(description=_("hyper-parameters"))
    def params_table(self, obj: ModelVersion) -> str:
        return model_metrics.params_table(obj)

    @admin.display(description=_("options tried"))
    def tuning_table(self, obj: ModelVersion) -> str:
        return model_metrics.tuning_table(obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None) -> Any:
        extra_context = dict(extra_context or {})
        version = self.get_object(request, object_id)
        if version is not None:
            extra_context["version_chart"] = model_metrics.history_chart(version)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("events"), ordering="n_events")
    def events(self, obj: ModelVersion) -> str:
        return model_metrics.readable(obj.n_events)

    @admin.display(description=_("shoppers"), ordering="n_shoppers")
    def shoppers(self, obj: ModelVersion) -> str:
        return model_metrics.readable(obj.n_shoppers)

    @admin.display(description=_("products"), ordering="n_products")
    def products(self, obj: ModelVersion) -> str:
        return model_metrics.readable(obj.n_products)

    @admin.display(description=_("training seconds"), ordering="training_seconds")
    def seconds(self, obj: ModelVersion) -> str:
        return model_metrics.readable(obj.training_seconds)

    @admin.display(description=_("precision@10"))
    def precision(self, obj: ModelVersion) -> str:
        return _fmt(obj.metric("precision@10"))

    @admin.display(description=_("recall@10"))
    def recall(self, obj: ModelVersion) -> str:
        return _fmt(obj.metric("recall@10"))

    @admin.display(description=_("coverage"))
    def coverage(self, obj: ModelVersion) -> str:
        return _fmt(obj.metric("coverage"))

    @admin.display(description=_("problem"))
    def problem(self, obj: ModelVersion) -> str:
        text = obj.load_error or (obj.error.splitlines()[0] if obj.error else "")
        if not text:
            return ""
        return format_html('<span style="color:#b00" title="{}">{}</span>', text, text[:80])

    @admin.action(description=_("Train now (in the background)"), permissions=["train"])
    def train_now(self, request: HttpRequest, queryset: Any) -> None:
        aliases = sorted(set(queryset.values_list("alias", flat=True)))
        for alias in aliases:
            job = jobs.start(
                "personalize.recommenders.training:train", label=gettext("Training %(alias)s") % {"alias": alias},
                name=f"train:{alias}", kwargs={"alias": alias},
            )
        self.message_user(request, gettext("Training started for: %(aliases)s (%(where)s); the status is shown above the list.") % {
            "aliases": ", ".join(aliases), "where": job.runner})

    @admin.action(description=_("Serve the selected version (even if it scored lower)"), permissions=["train"])
    def activate_selected(self, request: HttpRequest, queryset: Any) -> None:
        versions = list(queryset)
        if len(versions) != 1 or not versions[0].artefact or versions[0].status == ModelVersion.Status.FAILED:
            self.message_user(request, gettext("Select exactly one trained version."), messages.ERROR)
            return
        activate(versions[0], force=True)
        self.message_user(request, gettext("%(version)s now serves.") % {"version": versions[0]})

    def has_train_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("personalize.train_modelversion")

    # "Train now" also works before any version exists: a button above the list; the job runs
    # on a Celery worker or in a thread (personalize.jobs), never in the request.
    change_list_template = "admin/personalize/modelversion/change_list.html"

    def get_urls(self) -> list:
        urls = [path("train/", self.admin_site.admin_view(self.train_view), name="personalize_modelversion_train")]
        return urls + super().get_urls()

    def train_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:personalize_modelversion_changelist"))
        if not self.has_train_permission(request):
            raise PermissionDenied
        job = jobs.start("personalize.recommenders.training:train_all", label=gettext("Training every recommender"), name=TRAIN_ALL)
        self.message_user(request, gettext("Training of every recommender started (%(where)s); the status is shown above the list.") % {"where": job.runner})
        return HttpResponseRedirect(reverse("admin:personalize_modelversion_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        statuses = [jobs.status(TRAIN_ALL), *(jobs.status(f"train:{a}") for a in ModelVersion.objects.order_by().values_list("alias", flat=True).distinct())]
        extra = {
            "can_train": self.has_train_permission(request),
            "job_lines": [job.line() for job in statuses if job is not None],
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)
