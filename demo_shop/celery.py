"""Celery app of the demo shop (the standard Django layout).

Configured from Django settings with the ``CELERY_`` prefix; without ``CELERY_BROKER_URL`` the
demo runs tasks eagerly and needs no worker. With one: ``make worker`` (worker + beat).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_shop.settings")

app = Celery("demo_shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
