"""The data scientist's path and what must never serve: export keyed by imported ids, the
catalogue import, the training window explained, exit codes, purchases never served again,
and recommenders that learnt nothing never activated."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from personalize.models import Event, ModelVersion, Shopper
from personalize.placements.pipeline import recommend_for
from personalize.profiles import load_profile
from personalize.recommenders import training
from tests import factories
from tests.recommender_data import taste_shop
from tests.testshop.models import Category, Product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artefacts_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ARTEFACT_DIR": str(tmp_path / "artefacts")}


def _import_events(tmp_path, rows: list[str]) -> None:
    path = tmp_path / "events.csv"
    path.write_text("shopper,product,kind,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    call_command("personalize_import_events", str(path), "--no-progress", stdout=StringIO(), stderr=StringIO())


# --- purchases ----------------------------------------------------------------------------
def test_a_purchase_older_than_the_profile_window_is_never_served_again(fast, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PROFILE_EVENTS": 5}
    shop = taste_shop(shoppers=12)
    bought, others = shop["a"][3], shop["a"][4:]
    shopper = Shopper.objects.create()
    start = timezone.now() - timedelta(days=3)
    Event.objects.create(shopper=shopper, kind="purchase", context={"lines": [{"product": str(bought.pk), "quantity": 1}]},
                         created_at=start)
    for n in range(8):  # more events than PROFILE_EVENTS since the purchase
        Event.objects.create(shopper=shopper, kind="view", product_key=str(others[n % len(others)].pk),
                             created_at=start + timedelta(hours=n + 1))
    profile = load_profile(shopper)
    assert len(profile.interactions) == 5 and str(bought.pk) in profile.purchased_keys
    training.train_all(force=True)
    served = recommend_for(shopper, "for_you", limit=12).keys
    assert served and str(bought.pk) not in served


def test_a_short_history_costs_no_extra_query(fast, django_assert_num_queries):
    product = factories.product()
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    shopper = Shopper.objects.select_related("cart").get(pk=shopper.pk)
    with django_assert_num_queries(1):
        load_profile(shopper)


# --- nothing learnt, nothing served -----------------------------------------------------------
def test_a_recommender_without_events_of_its_kinds_is_not_activated(fast):
    taste_shop(shoppers=12)
    Event.objects.filter(kind="view").delete()
    version = training.train(alias="also_viewed", force=True)
    assert version.status == ModelVersion.Status.REJECTED and not version.is_active
    assert "no view events" in version.error
    out, err = StringIO(), StringIO()
    call_command("personalize_train", "--alias", "also_viewed", "--no-progress", stdout=out, stderr=err)  # exit 0
    assert "Rejected" in out.getvalue() and "no view events" in err.getvalue()


def test_a_model_scoring_zero_is_never_activated_even_forced(fast, monkeypatch):
    taste_shop(shoppers=12)
    real_tune = training.tune

    def zero(*args, **kwargs):
        result = real_tune(*args, **kwargs)
        result.validation["ndcg@10"] = 0.0
        return result

    monkeypatch.setattr(training, "tune", zero)
    version = training.train(alias="default", force=True)
    assert version.status == ModelVersion.Status.REJECTED and "scored ndcg@10 0" in version.error
    assert not ModelVersion.objects.filter(alias="default", is_active=True).exists()


def test_a_model_below_the_popular_baseline_serves_only_when_forced(fast, monkeypatch):
    taste_shop(shoppers=12)
    real_tune = training.tune

    def weak(*args, **kwargs):
        result = real_tune(*args, **kwargs)
        result.validation["ndcg@10"] = result.baseline["ndcg@10"] / 2
        return result

    monkeypatch.setattr(training, "tune", weak)
    rejected = training.train(alias="default")
    assert rejected.status == ModelVersion.Status.REJECTED and "below the popular baseline" in rejected.error
    assert training.train(alias="default", force=True).is_active


# --- export keyed by the imported ids ---------------------------------------------------------
def test_export_keys_lists_by_the_imported_shopper_ids(fast, tmp_path):
    shop = taste_shop(shoppers=8)
    a, b = shop["a"], shop["b"]
    now = timezone.now() - timedelta(hours=1)
    _import_events(tmp_path, [f"cust-1,{a[2].pk},purchase,{now.isoformat()}", f"cust-2,{b[2].pk},view,{now.isoformat()}"])
    training.train_all(force=True)
    path = tmp_path / "recs.json"
    call_command("personalize_export_recommendations", "--key", "external", "--limit", "3", "--output", str(path),
                 "--no-progress", stderr=StringIO())
    lists = json.loads(path.read_text())
    assert set(lists) == {"cust-1", "cust-2"}  # shoppers without an external id are left out
    assert lists["cust-1"] and str(a[2].pk) not in lists["cust-1"]
    err = StringIO()
    call_command("personalize_export_recommendations", "--key", "external", "--shoppers", "cust-2,nobody", "--output",
                 str(path), "--no-progress", stderr=err)
    assert set(json.loads(path.read_text())) == {"cust-2"} and "1 of the listed" in err.getvalue()
    ids = tmp_path / "ids.txt"
    ids.write_text("cust-1\n\n", encoding="utf-8")
    call_command("personalize_export_recommendations", "--key", "external", "--shoppers-file", str(ids), "--output",
                 str(path), "--no-progress", stderr=StringIO())
    assert set(json.loads(path.read_text())) == {"cust-1"}
    with pytest.raises(CommandError, match="UUID"):
        call_command("personalize_export_recommendations", "--shoppers", "cust-1", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("personalize_export_recommendations", "--shoppers-file", str(tmp_path / "missing"), stdout=StringIO())


def test_export_refuses_to_serve_fallbacks_when_the_model_cannot_be_loaded(fast, tmp_path, settings):
    taste_shop(shoppers=8)
    version = training.train(alias="default", force=True)
    assert version.is_active
    # another process looking in another folder (the reported bug: artefacts in another media root)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ARTEFACT_DIR": str(tmp_path / "elsewhere")}
    settings.MEDIA_ROOT = str(tmp_path / "elsewhere-media")
    with pytest.raises(CommandError, match=f"#{version.pk}.*cannot be loaded"):
        call_command("personalize_export_recommendations", "--output", str(tmp_path / "x.json"), "--no-progress",
                     stderr=StringIO())
    assert not (tmp_path / "x.json").exists()


def test_training_fails_loudly_when_the_model_cannot_be_saved(fast):
    taste_shop(shoppers=8)
    with mock.patch("django.core.files.storage.FileSystemStorage.save", side_effect=OSError("disk full")):
        with pytest.raises(CommandError, match="failed for: default"):
            call_command("personalize_train", "--alias", "default", "--no-progress", stdout=StringIO(), stderr=StringIO())
    version = ModelVersion.objects.get(alias="default")
    assert version.status == ModelVersion.Status.FAILED and "cannot be saved: disk full" in version.error


# --- the training window ----------------------------------------------------------------------
def test_an_empty_training_window_is_explained(fast):
    product = factories.product()
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk),
                         created_at=timezone.now() - timedelta(days=400))
    with pytest.raises(CommandError, match=r"0 events in the last 365 days .*1 older or newer.*--since or TRAINING_WINDOW_DAYS"):
        call_command("personalize_train", "--no-progress", stdout=StringIO(), stderr=StringIO())
    version = training.train(alias="default")
    assert version.status == ModelVersion.Status.FAILED and "0 events in the last 365 days" in version.error


def test_the_printed_score_is_labelled_as_validation(fast):
    taste_shop(shoppers=12)
    out = StringIO()
    call_command("personalize_train", "--alias", "default", "--no-progress", stdout=out, stderr=StringIO())
    assert "validation NDCG@10" in out.getvalue() and "; chose " in out.getvalue() and "KNN_WEIGHT=" in out.getvalue()


# --- catalogue import -------------------------------------------------------------------------
def test_catalogue_import_creates_and_updates_products_through_the_adapter(tmp_path):
    existing = factories.product(name="Old name")
    new_key = uuid.uuid4()
    path = tmp_path / "products.csv"
    path.write_text(
        "key,title,price,category,brand,stock\n"
        f"{existing.pk},New name,12.50,Cameras,Acme,3\n"
        f"{new_key},Lens,99,Cameras,,0\n"
        "not-a-uuid,Broken,1,Cameras,,1\n"
        f"{uuid.uuid4()},Bad price,abc,Cameras,,1\n",
        encoding="utf-8",
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="2 row\\(s\\) rejected"):
        call_command("personalize_import_products", str(path), stdout=out, stderr=err)
    assert "1 product(s) created, 1 updated, 2 rejected" in out.getvalue()
    assert "row 3: invalid product key" in err.getvalue() and "row 4: price" in err.getvalue()
    existing.refresh_from_db()
    lens = Product.objects.get(pk=new_key)
    assert existing.name == "New name" and str(existing.price) == "12.50" and existing.brand == "Acme"
    assert lens.category == existing.category and Category.objects.filter(name="Cameras").count() == 1 and lens.stock == 0


def test_catalogue_import_json_strict_and_dry_run(tmp_path):
    key = uuid.uuid4()
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"products": [{"key": str(key), "name": "Tripod", "category": "Gear", "price": 30}]}))
    call_command("personalize_import_products", str(good), "--dry-run", stdout=StringIO())
    assert not Product.objects.filter(pk=key).exists()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"key": str(key), "name": "Tripod", "category": "Gear"}, {"key": str(uuid.uuid4()), "colour": "red"}]))
    with pytest.raises(CommandError, match="1 row"):
        call_command("personalize_import_products", str(bad), "--strict", stdout=StringIO(), stderr=StringIO())
    assert not Product.objects.filter(pk=key).exists()  # strict: nothing saved
    call_command("personalize_import_products", str(good), stdout=StringIO())
    assert Product.objects.get(pk=key).name == "Tripod"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("personalize_import_products", str(broken), stdout=StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("personalize_import_products", str(tmp_path / "none.csv"), stdout=StringIO())


# --- the category cap follows the validation split unless the store set it ----------------------
def test_a_cap_the_validation_found_harmful_is_relaxed_unless_the_store_set_it(settings):
    from personalize.placements.config import get_placement, served_diversity
    from personalize.recommenders.lightfm import LightFMRecommender

    harmful = LightFMRecommender("default")
    harmful.tuned = {"DIVERSITY_OFF": ["category"]}
    config = get_placement("for_you")
    assert config.diversity.get("category") and "category" not in served_diversity(config, harmful)
    assert served_diversity(config, LightFMRecommender("default")) == config.diversity  # nothing recorded
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PLACEMENTS": {"for_you": {"diversity": {"category": 2}}}}
    assert served_diversity(get_placement("for_you"), harmful)["category"] == 2  # the store's own cap stays
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PLACEMENTS": {}, "DIVERSITY": {"category": 3}}
    assert served_diversity(get_placement("for_you"), harmful)["category"] == 3
