"""Read endpoints for headless stores: recommendation lists and search suggestions.

``GET .../api/recommendations/?placement=for_you&product=<key>&category=<key>&limit=8``
``GET .../api/search-suggestions/?prefix=ca&limit=6``

The shopper comes from Django's own request (signed cookie, login). Bad input is a 400 whose
``detail`` names the field; nothing here ever answers 500 for bad input.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize.adapters import get_adapter
from personalize.api.schema import RecommendationsSchema, SearchSuggestionsSchema
from personalize.api.throttling import BeaconRateThrottle
from personalize.conf import personalize_settings as ps
from personalize.placements.config import UnknownPlacement, get_placement
from personalize.placements.pipeline import recommend_for
from personalize.placements.search import MAX_PREFIX, suggestions_for
from personalize.widgets.items import item_for

# What the API shows of an item: the adapter's fields, the reason and the click-recording link.
API_FIELDS = ("id", "title", "url", "price", "image", "category", "brand", "in_stock", "reason", "tracked_url")


def api_item(product: Any, result: Any) -> dict[str, Any]:
    item = item_for(product, result=result)
    item["url"] = item["plain_url"]
    return {name: item[name] for name in API_FIELDS}


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def response(self) -> Response:
        return Response(
            {"detail": f"{self.field}: {self.message}", "errors": {self.field: [self.message]}},
            status=status.HTTP_400_BAD_REQUEST,
        )


class ReadRateThrottle(BeaconRateThrottle):
    """The beacon's limit (per shopper, else per address), counted apart from it."""

    scope = "personalize_read"


def parse_limit(raw: str | None, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise FieldError("limit", _("Enter a whole number.")) from None
    if not 1 <= value <= ps.WIDGET_MAX_LIMIT:
        raise FieldError("limit", _("Must be between 1 and %(max)s.") % {"max": ps.WIDGET_MAX_LIMIT})
    return value


class ReadView(APIView):
    # No DRF authentication: the shopper is Django's (cookie/login); reads change nothing.
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (ReadRateThrottle,)
    renderer_classes = (JSONRenderer,)

    def get(self, request: Request) -> Response:
        try:
            return self.respond(request)
        except FieldError as exc:
            return exc.response()

    def respond(self, request: Request) -> Response:
        raise NotImplementedError


class RecommendationsView(ReadView):
    """``{"placement", "model_version", "variant", "items": [{...adapter fields, "reason",
    "tracked_url"}]}``. ``tracked_url`` carries the signed click parameter."""

    schema = RecommendationsSchema()

    def respond(self, request: Request) -> Response:
        params = request.query_params
        name = params.get("placement", "").strip()
        if not name:
            raise FieldError("placement", _("This field is required."))
        try:
            placement = get_placement(name)
        except UnknownPlacement as exc:
            raise FieldError("placement", str(exc)) from None
        limit = parse_limit(params.get("limit"), 8)
        product = self.product(params.get("product", "").strip(), required=placement.needs_product)
        category = params.get("category", "").strip()[:64] or None
        result = recommend_for(request, placement.name, limit=limit, product=product, category=category)
        items = [api_item(obj, result) for obj in result.items]
        return Response(
            {"placement": result.placement, "model_version": result.model_version, "variant": result.variant, "items": items}
        )

    def product(self, key: str, *, required: bool) -> Any:
        if not key:
            if required:
                raise FieldError("product", _("This placement needs a product."))
            return None
        adapter = get_adapter()
        if len(key) > 64 or not adapter.is_valid_key(key):
            raise FieldError("product", _("“%(id)s” is not a valid product id.") % {"id": key[:80]})
        # Any product of the store, shown or not: a product taken off sale a moment ago still
        # has similar products.
        model = adapter.get_product_model()
        if not model._default_manager.filter(pk=adapter.to_python_key(key)).exists():
            raise FieldError("product", _("Unknown product “%(id)s”.") % {"id": key[:80]})
        return key


class SearchSuggestionsView(ReadView):
    """``{"prefix", "personal", "suggestions": ["query", ...]}``."""

    schema = SearchSuggestionsSchema()

    def respond(self, request: Request) -> Response:
        params = request.query_params
        prefix = params.get("prefix", "")
        if len(prefix) > MAX_PREFIX:
            raise FieldError("prefix", _("At most %(max)s characters.") % {"max": MAX_PREFIX})
        limit = parse_limit(params.get("limit"), 6)
        result = suggestions_for(request, limit=limit, prefix=prefix)
        return Response({"prefix": prefix, "personal": result.personal, "suggestions": result.queries})
