"""Default periodic jobs, created in django-celery-beat after ``migrate`` if missing.

Marketers edit or disable them in the admin; personalize never overwrites an existing row.
Every capability's periodic job is listed in ``DEFAULT_SCHEDULES``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps

logger = logging.getLogger("personalize")

# name, task name, schedule: {"crontab": {...}} or {"every_minutes": N}. Without
# django-celery-beat, a cron line per job runs the same work (docs/development.md).
DEFAULT_SCHEDULES: list[dict[str, Any]] = [
    # Lifecycle emails: find due carts and lapsed customers, claim and send (personalize.emails).
    {"name": "personalize: send lifecycle emails", "task": "personalize.emails.send_due", "every_minutes": 10},
    # Recommenders: nightly retraining and hourly trending lists (personalize.recommenders).
    {"name": "personalize: train recommenders", "task": "personalize.recommenders.train", "crontab": {"minute": "30", "hour": "3"}},
    {"name": "personalize: refresh trending lists", "task": "personalize.recommenders.refresh_popular", "every_minutes": 60},
    # Placements: search-suggestion statistics, recomputed before their cache expires.
    {
        "name": "personalize: refresh search suggestions",
        "task": "personalize.placements.refresh_search_suggestions",
        "every_minutes": 10,
    },
    # Segments: refresh materialised memberships (personalize.segments).
    {"name": "personalize: refresh segments", "task": "personalize.segments.refresh", "every_minutes": 15},
    # Privacy: delete what is older than the retention settings, in small batches (docs/privacy.md).
    {"name": "personalize: retention purge", "task": "personalize.privacy.purge", "crontab": {"minute": "15", "hour": "4"}},
]


def ensure_schedules(**kwargs: Any) -> None:
    """Create the default ``PeriodicTask`` rows that do not exist yet (post_migrate receiver)."""
    if not apps.is_installed("django_celery_beat"):
        # The [beat] extra is optional (installed but not in INSTALLED_APPS is the same): cron
        # runs the management commands instead (docs/development.md).
        return
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask  # an optional app
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
