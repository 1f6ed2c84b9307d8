"""Training as a job: versions, metrics, the atomic switch, failures, the task and command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from unittest import mock

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from threadpoolctl import threadpool_info

from personalize.recommenders import get_recommender
from personalize.recommenders.base import TuningSpace
from personalize.recommenders.evaluation import evaluate, temporal_split
from personalize.recommenders.lightfm import LightFMRecommender
from personalize.models import ModelVersion
from personalize.recommenders.popular import PopularRecommender
from personalize.recommenders import training, tuning
from tests.recommender_data import taste_shop
from tests.recommender_data import FAST_LIGHTFM

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artefacts_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_training_data_is_loaded_as_arrays_with_sessions(fast):
    shop = taste_shop(shoppers=8)
    data = training.load_training_data()
    assert data.n_users == 8 and data.n_items == len(shop["a"]) + len(shop["b"])
    assert data.users.dtype.kind == "i" and data.times.dtype.kind == "f"
    # a camera+lens order (same minute) is one session; purchases days apart are not
    camera = list(data.product_keys).index(str(shop["camera"].pk))
    lens = list(data.product_keys).index(str(shop["lens"].pk))
    bought = data.kinds == data.kind_names.index("purchase")
    cam_sessions = set(data.sessions[bought & (data.items == camera)])
    lens_sessions = set(data.sessions[bought & (data.items == lens)])
    assert cam_sessions == lens_sessions and cam_sessions
    assert data.user_features[0]["country"] in {"FR", "DE"}


def test_temporal_split_holds_out_each_shoppers_latest_events(fast):
    taste_shop(shoppers=10)
    data = training.load_training_data()
    train_part, test_part = temporal_split(data, 0.25)
    assert train_part.n_events + test_part.n_events == data.n_events
    for user in set(test_part.users.tolist()):
        assert train_part.times[train_part.users == user].max() <= test_part.times[test_part.users == user].min()


def test_train_creates_an_active_version_with_metrics_and_baseline(fast):
    taste_shop()
    version = training.train(alias="default")
    assert version.status == ModelVersion.Status.ACTIVE and version.is_active
    assert version.n_events > 0 and version.n_shoppers == 40 and version.n_products == 12
    for which in ("model", "baseline"):
        for metric in ("precision@10", "recall@10", "ndcg@10", "coverage"):
            assert 0.0 <= version.metrics[which][metric] <= 1.0
    # two clear taste groups: the hybrid model must beat "most popular"
    assert version.metrics["model"]["ndcg@10"] > version.metrics["baseline"]["ndcg@10"]
    assert version.params["NO_COMPONENTS"] == 16 and version.training_seconds > 0
    assert version.artefact.name.endswith(".npz") and version.finished_at


def test_a_worse_version_is_rejected_unless_forced(fast, monkeypatch):
    """The switching rule, with the offline score fixed per run (real training otherwise):
    tiny data makes "a deliberately bad model scores lower" a matter of luck."""
    taste_shop()
    scores = iter([0.5, 0.2, 0.1])
    real_tune = training.tune

    def scored(*args, **kwargs):
        result = real_tune(*args, **kwargs)
        result.validation["ndcg@10"] = next(scores)
        return result

    monkeypatch.setattr(training, "tune", scored)
    good = training.train(alias="default")
    worse = training.train(alias="default")
    assert worse.metrics["model"]["ndcg@10"] < good.metrics["model"]["ndcg@10"]
    assert worse.status == ModelVersion.Status.REJECTED and not worse.is_active
    assert ModelVersion.objects.get(is_active=True, alias="default") == good
    forced = training.train(alias="default", force=True)
    assert forced.is_active
    good.refresh_from_db()
    assert not good.is_active and good.status == ModelVersion.Status.READY
    assert ModelVersion.objects.filter(alias="default", is_active=True).count() == 1


def test_force_activate_setting(fast, settings):
    taste_shop()
    training.train(alias="default")
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDER_FORCE_ACTIVATE": True}
    forced = training.train(alias="default", options={"EPOCHS": 1, "LEARNING_RATE": 0.0001})
    assert forced.is_active


def test_equal_score_activates(fast):
    taste_shop()
    first = training.train(alias="default")
    second = training.train(alias="default")  # same seed and data: same NDCG
    assert second.metrics["model"]["ndcg@10"] == first.metrics["model"]["ndcg@10"]
    assert second.is_active


def test_failed_training_leaves_the_active_version_serving(fast, django_capture_on_commit_callbacks):
    shop = taste_shop()
    with django_capture_on_commit_callbacks(execute=True):
        good = training.train(alias="default")
    with mock.patch.object(LightFMRecommender, "fit", side_effect=RuntimeError("out of memory")):
        failed = training.train(alias="default")
    assert failed.status == ModelVersion.Status.FAILED and "out of memory" in failed.error
    assert not failed.is_active and failed.finished_at
    assert ModelVersion.objects.get(is_active=True) == good
    from tests.test_recommenders import profile_of

    assert get_recommender().model_version == str(good.pk)
    assert get_recommender().recommend(profile_of(shop["a"][2]), limit=3)


def test_no_events_fails_cleanly(fast):
    version = training.train(alias="default")
    assert version.status == ModelVersion.Status.FAILED and "No events" in version.error


def test_killed_runs_are_marked_failed_on_the_next_run(fast):
    taste_shop(shoppers=8)
    stale = ModelVersion.objects.create(alias="default", created_at=timezone.now() - timedelta(days=1))
    recent = ModelVersion.objects.create(alias="default")
    training.train(alias="default")
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.status == ModelVersion.Status.FAILED and "killed" in stale.error
    assert recent.status == ModelVersion.Status.TRAINING  # may still be running elsewhere


def test_untrainable_alias_is_refused(fast):
    with pytest.raises(ValueError, match="not trainable"):
        training.train(alias="popular")


def test_train_all_trains_every_model_and_refreshes_lists(fast, django_assert_num_queries):
    from personalize.profiles import ShopperProfile

    shop = taste_shop()
    versions = training.train_all()
    assert {v.alias for v in versions} == {"default", "bought_together", "also_viewed"}
    assert all(v.is_active for v in versions)
    with django_assert_num_queries(0):
        trending = get_recommender("popular").recommend(ShopperProfile(None), limit=3)
    assert trending and trending[0].key in {str(p.pk) for p in shop["a"] + shop["b"]}


def test_celery_task_runs_the_service(fast):
    from personalize.recommenders.tasks import train as train_task

    taste_shop(shoppers=12)
    result = train_task.delay(alias="also_viewed").get()
    assert result[0]["alias"] == "also_viewed" and result[0]["status"] == "active"


def test_nightly_schedule_is_registered():
    from personalize.schedules import DEFAULT_SCHEDULES

    assert any(job["task"] == "personalize.recommenders.train" and "crontab" in job for job in DEFAULT_SCHEDULES)


def test_command_trains_with_a_report(fast):
    taste_shop()
    out, err = StringIO(), StringIO()
    call_command("personalize_train", "--alias", "default", stdout=out, stderr=err)
    assert "NDCG@10" in out.getvalue() and "Active" in out.getvalue()
    assert ModelVersion.objects.filter(alias="default", is_active=True).exists()


def test_command_bad_input(fast):
    with pytest.raises(CommandError, match="Unknown recommender"):
        call_command("personalize_train", "--alias", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="nothing to train"):
        call_command("personalize_train", "--alias", "popular", stdout=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("personalize_train", "--since", "yesterday", stdout=StringIO())


def test_command_fails_when_training_fails(fast):
    with pytest.raises(CommandError, match="0 events in the last 365 days"):
        call_command("personalize_train", "--alias", "default", "--no-progress", stdout=StringIO(), stderr=StringIO())


def test_tuner_picks_options_on_a_validation_split(fast, monkeypatch):
    """The best point by validation NDCG wins (fits, then the serving axes), and validation
    comes from the data given to the tuner, never from the held-out test part. Scores are
    fixed per point: on tiny data a deliberately weak model does not reliably lose."""
    taste_shop()
    data = training.load_training_data()
    train_part, test_part = temporal_split(data, 0.2)
    splits = []
    real_init = tuning.Validation.__init__

    def spy(self, fit_part, held_out, **kwargs):
        splits.append((fit_part, held_out))
        real_init(self, fit_part, held_out, **kwargs)

    def scored(self, candidate, progress=None, category_cap=None):
        bonus = 0.05 if candidate.options.get("KNN_RECENCY") == 0.7 else 0.0
        return {"ndcg@10": {1: 0.1, 30: 0.3, 5: 0.2}.get(candidate.options.get("EPOCHS"), 0.0) + bonus, "coverage": 0.5, "users": 3}

    space = TuningSpace(fits=[{"EPOCHS": 1}, {"EPOCHS": 30}, {"EPOCHS": 5}], serving=[("KNN_WEIGHT", [0.5, 0.0]), ("KNN_MAX_PROFILE_ITEMS", [20, 10]), ("KNN_RECENCY", [0.85, 0.7])])
    monkeypatch.setattr(tuning.Validation, "__init__", spy)
    monkeypatch.setattr(tuning.Validation, "score", scored)
    monkeypatch.setattr(LightFMRecommender, "tuning_space", lambda self, data: space)
    result = tuning.tune(LightFMRecommender("default", {"NO_COMPONENTS": 16, "KNN_WEIGHT": 0.5}), train_part)
    # KNN_WEIGHT is the store's own setting: never tuned; equal scores keep the first value
    # the category cap costs nothing here, so placements keep it
    assert result.chosen == {"EPOCHS": 30, "KNN_MAX_PROFILE_ITEMS": 20, "KNN_RECENCY": 0.7, "DIVERSITY_OFF": []}
    assert [t["stage"] for t in result.trials] == ["fit"] * 6 + ["serving"] * 2 + ["pipeline"]
    assert result.validation["ndcg@10"] == pytest.approx(0.35)
    # every validation event is one of the training part's events, none of the test part's
    events = lambda d: set(zip(d.shopper_ids[d.users].tolist(), d.product_keys[d.items].tolist(), d.times.tolist()))  # noqa: E731
    train_events, test_events = events(train_part), events(test_part)
    for fit_part, held_out in splits:
        assert events(held_out) and events(held_out) <= train_events and events(fit_part) <= train_events
        assert not events(held_out) & test_events
        assert not events(held_out) & events(fit_part)


def test_training_records_the_tuners_choice_and_serving_uses_it(fast, settings):
    """The shipped tuning space on real data: the choice is on the version (params, every
    trial) and in the artefact, the serving instance reads it, the store's options stay."""
    taste_shop()
    version = training.train(alias="default")
    tuning_record = version.metrics["tuning"]
    chosen = tuning_record["chosen"]
    assert version.metrics["evaluated_on"] == "validation" and tuning_record["trials"]
    assert {"KNN_WEIGHT", "KNN_RECENCY", "KNN_METRIC", "DIVERSITY_OFF"} <= set(chosen)
    assert "NO_COMPONENTS" not in chosen and version.params["NO_COMPONENTS"] == 16  # set by the store
    assert all(version.params[name] == value for name, value in chosen.items())
    best = max(t["ndcg@10"] for t in tuning_record["trials"])
    assert version.metrics["model"]["ndcg@10"] == pytest.approx(best, abs=1e-4)
    served = get_recommender("default")
    assert served.ready() and all(served.option(name) == value for name, value in chosen.items())
    # the same data and seed choose the same options (one thread while tuning)
    again = training.train(alias="default")
    assert again.metrics["tuning"]["chosen"] == chosen
    # TUNE: False keeps the shipped defaults
    fixed = training.train(alias="default", options={"TUNE": False})
    assert fixed.metrics["tuning"]["chosen"] == {} and len(fixed.metrics["tuning"]["trials"]) == 1


def test_tuning_is_bounded_by_a_seeded_sample_of_whole_shoppers(fast):
    taste_shop()
    data = training.load_training_data()
    sample = tuning.sample_shoppers(data, data.n_events // 2, seed=0)
    assert 0 < sample.n_events <= data.n_events // 2
    users = set(sample.users.tolist())
    assert sample.n_events == int(np.isin(data.users, list(users)).sum())  # whole shoppers
    assert tuning.sample_shoppers(data, data.n_events // 2, seed=0).n_events == sample.n_events
    assert tuning.sample_shoppers(data, 0, seed=0) is data
    space = LightFMRecommender("default").tuning_space(data)
    assert [f["NO_COMPONENTS"] for f in space.fits] == [48, 96, 128]  # small data: all within budget
    big = LightFMRecommender("default", {"FIT_WORK_BUDGET": 1.0}).tuning_space(data)
    assert big.fits == space.fits[:1]  # the cheapest point always runs


def test_the_search_scores_with_one_blas_thread(fast, monkeypatch):
    """Validation scores one shopper at a time (a catalogue-sized matrix-vector product each):
    BLAS threads on a busy machine made each product wait for a core, so the search holds BLAS
    to one thread, and gives the threads back afterwards."""
    taste_shop()
    data = training.load_training_data()
    seen = []
    real_score = tuning.Validation.score

    def spy(self, candidate, progress=None, category_cap=None):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return real_score(self, candidate, progress, category_cap=category_cap)

    monkeypatch.setattr(tuning.Validation, "score", spy)
    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    tuning.tune(LightFMRecommender("default", {**FAST_LIGHTFM, "TUNE": False}), data)
    assert seen and set(seen) == {1}
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == before


def test_evaluate_the_popularity_baseline_directly(fast):
    taste_shop()
    data = training.load_training_data()
    train_part, test_part = temporal_split(data, 0.2)
    popular = PopularRecommender("p")
    popular.fit(train_part)
    metrics = evaluate(popular, train_part, test_part)
    assert metrics["users"] > 0 and 0 < metrics["recall@10"] <= 1


def test_admin_lists_versions_and_queues_training(fast, admin_client, django_capture_on_commit_callbacks, settings):
    taste_shop(shoppers=8)
    version = training.train(alias="default")
    ModelVersion.objects.filter(pk=version.pk).update(load_error="artefact cannot be read")
    response = admin_client.get("/admin/personalize/modelversion/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "artefact cannot be read" in body and "Train now" in body
    # The button starts a job (personalize.jobs); "inline" runs it before the redirect, so the
    # test sees the real training it started.
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "inline"}
    before = ModelVersion.objects.count()
    response = admin_client.post("/admin/personalize/modelversion/train/")
    assert response.status_code == 302 and ModelVersion.objects.count() > before


def test_large_data_serves_the_evaluated_model_instead_of_refitting(fast):
    taste_shop(shoppers=12)
    fits = []
    real_fit = LightFMRecommender.fit

    def counting_fit(self, data, progress=None):
        fits.append(data.n_events)
        return real_fit(self, data, progress=progress)

    with mock.patch.object(LightFMRecommender, "fit", counting_fit):
        small = training.train(alias="default", force=True)  # under REFIT_MAX_EVENTS: tuned, then fitted on all
        everything = small.n_events
        assert small.metrics["refit"] is True and fits[-1] == everything and max(fits[:-1]) < everything
        fits.clear()
        large = training.train(alias="default", force=True, options={"REFIT_MAX_EVENTS": 10})
        assert large.metrics["refit"] is False and fits and max(fits) < everything  # the tuner's best fit serves
        fits.clear()
        forced = training.train(alias="default", force=True, options={"REFIT_MAX_EVENTS": 10}, refit=True)
        assert forced.metrics["refit"] is True and fits[-1] == everything
    assert large.status == ModelVersion.Status.ACTIVE or large.status == ModelVersion.Status.READY


def test_lightfm_blends_item_knn_from_the_same_artefact(fast):
    from personalize.profiles import ShopperProfile

    shop = taste_shop(shoppers=16)
    data = training.load_training_data()
    backend = LightFMRecommender("default", {**FAST_LIGHTFM, "KNN_WEIGHT": 0.5})
    artefact = backend.fit(data)
    assert {"knn_indptr", "knn_indices", "knn_scores"} <= set(artefact.arrays)
    viewed = [str(p.pk) for p in shop["a"][:2]]
    profile = ShopperProfile(shopper=None, interactions=[(k, "view", timezone.now()) for k in viewed])
    blended = backend.recommend(profile, limit=3)
    a_keys = {str(p.pk) for p in shop["a"]}
    assert blended and all(rec.key in a_keys for rec in blended)
    # a version stored before the blend (no kNN arrays) still loads and serves LightFM alone
    legacy = type(artefact)(arrays={k: v for k, v in artefact.arrays.items() if not k.startswith("knn_")}, meta=artefact.meta)
    old = LightFMRecommender("default", {**FAST_LIGHTFM, "KNN_WEIGHT": 0.5})
    old.load(legacy)
    old.pin()
    assert [r.key for r in old.recommend(profile, limit=3)]
    broken = type(artefact)(arrays={**artefact.arrays, "knn_indptr": artefact.arrays["knn_indptr"][:-1]}, meta=artefact.meta)
    with pytest.raises(ValueError):
        LightFMRecommender("default", FAST_LIGHTFM).load(broken)
