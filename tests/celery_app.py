"""Celery app of the test suite, also loaded by the real worker of ``celery_worker_process``.

In the test process tasks run eagerly (``CELERY_TASK_ALWAYS_EAGER``); tests marked
``celery_worker`` switch that off and talk to a worker started with ``-A tests.celery_app``.
Each test run uses its own queue (``PERSONALIZE_TEST_QUEUE``, inherited by the worker) so runs
sharing one Redis never execute each other's tasks against the wrong database.
"""

from __future__ import annotations

import os
import uuid

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
QUEUE = os.environ.setdefault("PERSONALIZE_TEST_QUEUE", f"personalize-tests-{uuid.uuid4().hex[:12]}")

app = Celery("personalize_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(task_default_queue=QUEUE)
app.autodiscover_tasks()


@app.task(name="tests.record_event")
def record_event(shopper_pk: int, kind: str, product_key: str = "") -> dict:
    """Write an event row and report where it ran: proves the worker shares the test database."""
    from django.db import connection

    from personalize.models import Event

    event = Event.objects.create(shopper_id=shopper_pk, kind=kind, product_key=product_key)
    return {"event_id": event.pk, "pid": os.getpid(), "database": connection.settings_dict["NAME"]}
