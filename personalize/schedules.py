"""Default periodic jobs, created in django-celery-beat after ``migrate`` if missing.

Marketers edit or disable them in the admin; personalize never overwrites an existing row.
Each capability appends its job to ``DEFAULT_SCHEDULES``.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("personalize")

# name, task name, schedule: {"crontab": {...}} or {"every_minutes": N}
DEFAULT_SCHEDULES: list[dict[str, Any]] = []


def ensure_schedules(**kwargs: Any) -> None:
    """Create the default ``PeriodicTask`` rows that do not exist yet (post_migrate receiver)."""
    try:
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
    except ImportError:  # django-celery-beat not installed: nothing to schedule
        return
    for job in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=job["name"]).exists():
            continue
        fields: dict[str, Any] = {"name": job["name"], "task": job["task"]}
        if "crontab" in job:
            fields["crontab"], _ = CrontabSchedule.objects.get_or_create(**job["crontab"])
        else:
            fields["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=job["every_minutes"], period=IntervalSchedule.MINUTES
            )
        PeriodicTask.objects.create(**fields)
