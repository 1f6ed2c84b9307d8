"""The demo shop's settings as bench/page_cost.py serves them (gunicorn, PostgreSQL, Redis).

Everything is the demo's (``DATABASE_URL``, ``REDIS_URL``, ``DJANGO_DEBUG=0`` come from the
environment the bench sets); only ``{% load personalize %}`` is swapped for
bench/page_widgets.py, whose tags render nothing on ``?widgets=off``: the baseline page; and
consent is taken as given (``CONSENT_REQUIRED`` off).
"""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import PERSONALIZE, TEMPLATES

TEMPLATES = [
    {**engine, "OPTIONS": {**engine["OPTIONS"], "libraries": {"personalize": "bench.page_widgets"}}}
    for engine in TEMPLATES
]

# Shoppers here are people who said yes: the bench measures serving them, not the consent
# banner (with consent required and none given, every widget shows the neutral list).
PERSONALIZE = {**PERSONALIZE, "CONSENT_REQUIRED": False}
# The swapped library has the name of the real one on purpose.
SILENCED_SYSTEM_CHECKS = ["templates.W003", "personalize.W005", "personalize.W080", "personalize.W100"]
