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
# Emails the worker sends land in files the test process can read (the locmem outbox lives in
# the worker's memory): one directory per run, named after the run's queue (tests/test_emails_concurrency.py).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(
    __import__("tempfile").gettempdir(), f"{os.environ.get('PERSONALIZE_TEST_QUEUE', 'personalize-tests')}-mail"
)
