"""Task names: personalize.<capability>.<verb>, with the first release's names kept as aliases."""

from celery import current_app

import personalize.tasks  # noqa: F401 - registers every task
from personalize.schedules import DEFAULT_SCHEDULES

NAMES = {
    "personalize.recommenders.train",
    "personalize.recommenders.refresh_popular",
    "personalize.placements.refresh_search_suggestions",
    "personalize.segments.refresh",
    "personalize.emails.send_due",
}
OLD_NAMES = {"personalize.train", "personalize.refresh_popular", "personalize.refresh_search_suggestions"}


def test_every_task_follows_the_capability_verb_scheme_and_old_names_still_run():
    registered = set(current_app.tasks)
    assert NAMES <= registered
    assert OLD_NAMES <= registered  # queued messages and existing beat rows keep working
    assert {job["task"] for job in DEFAULT_SCHEDULES} <= NAMES | {
        name for name in registered if name.startswith("personalize.")
    }
    assert not {job["task"] for job in DEFAULT_SCHEDULES} & OLD_NAMES
