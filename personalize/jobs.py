"""Background jobs: a Celery task where a worker can receive it, else a thread in this process.

Every "run this job" (the admin's *Train now*, *Refresh now*, a long report) goes through
:func:`start`::

    from personalize import jobs
    job = jobs.start("personalize.recommenders.training:train_all", label="Training", kwargs={"force": True})
    jobs.status(job.name)  # -> Job(state="running", runner="thread", ...)

``JOBS_BACKEND`` picks the runner: ``"auto"`` (default: Celery when a real broker is configured
and tasks are not run eagerly, otherwise a daemon thread), ``"celery"``, ``"thread"`` or
``"inline"`` (run before returning: tests and scripts). The job's *status line* (queued, running,
done, failed, with times and a short message) is kept in the cache under the job's name, so the
admin page that started it shows it on the next load; it is written by whoever runs the job (a
worker needs the same cache, e.g. Redis, for the page to see its progress).

A store without Celery still works: jobs run in-process, and the check ``personalize.W005``
says how to run a worker instead.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from celery import current_app, shared_task
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from personalize.conf import personalize_settings as ps

__all__ = ["Job", "runner", "start", "status", "run_job"]

logger = logging.getLogger("personalize")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = {QUEUED: _("queued"), RUNNING: _("running"), DONE: _("done"), FAILED: _("failed")}
RUNNERS = ("auto", "celery", "thread", "inline")
STATUS_SECONDS = 24 * 3600
_threads: dict[str, threading.Thread] = {}


@dataclass
class Job:
    """One run of a job and where it stands."""

    name: str
    label: str
    runner: str
    state: str = QUEUED
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    message: str = ""

    @property
    def is_active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    def line(self) -> str:
        """One sentence for the admin page, e.g. "Training: running in a thread for 4 s"."""
        where = {"celery": _("on a Celery worker"), "thread": _("in a thread of the web process"), "inline": _("here")}
        parts = [f"{self.label}: {STATES.get(self.state, self.state)} {where.get(self.runner, '')}".strip()]
        if self.seconds is not None:
            parts.append(str(_("%(seconds)d s")) % {"seconds": round(self.seconds)})
        if self.finished_at:
            moment = datetime.fromtimestamp(self.finished_at, tz=timezone.get_current_timezone())
            parts.append(moment.strftime("%H:%M"))
        if self.message:
            parts.append(self.message)
        return " · ".join(parts)


def _key(name: str) -> str:
    return f"personalize:job:{name}"


def _save(job: Job) -> None:
    try:
        cache.set(_key(job.name), asdict(job), STATUS_SECONDS)
    except Exception:  # a status line is never worth failing the job
        logger.warning("personalize: could not store the status of job %s", job.name, exc_info=True)


def status(name: str) -> Job | None:
    """The last known run of the job called ``name`` (``None``: never run or forgotten)."""
    try:
        data = cache.get(_key(name))
    except Exception:
        logger.warning("personalize: could not read the status of job %s", name, exc_info=True)
        return None
    return Job(**data) if isinstance(data, dict) else None


def celery_configured() -> bool:
    """A broker a separate worker can listen on, and tasks not executed eagerly in the caller."""
    conf = current_app.conf
    broker = str(conf.broker_url or "")
    return bool(broker) and not broker.startswith("memory://") and not conf.task_always_eager


def runner() -> str:
    """The runner ``start`` uses now: ``celery``, ``thread`` or ``inline``."""
    chosen = str(ps.JOBS_BACKEND)
    if chosen == "auto":
        return "celery" if celery_configured() else "thread"
    return chosen


def run_job(name: str, target: str, label: str, kwargs: dict[str, Any], runner_name: str) -> Any:
    """Run ``target`` (``"module:function"``) and keep its status line up to date."""
    job = status(name) or Job(name=name, label=label, runner=runner_name)
    job.state, job.started_at, job.runner = RUNNING, time.time(), runner_name
    _save(job)
    try:
        result = import_string(target.replace(":", "."))(**kwargs)
    except Exception as exc:
        job.state, job.finished_at, job.message = FAILED, time.time(), f"{type(exc).__name__}: {exc}"[:300]
        _save(job)
        logger.exception("personalize: job %s failed", name)
        raise
    job.state, job.finished_at = DONE, time.time()
    job.message = _summary(result)
    _save(job)
    return result


def _summary(result: Any) -> str:
    if isinstance(result, (list, tuple, set)):
        return str(_("%(count)d item(s)")) % {"count": len(result)}
    if isinstance(result, (str, int)) and not isinstance(result, bool):
        return str(result)[:200]
    return ""


@shared_task(name="personalize.jobs.run")
def run_task(name: str, target: str, label: str, kwargs: dict[str, Any]) -> None:
    """The Celery side of :func:`start` (results are the status line, not the task's return)."""
    run_job(name, target, label, kwargs, "celery")


def _thread_main(name: str, target: str, label: str, kwargs: dict[str, Any]) -> None:
    close_old_connections()
    try:
        run_job(name, target, label, kwargs, "thread")
    except Exception:  # logged and recorded by run_job; a thread has no one to raise to
        pass
    finally:
        close_old_connections()
        _threads.pop(name, None)


def start(target: str, *, label: str, name: str | None = None, kwargs: dict[str, Any] | None = None) -> Job:
    """Start ``target`` (``"module:function"``) in the background; returns its queued status.

    ``name`` identifies the job for its status line (default: ``target``). A job already queued
    or running under that name in this process's thread is not started twice.
    """
    name = name or target
    kwargs = dict(kwargs or {})
    how = runner()
    running = _threads.get(name)
    if how == "thread" and running is not None and running.is_alive():
        return status(name) or Job(name=name, label=label, runner=how, state=RUNNING)
    job = Job(name=name, label=label, runner=how)
    _save(job)
    if how == "inline":
        run_job(name, target, label, kwargs, how)
    elif how == "celery":
        transaction.on_commit(lambda: run_task.delay(name, target, label, kwargs))
    else:
        thread = threading.Thread(target=_thread_main, args=(name, target, label, kwargs), name=f"personalize-job-{name}", daemon=True)
        _threads[name] = thread
        # Start after the admin's transaction commits, so the job sees what the request saved.
        transaction.on_commit(thread.start)
    return status(name) or job


def wait(name: str, timeout: float = 60.0) -> Job | None:
    """Block until the job called ``name`` is no longer queued or running (tests, scripts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        thread = _threads.get(name)
        if thread is not None and thread.is_alive():
            thread.join(timeout=0.2)
            continue
        job = status(name)
        if job is None or not job.is_active:
            return job
        time.sleep(0.1)
    return status(name)
