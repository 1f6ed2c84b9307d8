"""Beacon ingestion: a batch of browser events in, each valid one stored exactly once.

:func:`ingest` validates the envelope (a bad one is a :class:`BatchError`: nothing stored),
then each event against the light schema (:func:`personalize.events.schema.clean_beacon_event`),
resolves every product key in one query, and writes the events with one multi-row insert that
skips client ids already stored (a retried batch: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
on PostgreSQL and SQLite, which also says which rows were written, so there is no lookup
first); receivers run once per batch after the commit. Invalid events are reported by index;
the valid ones are stored.

Delivery: at least once from ``beacon.js`` (it retries until acknowledged), exactly once in the
table for events that carry an ``id`` (``Event.client_id`` is unique; docs/events.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from personalize import signing
from personalize.adapters import get_adapter
from personalize.caching import cache
from personalize.caching.local import LocalLayer
from personalize.conf import personalize_settings as ps
from personalize.events.schema import BeaconEvent, clean_beacon_event, event_kinds, safe_text
from personalize.events.tracking import save_events
from personalize.events.writing import fast_insert_supported
from personalize.identity.remembered import ShopperGuard
from personalize.models import Event, Shopper


# Kinds that say nothing a shopper did on purpose: alone they never create a profile.
PASSIVE_KINDS = frozenset({"impression", "page_view"})
# How long this process trusts that a product key exists once the catalogue confirmed it. A key
# is never reused and a product deleted meanwhile costs nothing worse than an event naming it
# (events keep a key, not a foreign key), so this is longer than ``LOCAL_CACHE_SECONDS``: with
# that bound alone a few hundred products' keys expired one by one and nearly every batch asked.
KNOWN_PRODUCT_SECONDS = 300


class ConfirmedKeys(LocalLayer):
    """Product keys the catalogue confirmed, held in this process only (``hold``) for
    :data:`KNOWN_PRODUCT_SECONDS`; off with ``LOCAL_CACHE_SECONDS = 0`` (the in-process layer is
    off then). Its own layer, so a large catalogue never pushes the hot keys of
    :data:`personalize.caching.local` out."""

    def _bound(self) -> float:
        return float(max(ps.LOCAL_CACHE_SECONDS, KNOWN_PRODUCT_SECONDS)) if ps.LOCAL_CACHE_SECONDS > 0 else 0.0


KNOWN_PRODUCTS = ConfirmedKeys(cache, max_entries=20_000)


class BatchError(Exception):
    """The request as a whole is unusable: ``errors`` maps a path (``events``) to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def detail(self) -> str:
        path, messages = next(iter(self.errors.items()))
        return f"{path}: {messages[0]}"


@dataclass
class IngestResult:
    """What happened to a batch: ``accepted`` new rows, ``duplicates`` already stored, and the
    ``errors`` of the rejected events by path (``events[3].product``)."""

    accepted: int = 0
    duplicates: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rejected(self) -> list[int]:
        return sorted({int(path[7 : path.index("]")]) for path in self.errors})

    @property
    def detail(self) -> str:
        path, messages = next(iter(self.errors.items()))
        return f"{path}: {messages[0]}"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"accepted": self.accepted}
        if self.duplicates:
            body["duplicates"] = self.duplicates
        if self.errors:
            body["rejected"] = [
                {"index": index, "errors": {p: m for p, m in self.errors.items() if p.startswith(f"events[{index}]")}}
                for index in self.rejected
            ]
            body["detail"] = self.detail
            body["errors"] = self.errors
        return body


def check_envelope(data: Any) -> list[Any]:
    """The ``events`` list of a payload; :class:`BatchError` when the payload is not one."""
    if not isinstance(data, Mapping):
        raise BatchError({"body": [_("Expected a JSON object with an “events” list.")]})
    unknown = sorted(safe_text(key) for key in data if key != "events")
    if unknown:
        raise BatchError({unknown[0]: [_("Unknown field.")]})
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


def validate(data: Any) -> tuple[list[tuple[int, BeaconEvent]], dict[str, list[str]]]:
    """``([(index, event)...], errors)``: the envelope must hold, each event is judged alone."""
    items = check_envelope(data)
    now = timezone.now()
    allowed = set(ps.API_EVENT_KINDS)
    known_kinds = event_kinds()
    valid_key = _valid_key(get_adapter().is_valid_key)
    cleaned: list[tuple[int, BeaconEvent]] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        event, problems = clean_beacon_event(item, now, allowed, known_kinds=known_kinds, valid_key=valid_key)
        if event is None:
            for name, messages in problems.items():
                errors[f"events[{index}].{name}" if name else f"events[{index}]"] = messages
        else:
            cleaned.append((index, event))
    # At most one query for the whole batch. A product hidden a moment ago was real: only keys
    # that never existed (or were deleted) are refused.
    requested = {event.product for _i, event in cleaned if event.product}
    known = known_product_keys(requested) if requested else {}
    valid = []
    for index, event in cleaned:
        if event.product and event.product not in known:
            errors[f"events[{index}].product"] = [_("Unknown product “%(id)s”.") % {"id": safe_text(event.product)}]
            continue
        if event.product:
            event.product = known[event.product]
        valid.append((index, event))
    ordered = dict(sorted(errors.items(), key=lambda item: (int(item[0][7 : item[0].index("]")]), item[0])))
    return valid, ordered


def _valid_key(is_valid_key: Callable[[str], bool]) -> Callable[[str], bool]:
    """The adapter's syntax check, skipped for a key the catalogue confirmed (parsing a UUID key
    per event cost more than the rest of its checks)."""

    def valid(key: str) -> bool:
        return KNOWN_PRODUCTS.held(key)[0] or is_valid_key(key)

    return valid


def known_product_keys(keys: set[str]) -> dict[str, str]:
    """``{key: canonical key}`` for the ``keys`` that name a product (the adapter's
    ``resolve_keys``), asking the database only about keys this process has not confirmed in the
    last :data:`KNOWN_PRODUCT_SECONDS`: a shop's browsers send the same few hundred products
    again and again. A product deleted within that bound may still be accepted (events keep a
    key, not a foreign key); a key never seen is always checked."""
    found: dict[str, str] = {}
    missing: set[str] = set()
    for key in keys:
        hit, canonical = KNOWN_PRODUCTS.held(key)
        if hit:
            found[key] = canonical
        else:
            missing.add(key)
    if missing:
        resolved = get_adapter().resolve_keys(missing)
        for key, canonical in resolved.items():
            KNOWN_PRODUCTS.hold(key, canonical)
        found.update(resolved)
    return found


def ingest(
    data: Any,
    shopper_for_batch: Callable[[list[BeaconEvent]], Shopper | None],
    *,
    request: HttpRequest | None = None,
    prepare: Callable[[list[tuple[BeaconEvent, Event]]], None] | None = None,
    guard: ShopperGuard | None = None,
    recheck: Callable[[list[BeaconEvent]], Shopper | None] | None = None,
) -> IngestResult | None:
    """Validate and store a beacon payload; ``None`` when ``shopper_for_batch`` gives no shopper.

    ``shopper_for_batch(valid events)`` is called only when something valid is left (so an
    all-invalid batch creates no profile); ``prepare`` may adjust the built rows (signed placement tokens).
    ``guard``: the shopper was remembered (:func:`personalize.identity.remembered.recall`), so
    the insert writes only while its row is unchanged; when nothing was written, ``recheck``
    (the shopper looked up again, or ``None``) decides where the events go.
    """
    valid, errors = validate(data)
    result = IngestResult(errors=errors)
    if not valid:
        return result
    events = [event for _i, event in valid]
    ids = [event.client_id for event in events if event.client_id]
    # Where the insert itself skips stored ids and says which rows it wrote, no lookup first.
    stored: set[str] = set()
    fast = fast_insert_supported()
    if ids and not fast:
        stored = set(Event.objects.filter(client_id__in=ids).values_list("client_id", flat=True))
    shopper = shopper_for_batch(events)
    if shopper is None:
        return None
    now = timezone.now()
    rows: list[tuple[BeaconEvent, Event]] = []
    seen: set[str] = set()
    for event in events:
        if event.client_id and (event.client_id in stored or event.client_id in seen):
            result.duplicates += 1
            continue
        if event.client_id:
            seen.add(event.client_id)
        rows.append((event, _row(shopper, event, now)))
    for event, row in rows:
        apply_signed_placement(event, row)
    if prepare is not None and rows:
        prepare(rows)
    saved = []
    if rows:
        # With ids, a retry (or a concurrent retry of the same batch that won the race) was
        # stored first: its rows stand, ours are counted as duplicates.
        built = [row for _event, row in rows]
        saved = save_events(built, request=request, ignore_conflicts=bool(ids), guard=guard)
        if guard is not None and not saved and recheck is not None:
            # Nothing written: every event was stored before, or the remembered row changed
            # (erased, merged, claimed by an account). Ask the database who this is now.
            shopper = recheck(events)
            if shopper is None:
                return None
            for row in built:
                row.shopper = shopper
            saved = save_events(built, request=request, ignore_conflicts=bool(ids))
    if fast:
        result.duplicates += len(rows) - len(saved)
        result.accepted = len(saved)
    else:
        result.accepted = len(rows)
    return result


def apply_signed_placement(event: BeaconEvent, row: Event) -> None:
    """Placement, model version and A/B variant are the server's word, not the browser's.

    The item's signed click token (the ``rec_click`` kind the server put on the link) names
    them; with a valid one for this product they replace what the browser said and the event
    is marked ``signed``. Without one the variant is dropped: an unsigned event never enters an
    A/B comparison (four posts with a made-up variant once showed "CTR 100%").
    """
    claims = None
    if event.token:
        try:
            claims = signing.unsign("rec_click", event.token)
        except signing.BadSignature:
            claims = None
    context = row.context
    if isinstance(claims, dict) and str(claims.get("k", "")) == row.product_key:
        for short, name in (("p", "placement"), ("m", "model_version"), ("v", "variant")):
            value = claims.get(short)
            if isinstance(value, str) and value:
                context[name] = value[:64]
            else:
                context.pop(name, None)
        context["signed"] = True
    else:
        context.pop("variant", None)


# Event's concrete fields in their order: a row built positionally skips the keyword matching
# of ``Model.__init__`` (half of its cost, for 20 rows per batch).
_EVENT_FIELDS = tuple(field.attname for field in Event._meta.concrete_fields)
_SHOPPER_CACHE = Event._meta.get_field("shopper")


def _row(shopper: Shopper, event: BeaconEvent, now: Any) -> Event:
    values = {
        "id": None,
        "shopper_id": shopper.pk,
        "kind": event.kind,
        "product_key": event.product,
        "quantity": event.quantity,
        "value": event.value,
        "query": event.query,
        "order_ref": "",
        "context": event.context,
        "client_id": event.client_id,
        "created_at": event.created_at or now,
    }
    row = Event(*(values[name] for name in _EVENT_FIELDS))
    _SHOPPER_CACHE.set_cached_value(row, shopper)  # receivers reading event.shopper cost no query
    return row
