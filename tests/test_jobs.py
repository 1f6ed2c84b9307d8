"""personalize.jobs: background jobs on a Celery worker when one is configured, else a thread."""

from __future__ import annotations

import threading

import pytest
from celery import current_app
from django.core.management import call_command
from django.urls import reverse

from personalize import jobs
from personalize.checks import check_jobs
from personalize.models import Segment

RAN: list[str] = []


def sample_job(name: str = "x") -> list[str]:
    """Creates a segment (so a test sees the job's database work) from whichever thread runs it."""
    Segment.objects.create(name=name, slug=name)
    RAN.append(threading.current_thread().name)
    return [name]


def failing_job() -> None:
    raise ValueError("the recommender has no data")


@pytest.fixture(autouse=True)
def _clear():
    RAN.clear()
    yield


@pytest.mark.django_db
def test_inline_runs_before_returning_and_records_the_status(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "inline"}
    job = jobs.start("tests.test_jobs:sample_job", label="Sample", kwargs={"name": "inline"})
    assert job.state == jobs.DONE and job.runner == "inline"
    assert Segment.objects.filter(slug="inline").exists()
    assert "Sample: done" in jobs.status("tests.test_jobs:sample_job").line()


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_job_runs_in_a_thread_and_the_request_returns_first(settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "auto"}
    # Eager Celery, whatever broker the run was started with (CI's PostgreSQL stage has a real one).
    monkeypatch.setitem(current_app.conf, "task_always_eager", True)
    assert jobs.runner() == "thread"  # eager Celery would block the admin page: a thread instead
    job = jobs.start("tests.test_jobs:sample_job", label="Sample", name="sample-thread", kwargs={"name": "threaded"})
    assert job.runner == "thread" and job.state in (jobs.QUEUED, jobs.RUNNING, jobs.DONE)
    done = jobs.wait("sample-thread", timeout=30)
    assert done is not None and done.state == jobs.DONE, done
    assert RAN and RAN[0].startswith("personalize-job-")  # not the test's own thread
    assert Segment.objects.filter(slug="threaded").exists()
    assert "in a thread of the web process" in str(done.line())


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_says_why(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "thread"}
    jobs.start("tests.test_jobs:failing_job", label="Training", name="failing")
    done = jobs.wait("failing", timeout=30)
    assert done.state == jobs.FAILED
    assert "ValueError: the recommender has no data" in done.line()


def test_the_check_says_how_to_run_a_worker(settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "auto"}
    # No worker can listen (Celery reads CELERY_BROKER_URL from the environment before its config).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setitem(current_app.conf, "broker_url", "memory://")
    messages = check_jobs()
    assert [m.id for m in messages] == ["personalize.W005"]
    assert "celery" in messages[0].hint.lower() and "CELERY_BROKER_URL" in messages[0].hint
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "bogus"}
    assert [m.id for m in check_jobs()] == ["personalize.E006"]


@pytest.mark.django_db
def test_the_check_runs_through_manage_py(settings, capsys, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "auto"}
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setitem(current_app.conf, "broker_url", "memory://")
    call_command("check")
    assert "personalize.W005" in capsys.readouterr().err


@pytest.mark.django_db
def test_admin_train_now_starts_a_job_and_the_list_shows_its_status(admin_client, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "inline"}
    response = admin_client.post(reverse("admin:personalize_modelversion_train"), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Training of every recommender started (inline)" in html
    assert "data-personalize-job-status" in html and "Training every recommender:" in html
