"""Settings of the real Celery worker started by the ``celery_worker_process`` fixture.

The test settings, pointed at the database pytest-django created for this run (its name arrives
in ``PERSONALIZE_WORKER_DB_NAME``), so rows the worker writes are the rows the test reads.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["PERSONALIZE_WORKER_DB_NAME"]
# The worker runs tasks for real, and tasks it enqueues go back through the broker.
CELERY_TASK_ALWAYS_EAGER = False
