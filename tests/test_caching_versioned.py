"""Values keyed by their version are held longer in the process; Django's Redis client is reused."""

from __future__ import annotations

import time

import pytest
from django.core.cache.backends.locmem import LocMemCache

from personalize.caching.breaker import ReusingRedisCacheClient, build_backend
from personalize.caching.local import LocalLayer
from personalize.placements import pipeline
from personalize.profiles import ShopperProfile


@pytest.fixture
def shared():
    return LocMemCache("versioned-test", {})


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


@pytest.fixture(autouse=True)
def _bounds(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5, "LOCAL_VERSIONED_SECONDS": 120}


def test_a_versioned_value_outlives_the_freshness_bound_and_a_plain_one_does_not(shared, clock):
    layer = LocalLayer(lambda: shared)
    layer.set("plain", 1, 300)
    layer.set("versioned", 2, 300, versioned=True)
    shared.delete_many(["plain", "versioned"])  # only what the process holds answers now
    clock[0] += 6
    assert layer.get("plain") is None
    assert layer.get("versioned", versioned=True) == 2
    clock[0] += 120
    assert layer.get("versioned", versioned=True) is None


def test_a_versioned_read_is_held_no_longer_than_the_shared_timeout_when_written(shared, clock):
    layer = LocalLayer(lambda: shared)
    layer.set("short", 1, 10, versioned=True)
    shared.delete("short")
    clock[0] += 11
    assert layer.get("short", versioned=True) is None


def test_no_local_bound_holds_nothing_even_versioned(settings, shared, clock):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    layer = LocalLayer(lambda: shared)
    layer.set("versioned", 2, 300, versioned=True)
    shared.delete("versioned")
    assert layer.get("versioned", versioned=True) is None
    layer.hold("held", 3, versioned=True)
    assert layer.held("held") == (False, None)


def test_hold_is_bounded_by_its_seconds(shared, clock):
    layer = LocalLayer(lambda: shared)
    layer.hold("html", "<ul>", seconds=60, versioned=True)
    clock[0] += 59
    assert layer.held("html") == (True, "<ul>")
    clock[0] += 2
    assert layer.held("html") == (False, None)


class _Recommender:
    model_version = "v1"

    def __init__(self):
        self.calls = 0

    def similar(self, key, limit):
        self.calls += 1
        return []

    def recommend(self, profile, limit, category=None):
        self.calls += 1
        return []


def _forget_shared(monkeypatch):
    """The shared cache forgets everything: only what the process holds answers."""
    monkeypatch.setattr(pipeline.local, "_fetch", lambda keys: {})


def test_a_trained_versions_similar_list_is_held_longer_but_a_shoppers_list_is_not(monkeypatch, clock):
    pipeline.local.clear()
    engine = _Recommender()
    neutral = ShopperProfile(shopper=None)
    personal = ShopperProfile(shopper=None)
    personal.interactions.append(("p1", "view", None))
    pipeline.candidate_list(engine, "default", "similar", neutral, "p1", None, 8)
    pipeline.candidate_list(engine, "default", "recommend", neutral, "", None, 8)
    pipeline.candidate_list(engine, "default", "recommend", personal, "", None, 8)
    assert engine.calls == 3
    _forget_shared(monkeypatch)
    clock[0] += 30  # past LOCAL_CACHE_SECONDS, within LOCAL_VERSIONED_SECONDS
    pipeline.candidate_list(engine, "default", "similar", neutral, "p1", None, 8)
    pipeline.candidate_list(engine, "default", "recommend", neutral, "", None, 8)
    assert engine.calls == 3  # the same for everyone: held
    pipeline.candidate_list(engine, "default", "recommend", personal, "", None, 8)
    assert engine.calls == 4  # one shopper's taste: the usual bound


def test_an_untrained_engines_list_keeps_the_usual_bound(monkeypatch, clock):
    pipeline.local.clear()
    engine = _Recommender()
    engine.model_version = ""  # computed live: may change under the same key
    pipeline.candidate_list(engine, "live", "similar", ShopperProfile(shopper=None), "p1", None, 8)
    _forget_shared(monkeypatch)
    clock[0] += 30
    pipeline.candidate_list(engine, "live", "similar", ShopperProfile(shopper=None), "p1", None, 8)
    assert engine.calls == 2


def test_djangos_redis_backend_reuses_one_client_per_pool(settings):
    settings.CACHES = {**settings.CACHES, "redis-test": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6399/0",
    }}
    backend = build_backend("redis-test", connect=0.1, read=0.1)
    client = backend._cache
    assert isinstance(client, ReusingRedisCacheClient)
    first = client.get_client(write=True)
    assert client.get_client(write=True) is first
    assert client.get_client("any-key") is first  # one server: reads and writes share its pool
    assert first.connection_pool.connection_kwargs["socket_timeout"] == 0.1
