"""Celery tasks (thin wrappers over ``services``), gathered here for autodiscovery.

Each capability keeps its tasks in its own module; importing them here registers them.
"""

from personalize.emails import tasks as emails_tasks  # noqa: E402,F401 - lifecycle emails
from personalize.placements.tasks import *  # noqa: E402,F401,F403 - search suggestions
from personalize.recommenders.tasks import *  # noqa: E402,F401,F403 - training, trending lists
from personalize.segments.tasks import *  # noqa: E402,F401,F403 - segment refresh
from personalize.privacy.tasks import *  # noqa: E402,F401,F403 - retention purge
