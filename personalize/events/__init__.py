"""Events: what shoppers do, from the store's views (:func:`track`), its cart (:func:`update_cart`),
the browser's beacon and imports of past orders. Everything else in personalize reads them."""

from personalize.events.cart import set_cart_lines, update_cart
from personalize.events.context import UTM_KEYS, request_context
from personalize.events.schema import (
    MAX_QUANTITY,
    MAX_QUERY,
    MAX_VALUE,
    TrackingError,
    build_event,
    clean_lines,
    event_kinds,
    lines_value,
    product_key_of,
)
from personalize.events.tracking import save_events, track, track_for

__all__ = [
    "MAX_QUANTITY",
    "MAX_QUERY",
    "MAX_VALUE",
    "UTM_KEYS",
    "TrackingError",
    "build_event",
    "clean_lines",
    "event_kinds",
    "lines_value",
    "product_key_of",
    "request_context",
    "save_events",
    "set_cart_lines",
    "track",
    "track_for",
    "update_cart",
]
