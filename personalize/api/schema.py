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
from django.urls import get_script_prefix, get_urlconf
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

from personalize.api.schema_bodies import (
    batch_result_schema,
    beacon_event_schema,
    error_schema,
    item_schema,
    rejected_schema,
)
from personalize.api.schema_links import URI_TOO_LONG, link_paths, text_response
from personalize.conf import personalize_settings as ps
from personalize.placements.config import placement_names
from personalize.placements.search import MAX_PREFIX

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
        return self.component("Error", error_schema())

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
        event = self.component("BeaconEvent", beacon_event_schema())
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
        rejected = self.component("RejectedEvent", rejected_schema())
        return {
            202: (
                "Stored: the valid events (``rejected`` lists the others by index).",
                self.component("EventBatchResult", batch_result_schema(rejected)),
            ),
            204: ("Nothing stored: tracking is off, a bot, or no consent.", None),
            400: (
                "The body is unusable (not JSON, too large, no ``events`` list...) or every event is invalid.",
                self.component("EventBatchProblem", batch_result_schema(rejected, all_rejected=True)),
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
        item = self.component("RecommendedItem", item_schema())
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
                operation["responses"].setdefault("414", text_response(URI_TOO_LONG))
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
