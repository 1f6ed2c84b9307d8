"""Which segments a shopper is in, per request: the fast path behind ``segments_for``.

Segment definitions are compiled once per process and reused until a segment changes (a
version number in the cache is bumped on every save) or ``SEGMENT_CACHE_SECONDS`` pass. A
request's answer is kept in its session with a fingerprint (segments version, shopper, login,
cart revision, store-local hour), so a cached request costs one cache read and no query.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from personalize.caching import VersionedMemo
from personalize.conf import personalize_settings as ps
from personalize.events import request_context
from personalize.identity import get_shopper, has_consent, is_new
from personalize.models import Cart, Segment, SegmentMembership, SegmentRule
from personalize.segments.context import SegmentContext, store_now
from personalize.segments.rules import Rule, build_rule

logger = logging.getLogger("personalize")

SESSION_KEY = "personalize_segments"
REQUEST_ATTR = "_personalize_segments"


@dataclass
class CompiledSegment:
    pk: int
    slug: str
    match: str
    mode: str
    rules: list[tuple[Rule, bool]] = field(default_factory=list)  # (rule, negate)
    broken: bool = False  # a stored rule no longer validates: the segment matches nobody
    active: bool = True

    @property
    def materialised(self) -> bool:
        return self.mode == "materialised"

    def dependencies(self) -> set[str]:
        deps: set[str] = set()
        for rule, _negate in self.rules:
            deps |= rule.dependencies()
        return deps


# --- compiled definitions (one memo per process, see personalize.caching) ------------------
def compile_segment(segment: Any, rules: list[Any]) -> CompiledSegment:
    compiled = CompiledSegment(
        pk=segment.pk, slug=segment.slug, match=segment.match, mode=segment.mode, active=segment.is_active
    )
    for row in rules:
        try:
            compiled.rules.append((build_rule(row.kind, row.params), row.negate))
        except Exception:  # noqa: BLE001 - e.g. a custom rule removed from SEGMENT_RULES
            logger.warning("personalize: segment %r has an invalid %r rule; it matches nobody", segment.slug, row.kind)
            compiled.broken = True
    return compiled


def _load_segments() -> tuple[dict[str, CompiledSegment], frozenset[str] | None]:
    segments = list(Segment.objects.filter(is_active=True))
    rules: dict[int, list[Any]] = {s.pk: [] for s in segments}
    for row in SegmentRule.objects.filter(segment__is_active=True).order_by("position", "pk"):
        rules.setdefault(row.segment_id, []).append(row)
    compiled = {s.slug: compile_segment(s, rules[s.pk]) for s in segments}
    return compiled, _event_kinds(compiled)


definitions = VersionedMemo("segments", _load_segments, lambda: ps.SEGMENT_CACHE_SECONDS)


def segments_version() -> str | None:
    """The generation of the definitions (part of every session's cached answer)."""
    return definitions.version()


def bump_version() -> None:
    """Invalidate every process's compiled definitions and every session's cached answer."""
    definitions.bump()


def active_segments() -> dict[str, CompiledSegment]:
    """Slug -> compiled definition of every active segment (two queries when reloaded)."""
    return definitions.get()[0]


def _event_kinds(segments: dict[str, CompiledSegment]) -> frozenset[str] | None:
    """Event kinds that can change a live segment's answer (``None``: any kind)."""
    kinds: set[str] = set()
    for segment in segments.values():
        if segment.materialised:
            continue  # answered from memberships, refreshed by the job
        for rule, _negate in segment.rules:
            if rule.event_kinds is None:
                return None
            kinds |= rule.event_kinds
    return frozenset(kinds)


def invalidating_event_kinds() -> frozenset[str] | None:
    """Tracking one of these kinds drops the session's cached segments (``None``: any)."""
    return definitions.get()[1]


# --- evaluation ----------------------------------------------------------------------------
def evaluate(segment: CompiledSegment, ctx: SegmentContext) -> bool:
    """Whether the context's shopper is in ``segment``, evaluating its rules in Python.

    A materialised segment answers from its memberships (as of its last refresh).
    """
    if segment.slug in ctx.segment_results:
        return ctx.segment_results[segment.slug]
    if segment.materialised:
        result = segment.slug in ctx.memberships
    elif segment.broken or segment.slug in ctx.evaluating:
        if segment.slug in ctx.evaluating:
            logger.warning("personalize: segment %r refers to itself; treated as no match", segment.slug)
        result = False
    else:
        ctx.evaluating.add(segment.slug)
        try:
            result = evaluate_rules(segment, ctx)
        except Exception:  # one broken rule (a store's own, say) must not hide the others
            logger.exception("personalize: segment %r failed to evaluate; treated as no match", segment.slug)
            result = False
        finally:
            ctx.evaluating.discard(segment.slug)
    ctx.segment_results[segment.slug] = result
    return result


def evaluate_rules(segment: CompiledSegment, ctx: SegmentContext) -> bool:
    if not segment.rules:
        return False  # an empty segment selects nobody rather than everybody
    results = (rule.matches(ctx) != negate for rule, negate in segment.rules)
    return all(results) if segment.match == "all" else any(results)


def resolver(segments: dict[str, CompiledSegment]) -> Any:
    """A member-of-segment resolver over ``segments`` (inactive or unknown slugs: no match)."""

    def resolve(slug: str, ctx: SegmentContext) -> bool:
        target = segments.get(slug)
        return evaluate(target, ctx) if target is not None and target.active else False

    return resolve


def context_for(shopper: Any, request: Any = None, segments: dict[str, CompiledSegment] | None = None) -> SegmentContext:
    segments = active_segments() if segments is None else segments
    return SegmentContext(shopper, request=request, segment_resolver=resolver(segments))


def evaluate_all(shopper: Any, request: Any = None) -> frozenset[str]:
    """Slugs of every active segment the shopper is in, computed now (no session cache)."""
    segments = active_segments()
    if not segments:
        return frozenset()
    ctx = context_for(shopper, request, segments)
    return frozenset(slug for slug, segment in segments.items() if evaluate(segment, ctx))


# --- the public answers ---------------------------------------------------------------------
def _fingerprint(request: Any, shopper: Any) -> list[Any]:
    revision = None
    if shopper is not None and shopper.pk is not None:
        try:
            revision = shopper.cart.revision
        except Cart.DoesNotExist:
            revision = None
    user = getattr(request, "user", None)
    user_id = str(user.pk) if user is not None and user.is_authenticated else None
    now = store_now()
    # A request carrying a source (landing from a campaign link) is evaluated afresh.
    source = "&".join(f"{key}={value}" for key, value in sorted(request_context(request).items()))
    return [
        segments_version(),
        shopper.pk if shopper is not None else None,
        shopper.visits if shopper is not None and shopper.pk is not None else 1,
        user_id,
        revision,
        now.strftime("%Y%m%d%H"),
        source,
    ]


def segments_for(request: Any) -> frozenset[str]:
    """See :func:`personalize.segments.segments_for`."""
    cached = getattr(request, REQUEST_ATTR, None)
    if cached is not None:
        return cached
    if not has_consent(request):
        return frozenset()  # no profile, and nothing written to the session either
    try:
        result = _segments_for(request)
    except Exception:
        logger.exception("personalize: could not evaluate segments; using none")
        result = frozenset()
    try:
        setattr(request, REQUEST_ATTR, result)
    except AttributeError:
        pass
    return result


def _segments_for(request: Any) -> frozenset[str]:
    shopper = getattr(request, "shopper", None)
    if shopper is None:
        shopper = get_shopper(request)
    session = getattr(request, "session", None)
    fingerprint = _fingerprint(request, shopper)
    if session is not None:
        stored = session.get(SESSION_KEY)
        if (
            stored
            and stored.get("fp") == fingerprint
            and time.time() - stored.get("at", 0) < ps.SEGMENT_CACHE_SECONDS
        ):
            return frozenset(stored.get("slugs", ()))
    result = evaluate_all(shopper, request)
    if session is not None and shopper is not None and shopper.pk is not None and not is_new(request):
        # Not for a first visit (no row yet, or one this request made: the next page's
        # fingerprint differs anyway): a one-page visit writes no session row.
        session[SESSION_KEY] = {"fp": fingerprint, "at": time.time(), "slugs": sorted(result)}
    return result


def invalidate_request(request: Any) -> None:
    """Forget the cached answer for this request's session (after an event or cart change)."""
    if request is None:
        return
    if hasattr(request, REQUEST_ATTR):
        try:
            delattr(request, REQUEST_ATTR)
        except AttributeError:
            pass
    session = getattr(request, "session", None)
    if session is not None and SESSION_KEY in session:
        del session[SESSION_KEY]


def shopper_segments(shopper: Any) -> frozenset[str]:
    """See :func:`personalize.segments.shopper_segments`."""
    if shopper is None or getattr(shopper, "pk", None) is None:
        return frozenset()
    return frozenset(
        SegmentMembership.objects.filter(
            shopper_id=shopper.pk, segment__is_active=True, segment__mode="materialised"
        ).values_list("segment__slug", flat=True)
    )
