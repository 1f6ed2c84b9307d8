"""Segment rule types: a :class:`Rule` base, the built-in rules and the explicit registry.

Modules: :mod:`~.base` (the base class, params fields, SQL helpers), :mod:`~.visits` (who and
where, the visit), :mod:`~.behaviour` (browsing, cart, orders), :mod:`~.registry` (built-ins plus
``PERSONALIZE["SEGMENT_RULES"]``). A store's own rule subclasses :class:`Rule`.
"""

from personalize.segments.rules.base import *  # noqa: F403
from personalize.segments.rules.base import _aggregate_range_q, _category_key, _in_range, _range_text  # noqa: F401
from personalize.segments.rules.behaviour import *  # noqa: F403
from personalize.segments.rules.registry import *  # noqa: F403
from personalize.segments.rules.visits import *  # noqa: F403
