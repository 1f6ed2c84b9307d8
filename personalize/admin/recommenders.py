"""Admin for recommender model versions: metrics beside the popularity baseline, status,
the serving flag, load problems, and actions to train now or switch versions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize import jobs
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
        "n_events",
        "n_shoppers",
        "n_products",
        "training_seconds",
        "created_at",
        "problem",
    )
    list_filter = ("alias", "status", "is_active")
    ordering = ("-created_at",)
    actions = ("train_now", "activate_selected")
    # The offline metrics as a table (beside the popularity baseline) before the raw JSON.
    readonly_fields = [
        name
        for f in ModelVersion._meta.fields
        for name in (("metrics_summary", f.name) if f.name == "metrics" else ("artefact_file",) if f.name == "artefact" else (f.name,))
    ]

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
    def metrics_summary(self, obj: ModelVersion) -> str:
        names = ("precision@10", "recall@10", "ndcg@10", "coverage")
        if all(obj.metric(name) is None for name in names):
            return "–"
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
            ((name, _fmt(obj.metric(name)), _fmt(obj.metric(name, "baseline"))) for name in names),
        )
        return format_html(
            "<table><thead><tr><th></th><th scope='col'>{}</th><th scope='col'>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("this version"),
            _("popularity baseline"),
            rows,
        )

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
