"""The one validator of events: what a kind needs, and the cleaning of quantities, values and lines.

:func:`build_event` raises :class:`TrackingError` naming the field; ``personalize.track`` logs
it, the beacon turns it into a 400 naming ``events[i].field``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.models import PRODUCT_KINDS, Event, EventKind, Shopper

MAX_QUERY = 255


MAX_QUANTITY = 10_000


MAX_VALUE = Decimal("9999999999.99")


@dataclass
class TrackingError(Exception):
    """Invalid input for an event; ``field`` names what was wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# ``EventKind.values`` builds a new list on every read: once per batch it showed in the profile.
BUILTIN_KINDS = frozenset(EventKind.values)


def event_kinds() -> frozenset[str]:
    extra = ps.EXTRA_EVENT_KINDS
    return BUILTIN_KINDS.union(extra) if extra else BUILTIN_KINDS


def product_key_of(product: Any, *, validate: bool = True) -> str:
    """The key of a product instance or of a raw id; ``TrackingError`` if malformed/unknown."""
    adapter = get_adapter()
    if product is None or product == "":
        return ""
    if hasattr(product, "_meta"):
        return adapter.product_key(product)
    key = str(product)
    if len(key) > 64 or not adapter.is_valid_key(key):
        raise TrackingError("product", _("“%(id)s” is not a valid product id.") % {"id": key[:80]})
    return key


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TrackingError(field, _("Enter a number.")) from None
    if not result.is_finite() or abs(result) > MAX_VALUE:
        raise TrackingError(field, _("Enter a number.")) from None
    return result.quantize(Decimal("0.01"))


def _quantity(value: Any) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        raise TrackingError("quantity", _("Enter a whole number.")) from None
    if not 0 < quantity <= MAX_QUANTITY:
        raise TrackingError("quantity", _("Must be between 1 and %(max)s.") % {"max": MAX_QUANTITY})
    return quantity


def clean_lines(lines: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Normalise cart or order lines to ``[{"product", "quantity", "price"}]``."""
    cleaned = []
    for line in lines or []:
        if isinstance(line, Mapping):
            product, quantity, price = line.get("product"), line.get("quantity", 1), line.get("price")
        else:
            product, quantity, price = (*line, 1, None)[:3] if len(line) < 2 else (*line, None)[:3]
        key = product_key_of(product)
        if not key:
            raise TrackingError("lines", _("Every line needs a product."))
        if price is None and hasattr(product, "_meta"):
            price = get_adapter().price(product)
        unit = _decimal(price, "lines")
        cleaned.append({"product": key, "quantity": _quantity(quantity), "price": str(unit) if unit is not None else None})
    return cleaned


def lines_value(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["price"] or 0) * line["quantity"] for line in lines), Decimal("0"))


def build_event(
    shopper: Shopper,
    kind: str,
    *,
    product: Any = None,
    quantity: Any = 1,
    value: Any = None,
    query: str = "",
    lines: Iterable[Any] | None = None,
    order_ref: str = "",
    context: Mapping[str, Any] | None = None,
    created_at: Any = None,
) -> Event:
    """An unsaved, validated event."""
    if kind not in event_kinds():
        raise TrackingError("kind", _("Unknown event kind “%(kind)s”.") % {"kind": str(kind)[:40]})
    values = event_values(kind, product_key_of(product), quantity=quantity, value=value, query=query, lines=lines, context=context)
    return Event(
        shopper=shopper,
        kind=kind,
        product_key=values.product_key,
        quantity=values.quantity,
        value=values.value,
        query=values.query,
        order_ref=str(order_ref or "")[:64],
        context=values.context,
        created_at=created_at or timezone.now(),
    )


@dataclass(slots=True)
class EventValues:
    """What :func:`event_values` accepted: the columns of an event, cleaned."""

    product_key: str
    quantity: int
    value: Decimal | None
    query: str
    context: dict[str, Any]


def event_values(
    kind: str,
    key: str,
    *,
    quantity: Any = 1,
    value: Any = None,
    query: str = "",
    lines: Iterable[Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> EventValues:
    """The checks of :func:`build_event` once the kind is known and the product is a key: for
    callers that write rows without model instances (the importer's ``COPY``)."""
    if kind in PRODUCT_KINDS and not key:
        raise TrackingError("product", _("This event kind needs a product."))
    query = (query or "").strip()
    if bad_string(query):
        raise TrackingError("query", _("Contains a character that cannot be stored (NUL or a lone surrogate)."))
    if kind == EventKind.SEARCH and not query:
        raise TrackingError("query", _("A search needs a query."))
    ctx = dict(context or {})
    if lines is not None:
        ctx["lines"] = clean_lines(lines)
    amount = _decimal(value, "value")
    if amount is None and kind == EventKind.PURCHASE and ctx.get("lines"):
        amount = lines_value(ctx["lines"])
    return EventValues(key, _quantity(quantity), amount, query[:MAX_QUERY], ctx)


# --- beacon events: the light schema of what a browser may send ----------------------------------
# Plain Python checks (no serializer per event): a batch of 50 costs well under a millisecond.

# Kinds only the server may record, whatever ``API_EVENT_KINDS`` says.
SERVER_ONLY_KINDS = frozenset({EventKind.PURCHASE})
# Kinds the beacon sends about a widget item: they must name the product.
BEACON_PRODUCT_KINDS = frozenset({*PRODUCT_KINDS, EventKind.IMPRESSION})
BEACON_FIELDS = frozenset(
    {"id", "ts", "kind", "product", "quantity", "value", "query", "placement", "model_version", "token", "context"}
)
# Context keys the server owns (or that have their own field).
RESERVED_CONTEXT_KEYS = frozenset({"source", "lines", "placement", "model_version", "signed"})
CONTEXT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_CONTEXT_KEYS = 20
MAX_CONTEXT_VALUE = 255
MAX_TOKEN = 512
# Beyond this a number loses precision in JavaScript and in some JSON columns.
MAX_CONTEXT_NUMBER = 2**53


def safe_text(value: Any, limit: int = 40) -> str:
    """``value`` fit to echo in an error message: cut, lone surrogates and NUL replaced (they
    cannot be encoded in a JSON response or stored in PostgreSQL)."""
    text = str(value)[:limit]
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


def bad_string(value: str) -> bool:
    """NUL or a lone surrogate: PostgreSQL refuses both (text and jsonb)."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@dataclass
class BeaconEvent:
    """One browser event after the schema: plain values, product key not yet resolved."""

    kind: str
    product: str = ""
    quantity: int = 1
    value: Decimal | None = None
    query: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None
    created_at: datetime | None = None
    token: str = ""


def _text(item: Mapping[str, Any], name: str, limit: int, errors: dict[str, list[str]]) -> str:
    value = item.get(name)
    if value is None or value == "":  # most of a beacon event's text fields are absent
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors[name] = [_("Must be a string.")]
        return ""
    value = str(value)
    if bad_string(value):
        errors[name] = [_("Contains a character that cannot be stored (NUL or a lone surrogate).")]
        return ""
    if len(value) > limit:
        errors[name] = [_("At most %(max)s characters.") % {"max": limit}]
        return ""
    return value


def _context(raw: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors["context"] = [_("Must be an object (a dictionary of names and values).")]
        return {}
    if len(raw) > MAX_CONTEXT_KEYS:
        errors["context"] = [_("At most %(max)s keys.") % {"max": MAX_CONTEXT_KEYS}]
        return {}
    for key, value in raw.items():
        if not isinstance(key, str) or not CONTEXT_KEY.match(key) or key in RESERVED_CONTEXT_KEYS:
            errors["context"] = [_("“%(key)s” is not an allowed key.") % {"key": safe_text(key)}]
            return {}
        scalar = value is None or isinstance(value, (bool, str)) or (
            isinstance(value, (int, float)) and math.isfinite(value) and abs(value) <= MAX_CONTEXT_NUMBER
        )
        if not scalar:
            errors["context"] = [_("“%(key)s” must be a string, number or boolean.") % {"key": key}]
            return {}
        if isinstance(value, str) and bad_string(value):
            errors["context"] = [_("“%(key)s” contains a character that cannot be stored (NUL or a lone surrogate).") % {"key": key}]
            return {}
        if isinstance(value, str) and len(value) > MAX_CONTEXT_VALUE:
            errors["context"] = [_("“%(key)s” is longer than %(max)s characters.") % {"key": key, "max": MAX_CONTEXT_VALUE}]
            return {}
    return dict(raw)


def _client_time(raw: Any, now: datetime, errors: dict[str, list[str]]) -> datetime | None:
    """``ts`` (milliseconds since the epoch) within the allowed skew and age, capped at now."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        errors["ts"] = [_("Milliseconds since 1970 (a number).")]
        return None
    seconds = raw / 1000.0
    current = now.timestamp()
    if seconds > current + ps.API_CLOCK_SKEW_SECONDS:
        errors["ts"] = [_("Lies in the future.")]
        return None
    if seconds < current - ps.API_EVENT_MAX_AGE_SECONDS:
        errors["ts"] = [_("Older than %(seconds)s seconds.") % {"seconds": ps.API_EVENT_MAX_AGE_SECONDS}]
        return None
    return min(now, datetime.fromtimestamp(seconds, tz=dt_timezone.utc))


def clean_beacon_event(
    item: Any,
    now: datetime,
    allowed_kinds: Iterable[str],
    *,
    known_kinds: Collection[str] | None = None,
    valid_key: Callable[[str], bool] | None = None,
) -> tuple[BeaconEvent | None, dict[str, list[str]]]:
    """One browser event checked against the schema: ``(event, {})`` or ``(None, {field: [...]})``.

    A batch passes ``known_kinds`` (:func:`event_kinds`) and ``valid_key`` (the adapter's
    ``is_valid_key``) once for all its events: looked up per event they cost more than the checks.
    """
    if not isinstance(item, Mapping):
        return None, {"": [_("Invalid data: expected an object.")]}
    errors: dict[str, list[str]] = {}
    for name in item:
        if name not in BEACON_FIELDS:
            errors[safe_text(name)] = [_("Unknown field.")]
    kind = item.get("kind")
    if not isinstance(kind, str) or not kind:
        errors["kind"] = [_("This field is required.")]
    elif kind in SERVER_ONLY_KINDS:
        errors["kind"] = [_("Purchases are recorded by the server, not the browser.")]
    elif kind not in (known_kinds if known_kinds is not None else event_kinds()):
        errors["kind"] = [_("Unknown event kind “%(kind)s”.") % {"kind": safe_text(kind)}]
    elif kind not in allowed_kinds:
        errors["kind"] = [_("Event kind “%(kind)s” cannot be sent from the browser.") % {"kind": kind}]
    product = _text(item, "product", 64, errors).strip()
    if product and "product" not in errors and not (valid_key or get_adapter().is_valid_key)(product):
        errors["product"] = [_("“%(id)s” is not a valid product id.") % {"id": safe_text(product)}]
    query = _text(item, "query", MAX_QUERY, errors).strip()
    placement = _text(item, "placement", 64, errors)
    model_version = _text(item, "model_version", 64, errors)
    token = _text(item, "token", MAX_TOKEN, errors)
    client_id = item.get("id")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID.match(client_id)):
        errors["id"] = [_("1 to 64 letters, digits or . _ : -")]
    quantity = item.get("quantity", 1)
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)  # 2.0 is a whole number (as JSON Schema's "integer" says)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        errors["quantity"] = [_("Must be a whole number between 1 and %(max)s.") % {"max": MAX_QUANTITY}]
    value = None
    raw_value = item.get("value")
    if raw_value is not None and not isinstance(raw_value, bool) and isinstance(raw_value, (int, float, str)):
        try:
            value = _decimal(raw_value, "value")
        except TrackingError as exc:
            errors["value"] = [exc.message]
    elif raw_value is not None:
        errors["value"] = [_("Enter a number.")]
    context = _context(item.get("context"), errors)
    created_at = _client_time(item.get("ts"), now, errors)
    if "kind" not in errors and "product" not in errors and kind in BEACON_PRODUCT_KINDS and not product:
        errors["product"] = [_("This event kind needs a product.")]
    if "kind" not in errors and "query" not in errors and kind == EventKind.SEARCH and not query:
        errors["query"] = [_("A search needs a query.")]
    if errors:
        return None, errors
    context["source"] = "beacon"
    if placement:
        context["placement"] = placement
    if model_version:
        context["model_version"] = model_version
    return BeaconEvent(kind, product, quantity, value, query, context, client_id, created_at, token), {}
