"""JSON Schema of the beacon's bodies and the read endpoints' items, built from the settings and
from the validators' own constants (personalize.events.schema), for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from personalize.conf import personalize_settings as ps
from personalize.events.schema import (
    BEACON_PRODUCT_KINDS,
    CLIENT_ID,
    CONTEXT_KEY,
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_NUMBER,
    MAX_CONTEXT_VALUE,
    MAX_QUANTITY,
    MAX_QUERY,
    MAX_TOKEN,
    MAX_VALUE,
    RESERVED_CONTEXT_KEYS,
    SERVER_ONLY_KINDS,
    event_kinds,
)

# No NUL (events.schema.bad_string: PostgreSQL stores neither NUL nor a lone surrogate; JSON
# Schema patterns cannot name surrogates portably, so those are only refused by the server).
STORABLE = r"^[^\u0000]*$"


# --- JSON Schema pieces -----------------------------------------------------------------------


def error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What was wrong, in words (``detail``) and by field (``errors``).",
        "properties": {
            "detail": {"type": "string", "description": "The first problem: ``field: message``."},
            "errors": {
                "type": "object",
                "description": "Messages by field path (``events[3].product``, ``limit``, ``body``).",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        "required": ["detail"],
    }


def beacon_event_schema() -> dict[str, Any]:
    kinds = sorted(kind for kind in ps.API_EVENT_KINDS if kind in event_kinds() and kind not in SERVER_ONLY_KINDS)
    max_value = float(MAX_VALUE)
    product_kinds = sorted(kind for kind in kinds if kind in BEACON_PRODUCT_KINDS)
    return {
        "type": "object",
        "description": (
            "One browser event. Kinds about a product (%s) need ``product``; ``search`` needs ``query``. "
            "An invalid event is rejected alone; the other events of its batch are stored."
        )
        % ", ".join(sorted(BEACON_PRODUCT_KINDS)),
        "properties": {
            "id": {
                "type": "string",
                "pattern": CLIENT_ID.pattern,
                "description": "Client event id: a retried batch stores each event once.",
            },
            "ts": {
                "type": "number",
                "description": (
                    "When it happened, in milliseconds since 1970; at most API_CLOCK_SKEW_SECONDS ahead "
                    "and API_EVENT_MAX_AGE_SECONDS old (else the event is rejected)."
                ),
            },
            "kind": {"type": "string", "enum": kinds, "description": "PERSONALIZE['API_EVENT_KINDS']."},
            "product": {
                "type": ["string", "integer", "null"],
                "maxLength": 64,
                "pattern": STORABLE,
                "description": "The product's key (the adapter's; a number for integer keys).",
            },
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY, "default": 1},
            "value": {
                "anyOf": [
                    {"type": "number", "minimum": -max_value, "maximum": max_value},
                    {"type": "string", "pattern": r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"},
                    {"type": "null"},
                ],
                "description": "A money amount (a number or a decimal string).",
            },
            # Text fields take a number too (sent as its digits), as the validator does.
            "query": {"type": ["string", "integer", "null"], "maxLength": MAX_QUERY, "pattern": STORABLE},
            "placement": {"type": ["string", "integer", "null"], "maxLength": 64, "pattern": STORABLE},
            "model_version": {"type": ["string", "integer", "null"], "maxLength": 64, "pattern": STORABLE},
            "token": {
                "type": ["string", "integer", "null"],
                "maxLength": MAX_TOKEN,
                "pattern": STORABLE,
                "description": "The signed click token of a widget item (its ``tracked_url``'s): makes the "
                "placement, model version and A/B variant the server's word.",
            },
            "context": {
                "type": ["object", "null"],
                "maxProperties": MAX_CONTEXT_KEYS,
                "propertyNames": {
                    "pattern": CONTEXT_KEY.pattern,
                    "not": {"enum": sorted(RESERVED_CONTEXT_KEYS)},
                },
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": MAX_CONTEXT_VALUE, "pattern": STORABLE},
                        {"type": "number", "minimum": -MAX_CONTEXT_NUMBER, "maximum": MAX_CONTEXT_NUMBER},
                        {"type": ["boolean", "null"]},
                    ]
                },
                "description": "Extra scalar values. Strings must not hold NUL or lone surrogates.",
            },
        },
        "required": ["kind"],
        "additionalProperties": False,
        # What a kind needs (clean_beacon_event): a product, or a search's non-blank query.
        "allOf": [
            {
                "if": {"properties": {"kind": {"enum": product_kinds}}, "required": ["kind"]},
                "then": {"required": ["product"], "properties": {"product": {"type": ["string", "integer"], "pattern": r"\S"}}},
            },
            {
                "if": {"properties": {"kind": {"const": "search"}}, "required": ["kind"]},
                "then": {"required": ["query"], "properties": {"query": {"type": "string", "pattern": r"\S"}}},
            },
        ],
    }


def rejected_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "minimum": 0, "description": "Position of the event in ``events``."},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
        "required": ["index", "errors"],
    }


def batch_result_schema(rejected_ref: dict[str, Any], *, all_rejected: bool = False) -> dict[str, Any]:
    properties = {
        "accepted": {"type": "integer", "minimum": 0, "description": "Events stored by this request."},
        "duplicates": {"type": "integer", "minimum": 1, "description": "Events whose ``id`` was stored before."},
        "rejected": {"type": "array", "items": rejected_ref, "description": "Invalid events, by index."},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "resend": {
            "type": "boolean",
            "description": "First contact of a browser without a cookie: the cookie is set, send the batch again.",
        },
    }
    return {"type": "object", "properties": properties, "required": ["detail", "errors"] if all_rejected else ["accepted"]}


def item_schema() -> dict[str, Any]:
    nullable = {"type": ["string", "null"]}
    return {
        "type": "object",
        "description": "A product as the adapter serialises it, with the reason and the click-recording link.",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string", "description": "The product's own page."},
            "price": {**nullable, "description": "A decimal string."},
            "image": nullable,
            "category": nullable,
            "brand": nullable,
            "in_stock": {"type": "boolean"},
            "reason": {"type": "string"},
            "tracked_url": {"type": "string", "description": "The page with the signed click parameter."},
        },
        "required": ["id", "title", "url", "reason", "tracked_url"],
    }
