"""Segments referring to segments: the dependency graph and cycle detection.

A segment that includes itself, directly or through others, would recurse forever; the
admin refuses it with a form error (and evaluation still guards against stored cycles).
"""

from __future__ import annotations

from collections.abc import Iterable

from personalize.models import Segment, SegmentRule
from personalize.segments.rules import get_rule_class, segment_dependencies


def dependency_graph(exclude_pk: int | None = None) -> dict[str, set[str]]:
    """slug -> slugs its rules refer to, for every stored segment but ``exclude_pk``."""
    graph: dict[str, set[str]] = {}
    rows = SegmentRule.objects.select_related("segment")
    if exclude_pk is not None:
        rows = rows.exclude(segment_id=exclude_pk)
    for row in rows:
        deps = graph.setdefault(row.segment.slug, set())
        deps |= segment_dependencies([(row.kind, row.params)])
    return graph


def find_cycle(slug: str, referenced: Iterable[str], graph: dict[str, set[str]], aliases: Iterable[str] = ()) -> list[str] | None:
    """The path by which ``slug`` (with its new references) reaches itself, or ``None``."""
    selves = {slug, *aliases}
    stack: list[tuple[str, list[str]]] = [(ref, [slug, ref]) for ref in sorted(set(referenced))]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node in selves:
            return path
        if node in seen:
            continue
        seen.add(node)
        for nxt in sorted(graph.get(node, ())):
            stack.append((nxt, [*path, nxt]))
    return None


def live_only_dependencies(referenced: Iterable[str], exclude_pk: int | None = None) -> set[str]:
    """Referenced live segments (transitively) that hold per-request rules: a materialised
    segment cannot use them, there is no request in a background refresh."""
    rules: dict[str, list[str]] = {}
    modes = dict(Segment.objects.values_list("slug", "mode"))
    rows = SegmentRule.objects.select_related("segment")
    if exclude_pk is not None:
        rows = rows.exclude(segment_id=exclude_pk)
    graph: dict[str, set[str]] = {}
    for row in rows:
        rules.setdefault(row.segment.slug, []).append(row.kind)
        graph.setdefault(row.segment.slug, set()).update(segment_dependencies([(row.kind, row.params)]))
    offending: set[str] = set()
    seen: set[str] = set()
    stack = list(referenced)
    while stack:
        slug = stack.pop()
        if slug in seen:
            continue
        seen.add(slug)
        if modes.get(slug) == "materialised":
            continue  # answered from memberships, whatever its rules
        for kind in rules.get(slug, []):
            cls = get_rule_class(kind)
            if cls is not None and cls.live_only:
                offending.add(slug)
        stack.extend(graph.get(slug, ()))
    return offending
