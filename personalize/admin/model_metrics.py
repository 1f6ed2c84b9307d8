"""A model version's JSON (hyper-parameters, offline metrics, the tuner's trials) as tables a
marketer can read, and the metric per version of one recommender for a chart."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.models import ModelVersion

CHART_METRIC = "ndcg@10"
CHART_VERSIONS = 20
METRIC_LABELS = {
    "ndcg@10": (_("NDCG@10"), _("Ranking quality of the top 10: 1 means what shoppers chose next was listed first.")),
    "precision@10": (_("Precision@10"), _("Share of the 10 recommended items the shopper then chose.")),
    "recall@10": (_("Recall@10"), _("Share of what the shopper chose next that was among the 10.")),
    "coverage": (_("Coverage"), _("Share of the catalogue that appears in someone's top 10.")),
    "users": (_("Shoppers evaluated"), _("Shoppers in the validation split.")),
}
SPLIT_LABELS = {
    "validation_fraction": _("Share of each shopper's latest events held out"),
    "events": _("Events"),
    "fit_events": _("Events the tuner fitted on"),
    "validation_events": _("Events held out for scoring"),
    "sampled": _("Tuned on a sample of shoppers"),
    "seed": _("Random seed"),
}


def readable(value: Any) -> str:
    """A JSON value as text: yes/no, grouped numbers, short decimals, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int):
        return number_format(value, 0, force_grouping=True)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return number_format(int(value), 0, force_grouping=True)
        if abs(value) < 0.001:
            return f"{value:.0e}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return number_format(Decimal(text), len(text.partition(".")[2]), force_grouping=True)
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) if value else gettext("none")
    if isinstance(value, dict):
        return "; ".join(f"{k} = {readable(v)}" for k, v in value.items()) if value else gettext("none")
    return str(value)


def _table(head: list[Any], rows: SafeString) -> SafeString:
    cells = format_html_join("", "<th scope='col'>{}</th>", ((h,) for h in head))
    return format_html('<table class="pz-model-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', cells, rows)


def metrics_table(version: ModelVersion) -> SafeString | str:
    """This version's offline metrics beside the popularity baseline, with the difference."""
    metrics = version.metrics or {}
    model, baseline = metrics.get("model") or {}, metrics.get("baseline") or {}
    names = list(dict.fromkeys([*model, *baseline]))
    if not names:
        return "–"
    rows = []
    for name in names:
        label, help_text = METRIC_LABELS.get(name, (name, ""))
        mine, base = model.get(name), baseline.get(name)
        diff, colour = "", ""
        if isinstance(mine, (int, float)) and isinstance(base, (int, float)) and name != "users":
            delta = round(float(mine) - float(base), 4)  # 0.1 - 0.10000000000000003 is no difference
            diff = ("+" if delta > 0 else "") + readable(delta)
            colour = "#1e7b34" if delta > 0 else "#ba2121" if delta < 0 else ""
        rows.append((label, help_text, readable(mine), readable(base), colour, diff))
    body = format_html_join(
        "",
        "<tr><th scope='row' title='{1}'>{0}</th><td class='num'>{2}</td><td class='num'>{3}</td>"
        "<td class='num' style='color:{4}'>{5}</td></tr>",
        rows,
    )
    return _table([gettext("Metric"), gettext("This version"), gettext("Popularity baseline"), gettext("Difference")], body)


def evaluation_table(version: ModelVersion) -> SafeString | str:
    """How the metrics were measured: the split, the sample, the refit."""
    metrics = version.metrics or {}
    split = metrics.get("split") or {}
    rows: list[tuple[Any, str]] = []
    if metrics.get("evaluated_on"):
        rows.append((gettext("Scored on"), str(metrics["evaluated_on"])))
    for key, value in split.items():
        text = f"{float(value) * 100:g}%" if key == "validation_fraction" and isinstance(value, (int, float)) else readable(value)
        rows.append((SPLIT_LABELS.get(key, key), text))
    if "refit" in metrics:
        rows.append((gettext("Fitted again on all events after tuning"), readable(metrics["refit"])))
    tuning = metrics.get("tuning") or {}
    if "seconds" in tuning:
        rows.append((gettext("Tuning time (seconds)"), readable(tuning["seconds"])))
    if metrics.get("learnt_nothing"):
        rows.append((gettext("Learnt nothing"), str(metrics["learnt_nothing"])))
    if not rows:
        return "–"
    body = format_html_join("", "<tr><th scope='row'>{}</th><td>{}</td></tr>", rows)
    return _table([gettext("Evaluation"), gettext("Value")], body)


def params_table(version: ModelVersion) -> SafeString | str:
    """The hyper-parameters the version was trained with; the tuner's choices marked."""
    params = version.params or {}
    if not params:
        return "–"
    chosen = ((version.metrics or {}).get("tuning") or {}).get("chosen") or {}
    marker = gettext("chosen by the tuner")
    rows = [(name, readable(value), marker if name in chosen else "") for name, value in params.items()]
    body = format_html_join("", "<tr><th scope='row'><code>{}</code></th><td>{}</td><td class='quiet'>{}</td></tr>", rows)
    return _table([gettext("Hyper-parameter"), gettext("Value"), ""], body)


def tuning_table(version: ModelVersion) -> SafeString | str:
    """Every option set the tuner tried, with its validation score; the chosen ones in bold."""
    tuning = (version.metrics or {}).get("tuning") or {}
    trials = tuning.get("trials") or []
    if not trials:
        return "–"
    chosen = tuning.get("chosen") or {}
    rows = []
    for trial in trials:
        options = trial.get("options") or {}
        picked = bool(options) and all(chosen.get(k) == v for k, v in options.items())
        rows.append(
            format_html(
                "<tr style='font-weight:{}'><td>{}</td><td>{}</td><td class='num'>{}</td><td class='num'>{}</td><td class='num'>{}</td></tr>",
                "bold" if picked else "normal",
                trial.get("stage", ""),
                readable(options),
                readable(trial.get(CHART_METRIC)),
                readable(trial.get("coverage")),
                readable(trial.get("fit_seconds")),
            )
        )
    head = [gettext("Stage"), gettext("Options tried"), gettext("NDCG@10"), gettext("Coverage"), gettext("Fit seconds")]
    return _table(head, format_html_join("", "{}", ((row,) for row in rows)))


def history_chart(version: ModelVersion) -> dict[str, Any]:
    """``CHART_METRIC`` of the last versions of the same recommender and of their baselines."""
    versions = list(
        ModelVersion.objects.filter(alias=version.alias)
        .exclude(status__in=[ModelVersion.Status.FAILED, ModelVersion.Status.TRAINING])
        .order_by("-created_at", "-pk")
        .only("pk", "metrics", "created_at", "is_active")[:CHART_VERSIONS]
    )[::-1]
    label = str(METRIC_LABELS[CHART_METRIC][0])
    return {
        "labels": [f"#{v.pk}" for v in versions],
        "current": [v.pk == version.pk for v in versions],
        "model": [v.metric(CHART_METRIC) for v in versions],
        "baseline": [v.metric(CHART_METRIC, "baseline") for v in versions],
        "text": {
            "model": gettext("%(metric)s of the version") % {"metric": label},
            "baseline": gettext("%(metric)s of the popularity baseline") % {"metric": label},
        },
    }
