"""The demo store for django-personalize: a small real shop that uses only personalize's public API."""

# Load the Celery app whenever Django starts so @shared_task binds to it.
from demo_shop.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
