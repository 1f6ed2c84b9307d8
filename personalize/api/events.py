"""Validating a batch of beacon events: every error named by its path (``events[3].product``).

A batch is all or nothing: :func:`validate_batch` checks every event (product ids against the
store in one query) and returns unsaved :class:`~personalize.models.Event` objects, or raises
:class:`BatchError` carrying every problem found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.events import MAX_QUANTITY, MAX_QUERY, TrackingError, build_event, event_kinds
from personalize.models import PRODUCT_KINDS, Event, EventKind, Shopper

# Kinds only the server may record, whatever ``API_EVENT_KINDS`` says.
SERVER_ONLY_KINDS = {EventKind.PURCHASE}
# Kinds the beacon sends about a widget item: they must name the product.
BEACON_PRODUCT_KINDS = set(PRODUCT_KINDS) | {EventKind.IMPRESSION}
# Context keys the server owns (or that have their own field).
RESERVED_CONTEXT_KEYS = {"source", "lines", "placement", "model_version"}
CONTEXT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_CONTEXT_KEYS = 20
MAX_CONTEXT_VALUE = 255
# Beyond this a number loses precision in JavaScript and in some JSON columns.
MAX_CONTEXT_NUMBER = 2**53


class BatchError(Exception):
    """Invalid batch: ``errors`` maps a path (``events[2].kind``) to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def detail(self) -> str:
        path, messages = next(iter(self.errors.items()))
        return f"{path}: {messages[0]}"


class BeaconEventSerializer(serializers.Serializer):
    """One event as a browser may send it (formats and sizes; kind rules in ``validate_kind``)."""

    kind = serializers.CharField(max_length=32)
    product = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, default=1)
    value = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True, default=None)
    query = serializers.CharField(max_length=MAX_QUERY, required=False, allow_blank=True, default="")
    placement = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    model_version = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    context = serializers.DictField(required=False, default=dict)

    default_error_messages = {"unknown_field": gettext_lazy("Unknown field.")}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        errors = {}
        if isinstance(data, Mapping):
            errors = {key: [str(self.error_messages["unknown_field"])] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**errors, **exc.detail}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_kind(self, kind: str) -> str:
        if kind in SERVER_ONLY_KINDS:
            raise serializers.ValidationError(_("Purchases are recorded by the server, not the browser."))
        if kind not in event_kinds():
            raise serializers.ValidationError(_("Unknown event kind “%(kind)s”.") % {"kind": kind})
        if kind not in ps.API_EVENT_KINDS:
            raise serializers.ValidationError(
                _("Event kind “%(kind)s” cannot be sent from the browser.") % {"kind": kind}
            )
        return kind

    def validate_product(self, product: str) -> str:
        product = product.strip()
        if product and not get_adapter().is_valid_key(product):
            raise serializers.ValidationError(_("“%(id)s” is not a valid product id.") % {"id": product})
        return product

    def validate_context(self, context: dict[str, Any]) -> dict[str, Any]:
        if len(context) > MAX_CONTEXT_KEYS:
            raise serializers.ValidationError(_("At most %(max)s keys.") % {"max": MAX_CONTEXT_KEYS})
        for key, value in context.items():
            if not CONTEXT_KEY.match(key) or key in RESERVED_CONTEXT_KEYS:
                raise serializers.ValidationError(_("“%(key)s” is not an allowed key.") % {"key": key[:40]})
            if not (value is None or isinstance(value, (bool, int, float, str))):
                raise serializers.ValidationError(_("“%(key)s” must be a string, number or boolean.") % {"key": key})
            if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_CONTEXT_NUMBER:
                raise serializers.ValidationError(_("“%(key)s” must be a string, number or boolean.") % {"key": key})
            if isinstance(value, str) and len(value) > MAX_CONTEXT_VALUE:
                raise serializers.ValidationError(
                    _("“%(key)s” is longer than %(max)s characters.") % {"key": key, "max": MAX_CONTEXT_VALUE}
                )
        return context

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] in BEACON_PRODUCT_KINDS and not attrs["product"]:
            raise serializers.ValidationError({"product": [_("This event kind needs a product.")]})
        if attrs["kind"] == EventKind.SEARCH and not attrs["query"].strip():
            raise serializers.ValidationError({"query": [_("A search needs a query.")]})
        return attrs


def _flatten(prefix: str, detail: Any, errors: dict[str, list[str]]) -> None:
    """DRF's nested error detail as ``{"events[0].context": [...]}``."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            path = prefix if key == "non_field_errors" else f"{prefix}.{key}"
            _flatten(path, value, errors)
    elif isinstance(detail, list) and detail and not isinstance(detail[0], (Mapping, list)):
        errors.setdefault(prefix, []).extend(str(message) for message in detail)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            _flatten(f"{prefix}[{index}]", value, errors)
    else:
        errors.setdefault(prefix, []).append(str(detail))


def _check_envelope(data: Any) -> list[Any]:
    if not isinstance(data, Mapping):
        raise BatchError({"body": [_("Expected a JSON object with an “events” list.")]})
    unknown = sorted(key for key in data if key != "events")
    if unknown:
        raise BatchError({str(unknown[0])[:40]: [_("Unknown field.")]})
    if "events" not in data:
        raise BatchError({"events": [_("This field is required.")]})
    events = data["events"]
    if not isinstance(events, list):
        raise BatchError({"events": [_("Expected a list of events.")]})
    if not events:
        raise BatchError({"events": [_("Send at least one event.")]})
    if len(events) > ps.API_MAX_BATCH:
        raise BatchError(
            {"events": [_("At most %(max)s events per request, got %(count)s.") % {"max": ps.API_MAX_BATCH, "count": len(events)}]}
        )
    return events


def validate_batch(data: Any, shopper: Shopper | None) -> list[Event]:
    """Unsaved events for ``shopper`` from a beacon payload; :class:`BatchError` if any is bad."""
    events = _check_envelope(data)
    errors: dict[str, list[str]] = {}
    cleaned: list[tuple[int, dict[str, Any]]] = []
    # One serializer for the whole batch: building one per event (DRF deep-copies its fields)
    # cost more than everything else the endpoint does.
    serializer = BeaconEventSerializer()
    for index, item in enumerate(events):
        try:
            cleaned.append((index, serializer.run_validation(item)))
        except serializers.ValidationError as exc:
            _flatten(f"events[{index}]", exc.detail, errors)
    # One query for the whole batch. A product hidden a moment ago was real: only keys that
    # never existed (or were deleted) are refused.
    requested = {attrs["product"] for _i, attrs in cleaned if attrs["product"]}
    known = get_adapter().resolve_keys(requested) if requested else {}
    built: list[Event] = []
    for index, attrs in cleaned:
        if attrs["product"] and attrs["product"] not in known:
            errors.setdefault(f"events[{index}].product", []).append(
                _("Unknown product “%(id)s”.") % {"id": attrs["product"]}
            )
            continue
        if attrs["product"]:
            attrs = {**attrs, "product": known[attrs["product"]]}
        context = {**attrs["context"], "source": "beacon"}
        for name in ("placement", "model_version"):
            if attrs[name]:
                context[name] = attrs[name]
        try:
            built.append(
                build_event(
                    shopper,
                    attrs["kind"],
                    product=attrs["product"] or None,
                    quantity=attrs["quantity"],
                    value=attrs["value"],
                    query=attrs["query"],
                    context=context,
                )
            )
        except TrackingError as exc:
            errors.setdefault(f"events[{index}].{exc.field}", []).append(exc.message)
    if errors:
        raise BatchError(dict(sorted(errors.items(), key=lambda item: _path_order(item[0]))))
    return built


def _path_order(path: str) -> tuple[int, str]:
    match = re.match(r"events\[(\d+)\]", path)
    return (int(match.group(1)) if match else -1, path)
