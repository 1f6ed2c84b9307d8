"""The test infrastructure itself: the service rule, eager tasks, the real worker, docs coverage."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from personalize.conf import DEFAULTS
from personalize.models import Event, Shopper
from tests import services
from tests.celery_app import QUEUE, app, record_event

ROOT = Path(__file__).resolve().parent.parent


# --- the service rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "auto"),
        ({"CI": "true"}, "require"),
        ({"CI": "false"}, "auto"),
        ({"CI": "true", "PERSONALIZE_SERVICES": "off"}, "off"),
        ({"PERSONALIZE_SERVICES": "Require"}, "require"),
        ({"CI": "true", "PERSONALIZE_SERVICES": "auto"}, "auto"),
    ],
)
def test_service_mode(env, mode):
    assert services.service_mode(env) == mode


def test_service_mode_rejects_unknown_value():
    with pytest.raises(ValueError, match="PERSONALIZE_SERVICES='sometimes'"):
        services.service_mode({"PERSONALIZE_SERVICES": "sometimes"})


def test_redis_url_prefers_redis_url_and_ignores_other_brokers():
    assert services.redis_url({"REDIS_URL": "redis://r:6379/1", "CELERY_BROKER_URL": "redis://b/0"}) == "redis://r:6379/1"
    assert services.redis_url({"CELERY_BROKER_URL": "rediss://b:6380/0"}) == "rediss://b:6380/0"
    assert services.redis_url({"CELERY_BROKER_URL": "amqp://guest@rabbit//"}) is None
    assert services.redis_url({}) is None


def test_broker_url_treats_memory_transport_as_no_broker():
    assert services.broker_url({"CELERY_BROKER_URL": "memory://"}) is None
    assert services.broker_url({"CELERY_BROKER_URL": ""}) is None
    assert services.broker_url({"CELERY_BROKER_URL": "redis://h:6379/0"}) == "redis://h:6379/0"


def test_unconfigured_and_unreachable_services_are_named_in_the_reason():
    assert "REDIS_URL" in services.redis_problem(None)
    assert "CELERY_BROKER_URL is unset" in services.broker_problem(None)
    # Port 9 (discard) on localhost: nothing listens there, the connection is refused at once.
    problem = services.redis_problem("redis://:secret@127.0.0.1:9/0")
    assert "redis://:***@127.0.0.1:9/0 is unreachable" in problem
    assert "secret" not in problem


def test_in_memory_sqlite_cannot_be_shared_with_a_worker():
    class Creation:
        def __init__(self, name):
            self.name = name

        def _get_test_db_name(self):
            return self.name

    class Conn:
        vendor = "sqlite"

        def __init__(self, name):
            self.creation = Creation(name)

    assert "in-memory SQLite" in services.shared_database_problem(Conn("file:memorydb_default?mode=memory&cache=shared"))
    assert services.shared_database_problem(Conn("/tmp/test.sqlite3")) is None


# --- Celery in the test process -----------------------------------------------------------


@pytest.mark.django_db
def test_tasks_run_inline_outside_worker_tests():
    """Even with a real broker configured (CI's second stage) unmarked tests stay eager."""
    shopper = Shopper.objects.create()
    result = record_event.delay(shopper.pk, "view", "p-1")
    assert result.get()["pid"] == os.getpid()
    assert Event.objects.filter(shopper=shopper, kind="view", product_key="p-1").count() == 1


def test_each_run_has_its_own_queue():
    assert QUEUE.startswith("personalize-tests-")
    assert app.conf.task_default_queue == QUEUE


# --- services --------------------------------------------------------------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_writes_to_the_test_database(celery_worker_process):
    shopper = Shopper.objects.create()
    result = record_event.delay(shopper.pk, "add_to_cart", "p-2")
    ran = result.get(timeout=60)

    assert ran["pid"] not in (os.getpid(), celery_worker_process.process.pid)  # a pool process
    assert ran["database"] == connection.settings_dict["NAME"]
    event = Event.objects.get(pk=ran["event_id"])
    assert (event.shopper_id, event.kind, event.product_key) == (shopper.pk, "add_to_cart", "p-2")


@pytest.mark.redis
def test_redis_round_trip(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    key = f"{QUEUE}:infra-check"
    try:
        client.set(key, "ok", ex=60)
        assert client.get(key) == b"ok"
    finally:
        client.delete(key)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_skip_locked_lets_two_workers_claim_different_rows():
    """The idiom jobs use to claim work (``select_for_update(skip_locked=True)``) on PostgreSQL."""
    first, second = Shopper.objects.create(), Shopper.objects.create()
    claimed_elsewhere: list[int] = []

    def other_worker() -> None:
        try:
            with transaction.atomic():
                rows = Shopper.objects.select_for_update(skip_locked=True).filter(pk__in=[first.pk, second.pk])
                claimed_elsewhere.extend(rows.values_list("pk", flat=True))
        finally:
            connection.close()  # this thread's own connection

    with transaction.atomic():
        list(Shopper.objects.select_for_update().filter(pk=first.pk))
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(30)

    assert claimed_elsewhere == [second.pk]


# --- repository conventions --------------------------------------------------------------


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = io.StringIO()
    try:
        call_command("makemigrations", "personalize", "testshop", check=True, dry_run=True, stdout=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration (run makemigrations, see the brief):\n{out.getvalue()}")




def test_every_setting_is_documented():
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = [key for key in DEFAULTS if f"`{key}`" not in text]
    assert not missing, f"add these PERSONALIZE keys to docs/settings.md: {', '.join(missing)}"


def test_every_system_check_is_documented():
    ids = set()
    for path in (ROOT / "personalize").rglob("*.py"):
        ids.update(re.findall(r"personalize\.[EW]\d{3}", path.read_text()))
    text = (ROOT / "docs" / "checks.md").read_text()
    missing = sorted(i for i in ids if f"`{i}`" not in text)
    assert ids and not missing, f"add these check ids to docs/checks.md: {', '.join(missing)}"
