"""schemathesis hooks of bench/fuzz_api.py (loaded through ``SCHEMATHESIS_HOOKS=bench.fuzz_hooks``).

Random strings rarely get past the first check, so some generated values are swapped for ones
that reach deeper code, the rest stay as drawn:

- the signed-link tokens: besides the drawn string, a token *validly signed* (the server's
  secret key and salts: bench/fuzz_api.py passes the server's environment) around an arbitrary
  JSON payload of the kind's shape or any other (the issue's "signed payloads with odd types");
- beacon events: about half name a real product and carry a current timestamp;
- ``product`` of the recommendations endpoint: often a real product;
- the fragments endpoint's ``f``: mostly validly signed fragment payloads (a widget, real or not,
  and the tag's arguments filled with anything).

Runs in schemathesis' process with Django set up on the server's settings (no server code runs
here: only ``personalize.signing`` to make tokens).
"""

from __future__ import annotations

import os
import time
import zlib
from typing import Any

import django

django.setup()

import schemathesis  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from personalize import signing  # noqa: E402
from personalize.widgets.fragments import ARGUMENTS, WIDGETS  # noqa: E402

PRODUCT_KEYS = [key for key in os.environ.get("FUZZ_PRODUCT_KEYS", "").split(",") if key]
# Path suffix -> token kind (personalize.signing.KINDS).
TOKEN_KINDS = {
    "/c/seen/{token}/": "campaign_seen",
    "/c/{token}/": "campaign_click",
    "/emails/restore/{token}/": "email_restore",
    "/emails/unsubscribe/{token}/": "email_unsubscribe",
}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6
)
ids = st.integers(min_value=1, max_value=10**4) | st.integers()
keys = st.uuids().map(str) | st.text(max_size=40)
# Per kind: the shapes its view expects (a list of 2 or 3, a send id, a legacy dict), filled
# with plausible values or anything; then any JSON at all.
SHAPES = {
    "campaign_click": st.tuples(ids | json_values, st.text(max_size=30) | json_values, st.text(max_size=60) | json_values).map(list),
    "campaign_seen": st.tuples(ids | json_values, st.text(max_size=30) | json_values).map(list),
    "email_restore": ids | st.fixed_dictionaries({"s": ids | json_values, "k": keys | json_values}),
    "email_unsubscribe": ids | st.fixed_dictionaries({"k": keys | json_values, "e": st.emails() | st.text() | json_values}),
}
# A fragment token: a widget (real or not) and arguments by the tag's names, filled with anything.
# Not ``template``: that is the store's own template name, and a missing one is logged on purpose
# (with its traceback, for the store's developer) while the page keeps its neutral list.
FRAGMENT_ARGUMENTS = sorted(set(ARGUMENTS) - {"template"})
fragment_payloads = st.fixed_dictionaries(
    {
        "w": st.sampled_from(sorted(WIDGETS)) | json_values,
        "a": st.dictionaries(st.sampled_from(FRAGMENT_ARGUMENTS), json_values | st.text(max_size=30), max_size=4)
        | json_values,
    }
)
other_shapes = json_values | st.lists(json_values, min_size=2, max_size=3) | st.integers(min_value=-(2**70), max_value=2**70)


def _kind(ctx: Any) -> str | None:
    path = ctx.operation.path if ctx.operation is not None else ""
    for suffix, kind in TOKEN_KINDS.items():
        if path.endswith(suffix):
            return kind
    return None


def _pick(seed: Any) -> int:
    return zlib.crc32(repr(seed).encode("utf-8", "surrogatepass"))


@schemathesis.hook
def flatmap_path_parameters(ctx: Any, path_parameters: Any) -> Any:
    kind = _kind(ctx)
    if kind is None or not isinstance(path_parameters, dict) or "token" not in path_parameters:
        return st.just(path_parameters)
    payloads = SHAPES[kind] | other_shapes
    signed = payloads.map(lambda value: {**path_parameters, "token": signing.sign(kind, value)})
    # Mostly signed: a drawn string only ever meets the signature check.
    return st.sampled_from([True, False, False, False]).flatmap(lambda raw: st.just(path_parameters) if raw else signed)


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    path = ctx.operation.path if ctx.operation is not None else ""
    if not path.endswith("/api/events/") or not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return body
    now_ms = time.time() * 1000
    for event in body["events"]:
        if not isinstance(event, dict):
            continue
        pick = _pick(event)
        if PRODUCT_KEYS and "product" in event and pick % 2 == 0:
            event["product"] = PRODUCT_KEYS[pick % len(PRODUCT_KEYS)]
        if "ts" in event and pick % 3 != 0:
            event["ts"] = now_ms - (pick % 3_600_000)
    return body


@schemathesis.hook
def flatmap_query(ctx: Any, query: Any) -> Any:
    """``f`` of the fragments endpoint: mostly validly signed fragment payloads."""
    path = ctx.operation.path if ctx.operation is not None else ""
    if not path.endswith("/fragments/") or not isinstance(query, dict) or not isinstance(query.get("f"), list):
        return st.just(map_query(ctx, query))
    signed = st.lists(fragment_payloads | other_shapes, min_size=1, max_size=len(query["f"]) or 1).map(
        lambda payloads: {**query, "f": [signing.sign("fragment", value) for value in payloads]}
    )
    return st.sampled_from([True, False, False, False]).flatmap(lambda raw: st.just(query) if raw else signed)


def map_query(ctx: Any, query: Any) -> Any:
    path = ctx.operation.path if ctx.operation is not None else ""
    if path.endswith("/api/recommendations/") and isinstance(query, dict) and PRODUCT_KEYS:
        pick = _pick(query)
        if pick % 3 != 0:
            query["product"] = PRODUCT_KEYS[pick % len(PRODUCT_KEYS)]
    return query
