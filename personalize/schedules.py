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
# Lifecycle emails: find due carts and lapsed customers, claim and send (personalize.emails).
DEFAULT_SCHEDULES.append({"name": "personalize: send lifecycle emails", "task": "personalize.emails.send_due", "every_minutes": 10})
# Recommenders: nightly retraining (personalize.recommenders) and hourly trending lists.
DEFAULT_SCHEDULES.append(
    {"name": "personalize: train recommenders", "task": "personalize.train", "crontab": {"minute": "30", "hour": "3"}}
)
DEFAULT_SCHEDULES.append({"name": "personalize: refresh trending lists", "task": "personalize.refresh_popular", "every_minutes": 60})
# Placements: search-suggestion statistics, recomputed before their cache expires.
DEFAULT_SCHEDULES.append(
    {"name": "personalize: refresh search suggestions", "task": "personalize.refresh_search_suggestions", "every_minutes": 10}
)


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
# Segments: refresh materialised memberships (personalize.segments).
DEFAULT_SCHEDULES.append({"name": "personalize: refresh segments", "task": "personalize.segments.refresh", "every_minutes": 15})
