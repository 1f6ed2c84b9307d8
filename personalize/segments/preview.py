"""Previews for the admin: who matches a segment (saved or as edited, unsaved), in bounded time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, connection, transaction

from personalize.models import Shopper
from personalize.segments.evaluation import (
    CompiledSegment,
    compile_segment,
)
from personalize.segments.materialise import (
    Planner,
    base_queryset,
    iter_matching_ids,
    load_segments,
)

logger = logging.getLogger("personalize")


@dataclass
class Preview:
    count: int
    sample: list[Any]
    skipped: list[str]
    exact_sql: bool
    # The time budget ran out before every shopper was evaluated: ``count`` is a lower bound.
    partial: bool = False
    # One query took longer than the budget (PostgreSQL cancelled it): no count at all.
    timed_out: bool = False


@contextmanager
def statement_budget(seconds: float | None) -> Iterator[None]:
    """On PostgreSQL, cancel any one query that runs longer than ``seconds`` (a savepoint keeps
    the connection usable after a cancel); elsewhere, nothing."""
    if seconds is None or connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            previous = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{max(1, int(seconds * 1000))}ms"])
        yield  # a cancelled query rolls back the savepoint, and the setting with it
        with connection.cursor() as cursor:  # inside a caller's transaction, SET LOCAL would outlive us
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


def preview(segment_obj: Any, *, sample_size: int = 20, rules: list[Any] | None = None, seconds: float | None = None) -> Preview:
    """See :func:`_preview`; with ``seconds``, a query slower than that is cancelled on
    PostgreSQL and the answer says so (``timed_out``) instead of making the admin wait."""
    try:
        with statement_budget(seconds):
            return _preview(segment_obj, sample_size=sample_size, rules=rules, seconds=seconds)
    except OperationalError:
        if seconds is None or connection.vendor != "postgresql":
            raise
        logger.warning("personalize: segment preview of %r cancelled after %s s", getattr(segment_obj, "slug", ""), seconds)
        return Preview(0, [], [], False, partial=True, timed_out=True)


def _preview(segment_obj: Any, *, sample_size: int, rules: list[Any] | None, seconds: float | None) -> Preview:
    """How many shoppers match now, and a sample, for the admin (per-request rules ignored).

    ``rules`` (unsaved ``SegmentRule``-like rows: ``kind``, ``params``, ``negate``) evaluate a
    segment being edited instead of the stored one; other segments it refers to are the stored
    ones. ``seconds`` bounds the per-shopper (Python) evaluation: past it, the count so far is
    returned with ``partial`` set.
    """
    segments = load_segments()
    if rules is not None:
        compiled = compile_segment(segment_obj, rules)
        if compiled.broken:
            raise ValueError("a rule does not validate")
        segments = {**segments, compiled.slug: compiled}
    else:
        compiled = segments.get(segment_obj.slug)
    if compiled is None:
        return Preview(0, [], [], True)
    compiled = CompiledSegment(compiled.pk, compiled.slug, compiled.match, "live", compiled.rules, compiled.broken)
    planner = Planner(segments, skip_live_only=True)
    plan = planner.plan(compiled)
    skipped = [rule.describe() for rule, _n in plan.skipped]
    if plan.sql_only:
        qs = base_queryset().filter(plan.sql).order_by("-last_seen")
        return Preview(qs.count(), list(qs.select_related("user")[:sample_size]), skipped, True)
    deadline = time.monotonic() + seconds if seconds is not None else None
    count, sample_ids, partial = 0, [], False
    last_pk = Shopper.objects.order_by("-pk").values_list("pk", flat=True).first()
    ranges = iter_matching_ids(compiled, segments=segments, now=planner.now, skip_live_only=True)
    for _low, high, ids in ranges:
        count += len(ids)
        if len(sample_ids) < sample_size:
            sample_ids += ids[: sample_size - len(sample_ids)]
        if deadline is not None and time.monotonic() > deadline and last_pk is not None and high < last_pk:
            partial = True
            ranges.close()
            break
    sample = list(base_queryset().filter(pk__in=sample_ids).select_related("user").order_by("-last_seen"))
    return Preview(count, sample, skipped, False, partial)


def iter_matching_shoppers(segment_obj: Any, *, batch_size: int = 2000) -> Iterator[Any]:
    """Every shopper matching ``segment_obj`` now (per-request rules ignored), in pk order."""
    segments = load_segments()
    compiled = segments.get(segment_obj.slug)
    if compiled is None:
        return
    compiled = CompiledSegment(compiled.pk, compiled.slug, compiled.match, "live", compiled.rules, compiled.broken)
    for _low, _high, ids in iter_matching_ids(compiled, segments=segments, batch_size=batch_size, skip_live_only=True):
        if ids:
            yield from base_queryset().filter(pk__in=ids).select_related("user").order_by("pk")
