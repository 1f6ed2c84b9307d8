"""The OpenAPI 3.1 schema of personalize's HTTP API (drf-spectacular), served at ``api/schema/``.

Only personalize's own endpoints are described, whatever else the store serves: the generator
walks the store's URLs (so paths carry the store's prefix) but keeps the views whose schema is
a :class:`PersonalizeAutoSchema`, then adds the signed-link and consent endpoints, which are
plain Django views. The store's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` and
``SPECTACULAR_SETTINGS`` are left alone: personalize's views carry their schema class, and the
few spectacular settings the document depends on are patched while it is generated.

The bodies are hand-written JSON Schema built from the settings when the schema is generated
(event kinds, placements, batch and length limits), from the same constants the validators use
(:mod:`personalize.events.schema`), so a fuzzer's "valid" input is what the server accepts.
docs/api.md describes the endpoints in prose.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.settings import patched_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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
from personalize.placements.config import placement_names
from personalize.placements.search import MAX_PREFIX
from personalize.widgets.fragments import MAX_FRAGMENTS

# What the document says about itself; patched into drf-spectacular while it is generated.
SPECTACULAR_PATCHES: dict[str, Any] = {
    "TITLE": "django-personalize API",
    "DESCRIPTION": (
        "Events from the browser (the beacon), recommendation lists and search suggestions for "
        "headless pages, and the signed links of campaigns and emails. The shopper is the request's "
        "own: personalize's signed cookie, or the logged-in user. See docs/api.md."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": None,
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "SCHEMA_PATH_PREFIX_INSERT": "",
    "CAMELIZE_NAMES": False,
    "COMPONENT_SPLIT_REQUEST": False,
    "PREPROCESSING_HOOKS": [],
    "POSTPROCESSING_HOOKS": [],
    "ENUM_NAME_OVERRIDES": {},
    "SERVERS": [],
    "SECURITY": [],
    "APPEND_COMPONENTS": {},
    "APPEND_PATHS": {},
    "EXTENSIONS_INFO": {},
    "TAGS": [
        {"name": "events", "description": "The beacon: batches of browser events."},
        {"name": "recommendations", "description": "Read endpoints for headless stores."},
        {"name": "links", "description": "Signed links in campaigns and emails, and the consent form (plain Django views)."},
        {"name": "fragments", "description": "Personal widgets filled into cached pages ({% personalize_fragment %})."},
    ],
}

TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]+$"  # what django.core.signing.dumps produces
# No NUL (events.schema.bad_string: PostgreSQL stores neither NUL nor a lone surrogate; JSON
# Schema patterns cannot name surrogates portably, so those are only refused by the server).
STORABLE = r"^[^\u0000]*$"


# --- JSON Schema pieces -----------------------------------------------------------------------


def _error_schema() -> dict[str, Any]:
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


def _beacon_event_schema() -> dict[str, Any]:
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


def _rejected_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "minimum": 0, "description": "Position of the event in ``events``."},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
        "required": ["index", "errors"],
    }


def _batch_result_schema(rejected_ref: dict[str, Any], *, all_rejected: bool = False) -> dict[str, Any]:
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


def _item_schema() -> dict[str, Any]:
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


# --- per-view schema classes --------------------------------------------------------------------


class PersonalizeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema for personalize's views, whatever DEFAULT_SCHEMA_CLASS says.

    Subclasses describe one view through spectacular's public hooks, with JSON Schema built
    from the settings at generation time (a component is registered once by name).
    """

    tag = "recommendations"
    summary = ""

    def component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """``{"$ref": ...}`` to a named component, registered in this generation's registry."""
        found = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(found)
        return found.ref

    def error(self) -> dict[str, Any]:
        return self.component("Error", _error_schema())

    def get_tags(self) -> list[str]:
        return [self.tag]

    def get_summary(self) -> str | None:
        return self.summary or None

    def get_auth(self) -> list[dict[str, list[str]]]:
        # No credentials: the shopper is the request's cookie (or session); see docs/api.md.
        return []

    def get_request_serializer(self) -> Any:
        return None

    def responses(self) -> dict[int, tuple[str, dict[str, Any] | None]]:
        return {}

    def get_response_serializers(self) -> Any:
        return {
            code: OpenApiResponse(response=schema, description=description)
            for code, (description, schema) in sorted(self.responses().items())
        }

    def query_parameters(self) -> list[OpenApiParameter]:
        return []

    def get_override_parameters(self) -> list[OpenApiParameter]:
        retry_after = OpenApiParameter(
            "Retry-After", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[429], description="Seconds to wait."
        )
        return [*self.query_parameters(), retry_after]


class EventBatchSchema(PersonalizeAutoSchema):
    tag = "events"
    summary = "Record a batch of browser events"

    def get_description(self) -> str:
        return (
            f"The beacon (beacon.js) posts batches of at most {ps.API_MAX_BATCH} events (API_MAX_BATCH) in at "
            f"most {ps.API_MAX_BODY_BYTES} bytes (API_MAX_BODY_BYTES), with ``Content-Type: application/json``, "
            "from a page of the store's own site (``Origin`` or ``Referer`` is checked; no CSRF token). Valid "
            "events are stored, invalid ones are listed by index with their errors. Throttled per shopper, "
            "else per client address (API_THROTTLE_RATE)."
        )

    def get_request_serializer(self) -> Any:
        # By media type: the view reads the body itself (its parser_classes is empty).
        event = self.component("BeaconEvent", _beacon_event_schema())
        return {"application/json": self.component(
            "EventBatch",
            {
                "type": "object",
                "properties": {"events": {"type": "array", "items": event, "minItems": 1, "maxItems": ps.API_MAX_BATCH}},
                "required": ["events"],
                "additionalProperties": False,
            },
        )}

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        if body:  # a raw schema is optional to spectacular; without a body the answer is a 400
            body["required"] = True
        return body

    def responses(self) -> dict[int, tuple[str, dict[str, Any] | None]]:
        rejected = self.component("RejectedEvent", _rejected_schema())
        return {
            202: (
                "Stored: the valid events (``rejected`` lists the others by index).",
                self.component("EventBatchResult", _batch_result_schema(rejected)),
            ),
            204: ("Nothing stored: tracking is off, a bot, or no consent.", None),
            400: (
                "The body is unusable (not JSON, too large, no ``events`` list...) or every event is invalid.",
                self.component("EventBatchProblem", _batch_result_schema(rejected, all_rejected=True)),
            ),
            403: ("From a page of another site (or no ``Origin``/``Referer``).", self.error()),
            429: ("Throttled, or too many new profiles from one network.", self.error()),
        }


def _limit(default: int) -> OpenApiParameter:
    return OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": ps.WIDGET_MAX_LIMIT, "default": default},
        OpenApiParameter.QUERY,
        description="How many (WIDGET_MAX_LIMIT at most).",
    )


class RecommendationsSchema(PersonalizeAutoSchema):
    summary = "A placement's recommendations for the request's shopper"

    def get_description(self) -> str:
        return (
            "The items a placement shows this shopper (signed cookie or login), with each item's reason and "
            "``tracked_url`` (the product page with the signed click parameter). Changes nothing."
        )

    def query_parameters(self) -> list[OpenApiParameter]:
        query = OpenApiParameter.QUERY
        return [
            OpenApiParameter(
                "placement", {"type": "string", "enum": placement_names()}, query, required=True,
                description="A configured placement (PERSONALIZE['PLACEMENTS'] and the built-ins).",
            ),
            OpenApiParameter(
                "product", {"type": "string", "maxLength": 64}, query,
                description="The product the page shows (required by placements about a product).",
            ),
            OpenApiParameter("category", {"type": "string"}, query, description="A category key (cut at 64)."),
            _limit(8),
        ]  # fmt: skip

    def responses(self) -> dict[int, tuple[str, dict[str, Any] | None]]:
        item = self.component("RecommendedItem", _item_schema())
        body = {
            "type": "object",
            "properties": {
                "placement": {"type": "string"},
                "model_version": {"type": ["string", "null"]},
                "variant": {"type": ["string", "null"]},
                "items": {"type": "array", "items": item},
            },
            "required": ["placement", "items"],
        }
        return {
            200: ("The list (possibly empty; a failure gives the placement's neutral fallback).", self.component("Recommendations", body)),
            400: ("A parameter is missing or wrong; ``errors`` names it.", self.error()),
            429: ("Throttled.", self.error()),
        }


class SearchSuggestionsSchema(PersonalizeAutoSchema):
    summary = "Search suggestions completing a prefix"

    def get_description(self) -> str:
        return "Popular searches (ranked by this shopper's taste), then product titles, completing ``prefix``."

    def query_parameters(self) -> list[OpenApiParameter]:
        return [
            OpenApiParameter(
                "prefix", {"type": "string", "maxLength": MAX_PREFIX}, OpenApiParameter.QUERY, description="What the shopper typed."
            ),
            _limit(6),
        ]

    def responses(self) -> dict[int, tuple[str, dict[str, Any] | None]]:
        body = {
            "type": "object",
            "properties": {
                "prefix": {"type": "string"},
                "personal": {"type": "boolean", "description": "Ranked by this shopper's taste."},
                "suggestions": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["prefix", "personal", "suggestions"],
        }
        return {
            200: ("Suggestions, best first.", self.component("SearchSuggestions", body)),
            400: ("A parameter is wrong; ``errors`` names it.", self.error()),
            429: ("Throttled.", self.error()),
        }


# --- the plain Django views (signed links, consent) --------------------------------------------------


# Not personalize's answer but the web server's, possible on every operation.
URI_TOO_LONG = "The URL is longer than the web server accepts (gunicorn: a 4094-byte request line)."


def _token_param() -> dict[str, Any]:
    return {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": TOKEN_PATTERN, "maxLength": 2000},
        "description": "A signed token from an email or a campaign (django.core.signing).",
    }


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _plain(description: str) -> dict[str, Any]:
    return {"description": description}


def link_operations() -> dict[str, dict[str, Any]]:
    """``{url name: {method: operation}}`` of personalize's plain views a client may call."""
    bad_link = _html("The token is malformed, tampered with, expired or of another kind.")
    not_found = _plain("Not a route (for example a token with a slash).")
    return {
        "campaign_click": {
            "get": {
                "operationId": "campaign_click",
                "summary": "Count a campaign click, then redirect to the campaign's link",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"302": _plain("To the campaign's link."), "400": bad_link, "404": not_found},
            }
        },
        "campaign_seen": {
            "post": {
                "operationId": "campaign_seen",
                "summary": "The browser showed a deferred campaign (navigator.sendBeacon; no CSRF token)",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"204": _plain("Counted (or nothing to count)."), "400": bad_link, "404": not_found},
            }
        },
        "email_restore": {
            "get": {
                "operationId": "email_restore",
                "summary": "Rebuild the cart an email showed, then redirect to the cart",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {
                    "302": _plain("To the cart, the product or the shop."),
                    "400": _html("The link is not valid or has expired (a page that says so)."),
                    "404": not_found,
                },
            }
        },
        "email_unsubscribe": {
            "get": {
                "operationId": "email_unsubscribe_page",
                "summary": "The unsubscribe confirmation page",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"200": _html("The page with its button."), "400": bad_link, "404": not_found},
            },
            "post": {
                "operationId": "email_unsubscribe",
                "summary": "Unsubscribe (the page's button, or RFC 8058 one-click: no CSRF token)",
                "tags": ["links"],
                "parameters": [_token_param()],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}}}
                        }
                    },
                },
                "responses": {"200": _html("Unsubscribed."), "400": bad_link, "404": not_found},
            },
        },
        "fragments": {
            "get": {
                "operationId": "fragments",
                "summary": "The personal HTML of a page's fragments, for the request's shopper",
                "tags": ["fragments"],
                "parameters": [
                    {
                        "name": "f",
                        "in": "query",
                        "required": True,
                        "style": "form",
                        "explode": True,
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_FRAGMENTS,
                            "items": {"type": "string", "pattern": TOKEN_PATTERN, "maxLength": 1000},
                        },
                        "description": "The signed token of each fragment on the page, in page order.",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "One entry per token: its HTML, or null (keep the neutral list).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"fragments": {"type": "array", "items": {"type": ["string", "null"]}}},
                                    "required": ["fragments"],
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "No token, too many, or one not valid.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"detail": {"type": "string"}, "fragments": {"type": "array"}},
                                    "required": ["detail"],
                                }
                            }
                        },
                    },
                    "414": _plain(
                        "The URL is longer than the web server accepts (gunicorn: a 4094-byte request line): "
                        "many fragments with long tokens; split them over two requests."
                    ),
                },
            }
        },
        "consent": {
            "post": {
                "operationId": "consent",
                "summary": "The consent banner's form (Django's CSRF token required)",
                "tags": ["links"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "choice": {"type": "string", "enum": ["accept", "decline"]},
                                    "next": {"type": "string", "description": "Where to go back to (same host only)."},
                                },
                                "required": ["choice"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "With ``Accept: application/json``: the choice.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"granted": {"type": "boolean"}, "message": {"type": "string"}},
                                    "required": ["granted", "message"],
                                }
                            }
                        },
                    },
                    "302": _plain("Back to ``next`` (a plain form post)."),
                    "400": _plain("``choice`` is neither accept nor decline (JSON ``{detail}`` with Accept: application/json)."),
                    "403": _plain("No or a wrong CSRF token (Django's CSRF failure page)."),
                },
            }
        },
    }


def link_paths() -> dict[str, dict[str, Any]]:
    """The link operations under the paths the store's URLs give them (skipped when not routed)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, operations in link_operations().items():
        needs_token = any(p["name"] == "token" for op in operations.values() for p in op.get("parameters", []))
        try:
            path = reverse(f"personalize:{name}", kwargs={"token": "TOKEN"} if needs_token else None)
        except NoReverseMatch:
            continue
        paths[path.replace("TOKEN", "{token}")] = operations
    return paths


# --- generation ---------------------------------------------------------------------------------


class PersonalizeEndpoints(EndpointEnumerator):
    """Only personalize's DRF views (those carrying a :class:`PersonalizeAutoSchema`)."""

    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        if not super().should_include_endpoint(path, callback):
            return False
        return isinstance(getattr(callback.cls, "schema", None), PersonalizeAutoSchema)


class PersonalizeSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = PersonalizeEndpoints

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        result = super().get_schema(request=request, public=public)
        result.setdefault("paths", {}).update(link_paths())
        result["paths"] = dict(sorted(result["paths"].items()))
        for operations in result["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault("414", _plain(URI_TOO_LONG))
        return result


_generation_lock = threading.Lock()
# The served document per (URLconf, script prefix): it depends on the URLs and the settings only,
# and costs ~20 ms to build, so a public endpoint builds it once per process (emptied when a
# setting changes, as in tests).
_served: dict[tuple[Any, str], dict[str, Any]] = {}


def _forget_served(**kwargs: Any) -> None:
    _served.clear()


setting_changed.connect(_forget_served, dispatch_uid="personalize.api.schema")


def build_schema(request: Any = None) -> dict[str, Any]:
    """The document as a dict (the served one; tests validate it). The patches of drf-spectacular's
    global settings are held under a lock, only while generating."""
    with _generation_lock, patched_settings(SPECTACULAR_PATCHES):
        return PersonalizeSchemaGenerator().get_schema(request=request, public=True)


class SchemaView(APIView):
    """``GET <prefix>/api/schema/``: JSON (``Accept: application/vnd.oai.openapi`` for YAML)."""

    schema = None  # not part of the document it serves
    authentication_classes = ()
    permission_classes = ()
    renderer_classes = (OpenApiJsonRenderer, OpenApiYamlRenderer)

    def get(self, request: Request) -> Response:
        key = (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
        document = _served.get(key)
        if document is None:
            document = _served[key] = build_schema(request)
        return Response(document, headers={"Cache-Control": "public, max-age=300"})
