"""Plain functions behind Celery tasks and management commands (one module per job)."""
