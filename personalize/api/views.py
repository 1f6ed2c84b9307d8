"""DRF endpoints: the browser beacon (other capabilities add their read endpoints)."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize import identity
from personalize.api.permissions import OriginCheckedSessionAuthentication, SameOriginPermission
from personalize.api.schema import EventBatchSchema
from personalize.api.throttling import BeaconRateThrottle
from personalize.caching.breaker import throttle_cache
from personalize.conf import personalize_settings as ps
from personalize.events.ingest import PASSIVE_KINDS, BatchError, ingest
from personalize.events.schema import safe_text
from personalize.events.writing import fast_insert_supported
from personalize.identity import remembered
from personalize.identity.agent import client_network


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def new_profile_allowed(http: Any) -> bool:
    """At most ``NEW_PROFILES_PER_NETWORK_PER_HOUR`` profiles are created through the beacon per
    client network: a script that takes a fresh cookie for every post cannot mint profiles (or
    shoppers to rig lists with) faster than that; a real browser asked to wait retries later."""
    limit = ps.NEW_PROFILES_PER_NETWORK_PER_HOUR
    network = client_network(http)
    if not limit or not network:
        return True
    store, key = throttle_cache(), f"personalize:new_profiles:{network}"
    if store.add(key, 1, 3600):
        return True
    count = store.incr(key)
    return count is None or count <= limit


class EventBatchView(APIView):
    """``POST {"events": [{"kind", "product", "quantity", "value", "query", "placement",
    "model_version", "context"}, ...]}`` for the request's shopper.

    202 ``{"accepted": n}`` (plus ``duplicates`` already stored and ``rejected`` events by index
    with their ``errors``: the valid ones are stored); 400 ``{"detail", "errors"}`` when the body
    is unusable or every event is invalid; 403 from another site; 429 when throttled; 204 and
    nothing stored for bots.
    """

    # DRF's SessionAuthentication would demand a CSRF token the beacon cannot send; the
    # Origin check refuses cross-site posts instead. The shopper comes from Django's own
    # request (cookie and login).
    authentication_classes = (OriginCheckedSessionAuthentication,)
    permission_classes = (SameOriginPermission,)
    throttle_classes = (BeaconRateThrottle,)
    renderer_classes = (JSONRenderer,)
    parser_classes = ()  # the body is read in read_payload, with errors naming the problem
    schema = EventBatchSchema()  # the OpenAPI description (api/schema/, docs/api.md)

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        # Always 403 with the origin message: DRF would answer "credentials were not provided"
        # to an anonymous shopper, which is not what is wrong.
        raise exceptions.PermissionDenied(detail=message, code=code)

    def post(self, request: Request) -> Response:
        http = request._request
        if not ps.TRACKING_ENABLED or identity.is_bot(http):
            return Response(status=status.HTTP_204_NO_CONTENT)
        # A browser posts every few seconds: its row is remembered per process and the insert
        # itself checks that it is still that row (identity/remembered.py).
        guard = remembered.recall(http) if fast_insert_supported() else None
        shopper = identity.get_shopper(http, with_cart=False)
        # A browser without a cookie whose batch holds only impressions or page views gets a
        # cookie, no profile: it sends the batch again (beacon.js does) and is stored then. A
        # script that drops its cookies therefore never writes a row.
        first_contact = shopper.pk is None and remembered.cookie_key(http) is None
        pending: list[bool] = []
        capped: list[bool] = []

        def shopper_for_batch(events: list) -> Any:
            current = identity.get_shopper(http, with_cart=False)
            if first_contact and all(event.kind in PASSIVE_KINDS for event in events):
                pending.append(True)
                return None
            if current.pk is None and not new_profile_allowed(http):
                capped.append(True)
                return None
            return identity.ensure_shopper(http)

        def recheck(events: list) -> Any:
            remembered.forget(http)
            del http._personalize_shopper
            return shopper_for_batch(events)

        try:
            payload = self.read_payload(http)
            # No transaction around it: the batch is one INSERT (atomic by itself) unless it
            # changes the cart, and then ingest opens one (events/tracking.py save_events).
            result = ingest(payload, shopper_for_batch, request=http, guard=guard, recheck=recheck)
        except BatchError as exc:
            return Response({"detail": exc.detail, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        if guard is None or getattr(http, "_personalize_shopper", shopper) is not shopper:
            setattr(http, remembered.REMEMBER_FLAG, True)  # looked up: the middleware remembers it
        if result is None and pending and identity.has_consent(http):
            response = Response({"accepted": 0, "resend": True}, status=status.HTTP_202_ACCEPTED)
            identity.set_cookie(response, shopper.key)
            return response
        if result is None and capped:
            return Response(
                {"detail": _("Too many new profiles from your network; try again later.")},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "600"},
            )
        if result is None:  # no profile may be kept (a bot identity recognised, no consent)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if not result.accepted and not result.duplicates:  # every event was invalid
            return Response(result.as_json(), status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_json(), status=status.HTTP_202_ACCEPTED)

    def read_payload(self, http: Any) -> Any:
        content_type = http.content_type or ""
        if content_type != "application/json":
            raise BatchError(
                {"Content-Type": [_("Must be application/json, got “%(type)s”.") % {"type": content_type[:60] or "-"}]}
            )
        try:
            length = int(http.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_big = BatchError({"body": [_("Larger than %(max)s bytes.") % {"max": ps.API_MAX_BODY_BYTES}]})
        if length > ps.API_MAX_BODY_BYTES:
            raise too_big
        raw = http.body
        if len(raw) > ps.API_MAX_BODY_BYTES:  # a chunked body has no Content-Length
            raise too_big
        try:
            body = raw.decode(http.encoding or "utf-8")
            return json.loads(body, parse_constant=_reject_constant)
        except RecursionError:
            raise BatchError({"body": [_("Invalid JSON: nested too deeply.")]}) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise BatchError({"body": [_("Invalid JSON: %(error)s") % {"error": safe_text(exc, 120)}]}) from None
