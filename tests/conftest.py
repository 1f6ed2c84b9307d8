"""Shared fixtures, the service rule for tests marked postgres/redis/celery_worker, and the real
Celery worker fixture. The rule is documented in tests/services.py and docs/development.md."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import services
from tests.celery_app import QUEUE
from tests.celery_app import app as celery_app

WORKER_START_TIMEOUT = 90  # seconds; generous because CI shares two cores with other work
WORKER_STOP_TIMEOUT = 30


@pytest.fixture
def client_ua(client):
    """The test client with a browser User-Agent (bots never get a shopper)."""
    from tests.factories import BROWSER_UA

    client.defaults["HTTP_USER_AGENT"] = BROWSER_UA
    return client


# --- services ----------------------------------------------------------------------------


_started_workers: list[str] = []


def _services_line() -> str:
    from django.db import connection

    redis_url = services.redis_url()
    broker = services.broker_url()
    worker = f"started ({_started_workers[0]})" if _started_workers else "not started"
    return (
        f"personalize services: PERSONALIZE_SERVICES={services.service_mode()} (CI={os.environ.get('CI', '')!r}); "
        f"test database: {connection.vendor} {connection.creation._get_test_db_name()}; "
        f"redis: {services.redact(redis_url) if redis_url else 'not configured'}; "
        f"broker: {services.redact(broker) if broker else 'none (eager)'}; worker: {worker}"
    )


def pytest_terminal_summary(terminalreporter) -> None:
    """One line saying which services this run used (the header is hidden by ``-q``)."""
    terminalreporter.write_line(_services_line())


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip or fail a test whose service is missing, according to ``PERSONALIZE_SERVICES``."""
    needed = [name for name in services.SERVICE_MARKERS if item.get_closest_marker(name)]
    if not needed:
        return
    mode = services.service_mode()
    if mode == "off":
        pytest.skip(f"needs {'+'.join(needed)}; PERSONALIZE_SERVICES=off: {services.PG_STAGE}")
    found = services.problems(needed)
    if not found:
        return
    if mode == "require":
        pytest.fail(
            "PERSONALIZE_SERVICES=require (CI never skips service tests): " + "; ".join(found),
            pytrace=False,
        )
    pytest.skip("; ".join(found) + f" — {services.PG_STAGE}")


@pytest.fixture
def redis_url() -> str:
    """The Redis URL of this run (tests using it must be marked ``redis``)."""
    url = services.redis_url()
    assert url, "mark the test with @pytest.mark.redis"
    return url


# --- real Celery worker ------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    hostname: str
    queue: str
    database: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _stop(worker: WorkerProcess) -> None:
    proc = worker.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: finish running tasks, close connections
        try:
            proc.wait(WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    try:  # the pool's children share the session we started; make sure none outlives us
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _purge_queue(queue: str) -> None:
    """Remove this run's queue (and its bindings) from Redis; other brokers keep it."""
    url = services.broker_url()
    if not url or not url.startswith(("redis://", "rediss://")):
        return
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def celery_worker_process(request, django_db_setup, tmp_path_factory) -> WorkerProcess:
    """A real ``celery worker`` (prefork, 2 processes) on the run's broker and test database.

    The worker gets the name of the database pytest-django created (``tests.worker_settings``)
    and a queue of its own, answers ``ping`` before the first test uses it, and is stopped at
    the end of the session, before the test database is dropped.
    """
    found = services.problems(["celery_worker"])
    if found:  # reached only through the fixture without the marker
        message = "; ".join(found)
        if services.service_mode() == "require":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    from django.db import connection

    database = str(connection.settings_dict["NAME"])
    hostname = f"{QUEUE}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    root = Path(request.config.rootpath)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "PERSONALIZE_WORKER_DB_NAME": database,
        "PERSONALIZE_TEST_QUEUE": QUEUE,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker",
        "--pool=prefork", "--concurrency=2", "--queues", QUEUE, "--hostname", hostname,
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(process, hostname, QUEUE, database, log_path)
    # The worker lives in its own session (so it can be killed as a group); make SIGTERM (CI's
    # timeout, a killed terminal) unwind pytest like Ctrl-C so this teardown still stops it.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)

    def teardown() -> None:
        signal.signal(signal.SIGTERM, previous_handler)
        _stop(worker)
        _purge_queue(QUEUE)

    request.addfinalizer(teardown)

    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"celery worker exited with {process.returncode} while starting; log:\n{worker.log_tail()}")
        if celery_app.control.ping(destination=[hostname], timeout=1.0):
            _started_workers.append(hostname)
            return worker
        if time.monotonic() > deadline:
            pytest.fail(f"celery worker did not answer ping within {WORKER_START_TIMEOUT} s; log:\n{worker.log_tail()}")


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction", marker.args[0] if marker.args else False):
        return True
    return bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _real_worker_for_marked_tests(request: pytest.FixtureRequest):
    """Tests marked ``celery_worker`` send tasks to the real worker instead of running them inline."""
    if request.node.get_closest_marker("celery_worker") is None:
        yield None
        return
    if not _is_transactional(request):
        pytest.fail(
            "a celery_worker test needs @pytest.mark.django_db(transaction=True): the worker "
            "cannot see rows inside the test's uncommitted transaction",
            pytrace=False,
        )
    worker = request.getfixturevalue("celery_worker_process")
    settings = request.getfixturevalue("settings")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _isolated_personalize_state():
    """Every test starts and ends with an empty cache, no loaded campaigns and no loaded models.

    A test's database rollback sends no signal, so state kept in the cache or in process memory
    (campaign definitions, popular lists, the active model version, throttle history) would
    otherwise leak into the next test.
    """
    _reset_personalize_state()
    yield
    _reset_personalize_state()


def _reset_personalize_state() -> None:
    from personalize.testing import reset_state

    reset_state()


@pytest.fixture
def fast(settings):
    """Recommenders configured to train the small test shops quickly."""
    from tests.recommender_data import FAST_LIGHTFM

    config = {
        "default": {"BACKEND": "personalize.recommenders.lightfm.LightFMRecommender", "OPTIONS": dict(FAST_LIGHTFM)},
        "popular": {"BACKEND": "personalize.recommenders.popular.PopularRecommender"},
        "bought_together": {
            "BACKEND": "personalize.recommenders.cooccurrence.CoOccurrenceRecommender",
            "OPTIONS": {"KINDS": ["purchase"], "RELOAD_SECONDS": 0},
        },
        "also_viewed": {
            "BACKEND": "personalize.recommenders.cooccurrence.CoOccurrenceRecommender",
            "OPTIONS": {"KINDS": ["view"], "RELOAD_SECONDS": 0},
        },
    }
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDERS": config}
    return config
