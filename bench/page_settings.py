"""The demo shop's settings as bench/page_cost.py serves them (gunicorn, PostgreSQL, Redis).

Everything is the demo's (``DATABASE_URL``, ``REDIS_URL``, ``DJANGO_DEBUG=0`` come from the
environment the bench sets); only ``{% load personalize %}`` is swapped for
bench/page_widgets.py, whose tags render nothing on ``?widgets=off``: the baseline page.
"""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import TEMPLATES

TEMPLATES = [
    {**engine, "OPTIONS": {**engine["OPTIONS"], "libraries": {"personalize": "bench.page_widgets"}}}
    for engine in TEMPLATES
]
