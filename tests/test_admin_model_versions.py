"""A model version's page in the admin: hyper-parameters, metrics and trials as tables (never JSON),
and the metric of every version of the recommender for a chart."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from personalize.admin.model_metrics import history_chart, readable
from personalize.models import ModelVersion

pytestmark = pytest.mark.django_db

METRICS = {
    "model": {"precision@10": 0.10000000000000003, "recall@10": 1.0, "ndcg@10": 0.7776090915714414, "coverage": 1.0, "users": 25},
    "baseline": {"precision@10": 0.1, "recall@10": 1.0, "ndcg@10": 0.4232302875886697, "coverage": 0.5, "users": 25},
    "evaluated_on": "validation",
    "split": {"validation_fraction": 0.2, "events": 200, "sampled": False, "seed": 0, "fit_events": 160, "validation_events": 40},
    "tuning": {
        "chosen": {"KNN_METRIC": "jaccard", "KNN_WEIGHT": 1.0},
        "trials": [
            {"stage": "variant", "options": {"KNN_METRIC": "jaccard", "KNN_WEIGHT": 1.0}, "ndcg@10": 0.77761, "coverage": 1.0, "fit_seconds": 0.0},
            {"stage": "variant", "options": {"KNN_METRIC": "ease", "EASE_LAMBDA": 100.0}, "ndcg@10": 0.77237, "coverage": 1.0, "fit_seconds": 0.2},
        ],
        "seconds": 1.4,
    },
    "refit": True,
}
PARAMS = {"NO_COMPONENTS": 16, "LEARNING_RATE": 0.05, "ITEM_ALPHA": 1e-06, "EXCLUDE_SEEN": True, "FALLBACKS": ["also_viewed", "popular"],
          "KNN_METRIC": "jaccard", "KNN_WEIGHT": 1.0, "FIT_WORK_BUDGET": 400000000.0, "DIVERSITY_OFF": []}


def version(**fields) -> ModelVersion:
    return ModelVersion.objects.create(**{"alias": "default", "status": ModelVersion.Status.READY, "metrics": METRICS, "params": PARAMS, **fields})


def test_values_read_as_text():
    assert readable(True) == "yes" and readable(None) == "—" and readable([]) == "none"
    assert readable(400000000.0) == "400,000,000" and readable(0.10000000000000003) == "0.1"
    assert readable(0.7776090915714414) == "0.7776" and readable(1e-06) == "1e-06"
    assert readable(["also_viewed", "popular"]) == "also_viewed, popular"


def test_version_page_shows_tables_not_json(admin_client):
    older = version(metrics={**METRICS, "model": {**METRICS["model"], "ndcg@10": 0.5}})
    current = version()
    html = admin_client.get(reverse("admin:personalize_modelversion_change", args=[current.pk])).content.decode()
    assert "&quot;precision@10&quot;" not in html and '{"NO_COMPONENTS"' not in html and "&quot;NO_COMPONENTS" not in html
    tables = re.findall(r'<table class="pz-model-table">.*?</table>', html, re.S)
    assert len(tables) == 4  # metrics, evaluation, hyper-parameters, trials
    metrics = tables[0]
    assert "NDCG@10" in metrics and "0.7776" in metrics and "0.4232" in metrics and "+0.3544" in metrics
    assert "Shoppers evaluated" in metrics
    assert "Share of each shopper&#x27;s latest events held out" in tables[1] and "20%" in tables[1]
    params = tables[2]
    assert "<code>FIT_WORK_BUDGET</code>" in params and "400,000,000" in params and "also_viewed, popular" in params
    assert params.count("chosen by the tuner") == 2
    assert tables[3].count("font-weight:bold") == 1 and "EASE_LAMBDA = 100" in tables[3]
    # The chart: this recommender's versions, oldest first, the current one marked.
    data = json.loads(re.search(r'<script id="pz-version-chart-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["labels"] == [f"#{older.pk}", f"#{current.pk}"] and data["current"] == [False, True]
    assert data["model"][0] == 0.5 and round(data["baseline"][1], 4) == 0.4232
    assert "personalize/vendor/chart.umd.min.js" in html and "personalize/admin/model_versions.js" in html


def test_version_counts_are_grouped_on_the_page_and_in_the_list(admin_client):
    shown = version(n_events=1284000, n_shoppers=93000, n_products=6000, training_seconds=412.25)
    page = admin_client.get(reverse("admin:personalize_modelversion_change", args=[shown.pk])).content.decode()
    listing = admin_client.get(reverse("admin:personalize_modelversion_changelist")).content.decode()
    for html in (page, listing):
        assert "1,284,000" in html and "93,000" in html and "6,000" in html and "412.25" in html


def test_chart_leaves_out_failed_runs_and_other_recommenders():
    kept = version()
    version(status=ModelVersion.Status.FAILED, metrics={})
    version(alias="similar")
    assert history_chart(kept)["labels"] == [f"#{kept.pk}"]


def test_a_version_without_metrics_still_renders(admin_client):
    failed = version(status=ModelVersion.Status.FAILED, metrics={}, params={}, error="boom")
    response = admin_client.get(reverse("admin:personalize_modelversion_change", args=[failed.pk]))
    assert response.status_code == 200 and "boom" in response.content.decode()
