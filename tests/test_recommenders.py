"""Recommender backends on small generated shops."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from personalize.models import Event, Shopper
from personalize.profiles import ShopperProfile
from personalize.recommenders import Artefact, Recommendation, get_recommender, reset_recommenders
from personalize.recommenders.cooccurrence import CoOccurrenceRecommender
from personalize.recommenders.lightfm import LightFMRecommender
from personalize.models import ModelVersion
from personalize.recommenders.testing import DeterministicRecommender
from personalize.recommenders.training import load_training_data, train
from tests import factories
from tests.recommender_data import taste_shop

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def artefacts_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def profile_of(*products, kind="view") -> ShopperProfile:
    now = timezone.now()
    return ShopperProfile(
        shopper=None, interactions=[(str(p.pk), kind, now - timedelta(minutes=i)) for i, p in enumerate(products)]
    )


def keys(products) -> set[str]:
    return {str(p.pk) for p in products}


# --- the registry -------------------------------------------------------------------------
def test_get_recommender_builds_once_per_alias_and_resets_on_settings_change(settings, fast):
    first = get_recommender("popular")
    assert get_recommender("popular") is first
    assert isinstance(get_recommender(), LightFMRecommender)
    assert get_recommender("bought_together").option("KINDS") == ["purchase"]
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 1}
    assert get_recommender("popular") is not first


def test_unknown_alias_or_backend_is_a_configuration_error(settings):
    with pytest.raises(ImproperlyConfigured, match="nope"):
        get_recommender("nope")
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDERS": {"default": {"BACKEND": "os.path.join"}}}
    with pytest.raises(ImproperlyConfigured):
        get_recommender()


def test_deterministic_recommender_excludes_and_filters_by_category():
    cat = factories.category()
    a, b = factories.product(category=cat), factories.product()
    rec = DeterministicRecommender("t", {"ITEMS": [str(a.pk), str(b.pk), "x"], "VERSION": "v9"})
    assert [r.key for r in rec.recommend(ShopperProfile(None), limit=5, exclude=["x"])] == [str(a.pk), str(b.pk)]
    assert [r.key for r in rec.recommend(ShopperProfile(None), limit=5, category=str(cat.pk))] == [str(a.pk)]
    assert [r.key for r in rec.similar(str(a.pk), limit=5)] == [str(b.pk), "x"]
    assert rec.model_version == "v9"


def test_artefact_round_trip_and_corruption_is_detected():
    artefact = Artefact(arrays={"x": np.arange(3, dtype=np.float32), "k": np.array(["a", "b"])}, meta={"n": 1})
    back = Artefact.from_bytes(artefact.to_bytes())
    assert back.meta == {"n": 1} and list(back.arrays["k"]) == ["a", "b"]
    with pytest.raises(ValueError):
        Artefact.from_bytes(b"not a zip at all")


# --- popular ------------------------------------------------------------------------------
def test_popular_decays_with_time_and_weights_kinds(fast):
    old, new, bought = factories.product(), factories.product(), factories.product()
    shopper = Shopper.objects.create()
    now = timezone.now()
    events = [
        Event(shopper=shopper, kind="view", product_key=str(old.pk), created_at=now - timedelta(days=20)) for _ in range(6)
    ]
    events += [Event(shopper=shopper, kind="view", product_key=str(new.pk), created_at=now - timedelta(hours=1)) for _ in range(2)]
    events += [Event(shopper=shopper, kind="purchase", product_key=str(bought.pk), created_at=now - timedelta(hours=2))]
    Event.objects.bulk_create(events)
    ranked = [r.key for r in get_recommender("popular").recommend(ShopperProfile(None), limit=3)]
    # 6 views 20 days ago (< 6 * 0.5^(20/7) ≈ 0.8) count less than 2 fresh views; a purchase weighs 5
    assert ranked == [str(bought.pk), str(new.pk), str(old.pk)]


def test_popular_lists_per_category_are_cached_and_cost_no_query_when_warm(fast, django_assert_num_queries):
    shop = taste_shop(shoppers=12)
    popular = get_recommender("popular")
    first = popular.recommend(ShopperProfile(None), limit=5, category=str(shop["cat_b"].pk))
    assert first and {r.key for r in first} <= keys(shop["b"])
    assert "Books" in first[0].reason
    with django_assert_num_queries(0):
        again = popular.recommend(ShopperProfile(None), limit=5, category=str(shop["cat_b"].pk))
        everything = popular.recommend(ShopperProfile(None), limit=50)
    assert again == first
    assert len(everything) == len(keys(shop["a"]) | keys(shop["b"]))


def test_popular_similar_stays_in_the_category(fast):
    shop = taste_shop(shoppers=12)
    similar = get_recommender("popular").similar(str(shop["a"][2].pk), limit=10)
    assert similar and {r.key for r in similar} <= keys(shop["a"]) - {str(shop["a"][2].pk)}


# --- co-occurrence ------------------------------------------------------------------------
def test_cooccurrence_finds_the_complementary_pair():
    shop = taste_shop()
    rec = CoOccurrenceRecommender("bt", {"KINDS": ["purchase"]})
    rec.fit(load_training_data())
    similar = rec.similar(str(shop["camera"].pk), limit=3)
    assert similar[0].key == str(shop["lens"].pk)
    assert "bought together" in similar[0].reason
    # the profile of someone who bought the camera points to the lens
    out = rec.recommend(profile_of(shop["camera"], kind="purchase"), limit=3)
    assert out[0].key == str(shop["lens"].pk)


def test_cooccurrence_views_stay_within_taste_and_exclude_seen():
    shop = taste_shop()
    rec = CoOccurrenceRecommender("av", {"KINDS": ["view"]})
    rec.fit(load_training_data())
    out = rec.recommend(profile_of(shop["b"][0], shop["b"][1]), limit=4)
    assert out and {r.key for r in out} <= keys(shop["b"][2:])
    assert rec.recommend(ShopperProfile(None), limit=4) == []


def test_cooccurrence_without_a_trained_version_returns_nothing(fast):
    shop = taste_shop(shoppers=8)
    assert get_recommender("bought_together").similar(str(shop["camera"].pk), limit=3) == []


# --- LightFM hybrid -----------------------------------------------------------------------
def test_lightfm_two_views_in_a_category_shift_the_list_without_retraining(fast):
    shop = taste_shop()
    version = train(alias="default")
    assert version.is_active, version.error
    rec = get_recommender()
    for group, other in (("a", "b"), ("b", "a")):
        profile = profile_of(shop[group][2], shop[group][3])  # an anonymous shopper, never trained on
        out = rec.recommend(profile, limit=4)
        in_group = sum(r.key in keys(shop[group]) for r in out)
        assert in_group >= 3, (group, out)
        assert not {r.key for r in out} & {str(shop[group][2].pk), str(shop[group][3].pk)}
    assert rec.model_version == str(version.pk)


def test_lightfm_scores_a_saved_shopper_from_the_live_profile(fast):
    from personalize.profiles import load_profile

    shop = taste_shop()
    train(alias="default")
    newcomer = Shopper.objects.create(country="FR")
    now = timezone.now()
    Event.objects.bulk_create(
        [Event(shopper=newcomer, kind="view", product_key=str(p.pk), created_at=now) for p in shop["b"][:2]]
    )
    out = get_recommender().recommend(load_profile(newcomer), limit=4)
    assert sum(r.key in keys(shop["b"]) for r in out) >= 3
    assert all(isinstance(r, Recommendation) and r.reason for r in out)


def test_lightfm_similar_and_category_filter(fast):
    shop = taste_shop()
    train(alias="default")
    rec = get_recommender()
    similar = rec.similar(str(shop["a"][4].pk), limit=3)
    assert len(similar) == 3 and str(shop["a"][4].pk) not in {r.key for r in similar}
    out = rec.recommend(profile_of(shop["a"][2]), limit=5, category=str(shop["cat_b"].pk))
    assert out and {r.key for r in out} <= keys(shop["b"])


def test_lightfm_without_a_model_falls_back_to_popular(fast):
    shop = taste_shop(shoppers=12)
    rec = get_recommender()
    assert rec.model_version == ""
    out = rec.recommend(ShopperProfile(None), limit=5, exclude=[str(shop["a"][0].pk)])
    popular = get_recommender("popular").recommend(ShopperProfile(None), limit=5, exclude=[str(shop["a"][0].pk)])
    assert [r.key for r in out] == [r.key for r in popular] and out


def test_lightfm_empty_profile_gets_popular_even_with_a_model(fast):
    taste_shop()
    train(alias="default")
    out = get_recommender().recommend(ShopperProfile(None), limit=3)
    assert [r.key for r in out] == [r.key for r in get_recommender("popular").recommend(ShopperProfile(None), limit=3)]


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_corrupt_or_missing_artefact_falls_back_and_is_flagged(fast, damage):
    shop = taste_shop()
    version = train(alias="default")
    storage = version.artefact.storage  # private artefact storage (personalize.storage)
    if damage == "corrupt":
        with storage.open(version.artefact.name, "wb") as handle:
            handle.write(b"garbage")
    else:
        storage.delete(version.artefact.name)
    reset_recommenders()
    rec = get_recommender()
    out = rec.recommend(profile_of(shop["a"][2], shop["a"][3]), limit=3)
    assert len(out) == 3  # served by the fallbacks
    assert rec.model_version == ""
    version.refresh_from_db()
    assert version.load_error and version.is_active


def test_lightfm_reloads_when_the_active_version_changes(fast, django_capture_on_commit_callbacks):
    shop = taste_shop()
    with django_capture_on_commit_callbacks(execute=True):
        first = train(alias="default")
    rec = get_recommender()
    rec.recommend(profile_of(shop["a"][2]), limit=2)
    assert rec.model_version == str(first.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = train(alias="default", force=True)
    assert second.is_active
    assert get_recommender().model_version == str(second.pk)
    assert ModelVersion.objects.get(pk=first.pk).is_active is False


def test_warm_lightfm_recommend_runs_no_query(fast, django_assert_num_queries):
    shop = taste_shop()
    train(alias="default")
    rec = get_recommender()
    rec.options["RELOAD_SECONDS"] = 60
    profile = profile_of(shop["a"][2], shop["a"][3])
    rec.recommend(profile, limit=5)
    with django_assert_num_queries(0):
        rec.recommend(profile, limit=5)
        rec.similar(str(shop["a"][2].pk), limit=5)


def test_system_checks_report_bad_recommender_settings(settings):
    from personalize.recommenders.checks import check_recommenders

    assert check_recommenders() == []
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDERS": {"popular": {}}}
    assert [e.id for e in check_recommenders()] == ["personalize.E010"]
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "RECOMMENDERS": {"default": {"BACKEND": "nowhere.Backend"}, "x": {"BACKEND": "os.path.join"}},
    }
    assert sorted(e.id for e in check_recommenders()) == ["personalize.E011", "personalize.E012"]


def test_artefacts_go_to_private_storage_not_media_root(fast):
    """A hybrid model holds a vector per shopper: its file must not be under MEDIA_ROOT."""
    from pathlib import Path

    from django.conf import settings

    taste_shop()
    version = train(alias="default")
    path = Path(version.artefact.path).resolve()
    assert path.exists()
    assert not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    with pytest.raises(ValueError):
        version.artefact.url  # no URL can serve it
