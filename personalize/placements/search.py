"""Search suggestions: searches that led shoppers like this one to a purchase.

Precomputed from events into Django's cache (:func:`search_stats`): for every normalised query
(case and whitespace folded), how many distinct shoppers typed it lately, whether it found
anything, and which products were bought within ``SEARCH_CONVERSION_HOURS`` after it by the
same shopper. A query is never suggested when fewer than ``SEARCH_SUGGESTIONS_MIN_SHOPPERS``
distinct shoppers typed it (privacy), nor when its latest known result count is 0 (a store
passes counts with ``track(request, "search", query=q, context={"results": n})``).

A shopper with history gets the converting queries whose purchases overlap what they touched or
would be recommended; a first visit gets trending searches.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone

from personalize.adapters import get_adapter
from personalize.caching import cache
from personalize.caching.breaker import breaker
from personalize.conf import personalize_settings as ps
from personalize.models import Event, EventKind, Shopper, purchase_lines
from personalize.placements.pipeline import candidate_list, profile_of
from personalize.recommenders import get_recommender
from personalize.recommenders.contributions import window_seconds

CACHE_KEY = "personalize:search_suggestions:v1"
TITLES_KEY = "personalize:search_titles:v1"
MAX_TITLES = 5000
# Trending decays with a half-life of this many days.
TREND_HALF_LIFE_DAYS = 7.0
# Recommendations consulted to find "shoppers like this one".
AFFINITY_CANDIDATES = 50
MAX_PREFIX = 100


def normalize_query(query: str) -> str:
    """Case- and whitespace-insensitive form of a search query."""
    return " ".join(str(query or "").casefold().split())[:255]


@dataclass
class QueryStats:
    shoppers: int = 0
    trend: float = 0.0  # distinct shoppers, each weighted by how recent their search was
    converters: int = 0  # distinct shoppers who bought within the window after searching it
    bought: dict[str, int] = field(default_factory=dict)  # product key -> converting shoppers


@dataclass
class SearchStats:
    queries: dict[str, QueryStats] = field(default_factory=dict)
    computed_at: datetime | None = None

    def trending(self) -> list[str]:
        return sorted(self.queries, key=lambda q: (-self.queries[q].trend, -self.queries[q].shoppers, q))


@dataclass
class SuggestionResult:
    queries: list[str]
    personal: bool = False


def compute_search_stats(now: datetime | None = None) -> SearchStats:
    """Aggregate search and purchase events of the last ``SEARCH_SUGGESTIONS_DAYS`` days.

    Streams the window's searches and the searchers' purchases once each; memory grows with
    the number of searches in the window (not with all events).
    """
    now = now or timezone.now()
    since = now - timedelta(days=ps.SEARCH_SUGGESTIONS_DAYS)
    window = timedelta(hours=ps.SEARCH_CONVERSION_HOURS)
    searches = (
        Event.objects.filter(kind=EventKind.SEARCH, created_at__gte=since)
        .exclude(query="")
        .order_by("shopper_id", "created_at")
        # Only the result count, not the whole context: no JSON decoding per row.
        .values_list("shopper_id", "query", KT("context__results"), "created_at", KT("context__source"))
    )
    normalised: dict[str, str] = {}  # the same raw query comes back again and again
    # query -> shopper -> latest search time; query -> (time of last zero / non-zero result)
    latest: dict[str, dict[int, datetime]] = defaultdict(dict)
    last_zero: dict[str, datetime] = {}
    last_found: dict[str, datetime] = {}
    by_shopper: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    # (shopper, contribution window) -> the distinct queries it counts for (at most the cap)
    width, cap = window_seconds(), ps.CONTRIBUTION_MAX_QUERIES
    counted: dict[tuple[int, int], set[str]] = defaultdict(set)
    for shopper_id, raw, raw_results, when, source in searches.iterator(chunk_size=5000):
        query = normalised.get(raw)
        if query is None:
            query = normalised[raw] = normalize_query(raw)
        if not query:
            continue
        # The result count is the server's word: a browser could claim a private query "found 5".
        results = None if source == "beacon" else _result_count(raw_results)
        if results is not None:
            target = last_zero if results <= 0 else last_found
            if query not in target or target[query] < when:
                target[query] = when
        # One shopper counts once per query, and for at most CONTRIBUTION_MAX_QUERIES distinct
        # queries per window (a few real profiles cannot seed hundreds of spam queries).
        mine = counted[(shopper_id, int(when.timestamp() // width))]
        if cap and query not in mine and len(mine) >= cap:
            continue
        mine.add(query)
        latest[query][shopper_id] = when
        by_shopper[shopper_id].append((when, query))

    bought: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    # Purchases of shoppers who searched (a subquery: no giant IN list of ids).
    searchers = Event.objects.filter(kind=EventKind.SEARCH, created_at__gte=since).values("shopper_id")
    purchases = (
        Event.objects.filter(kind=EventKind.PURCHASE, created_at__gte=since, shopper_id__in=searchers)
        .order_by("shopper_id", "created_at")
        .values_list("shopper_id", "context", "created_at")
    )
    for shopper_id, context, when in purchases.iterator(chunk_size=5000) if by_shopper else ():
        keys = {line["product"] for line in purchase_lines(context)}
        for searched_at, query in by_shopper.get(shopper_id, ()):
            if searched_at <= when <= searched_at + window:
                for key in keys:
                    bought[query][key].add(shopper_id)

    real = real_searchers(searchers, now)
    stats = SearchStats(computed_at=now)
    for query, typed_by in latest.items():
        # Only real, distinct people count (a script's fresh cookies do not): k-anonymity that
        # two fake profiles cannot satisfy, and spam that 150 cookieless posts cannot push.
        shoppers = {shopper: when for shopper, when in typed_by.items() if shopper in real}
        zero, found = last_zero.get(query), last_found.get(query)
        if zero is not None and (found is None or zero >= found):
            continue  # its latest search found nothing
        if len(shoppers) < ps.SEARCH_SUGGESTIONS_MIN_SHOPPERS:
            continue  # too few people typed it to show it to anyone else
        trend = sum(trend_weight((now - when).total_seconds() / 86400) for when in shoppers.values())
        products = bought.get(query, {})
        converters = set().union(*products.values()) if products else set()
        stats.queries[query] = QueryStats(
            shoppers=len(shoppers),
            trend=trend,
            converters=len(converters),
            bought={key: len(ids) for key, ids in products.items()},
        )
    return stats


def real_searchers(searchers: Any, now: datetime) -> set[int]:
    """Searchers who count: an account, a purchase, or a profile at least
    ``SEARCH_SHOPPER_MIN_AGE_HOURS`` old with ``SEARCH_SHOPPER_MIN_VISITS`` visits."""
    buyers = Event.objects.filter(kind=EventKind.PURCHASE).values("shopper_id")
    seasoned = Q(first_seen__lte=now - timedelta(hours=ps.SEARCH_SHOPPER_MIN_AGE_HOURS), visits__gte=ps.SEARCH_SHOPPER_MIN_VISITS)
    eligible = Shopper.objects.filter(pk__in=searchers).filter(Q(user__isnull=False) | Q(pk__in=buyers) | seasoned)
    return set(eligible.values_list("pk", flat=True))


def _result_count(raw: str | None) -> float | None:
    """``context["results"]`` as read through KT (text); ``None`` when absent or not a number."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def search_stats(*, refresh: bool = False) -> SearchStats:
    """The precomputed stats from the cache (computed on a miss or with ``refresh``)."""
    global _outage
    if not refresh and _outage is not None and _outage[0] > time.monotonic() and breaker().is_open:
        return _outage[1]  # the cache is down: reuse what this process computed
    stats = None if refresh else cache().get(CACHE_KEY)
    if stats is None:
        stats = compute_search_stats()
        cache().set(CACHE_KEY, stats, ps.SEARCH_SUGGESTIONS_CACHE_SECONDS)
        _outage = (time.monotonic() + ps.SEARCH_SUGGESTIONS_CACHE_SECONDS, stats) if breaker().is_open else None
    return stats


# Stats computed while the cache was down, reused in this process: (expiry, stats).
_outage: tuple[float, SearchStats] | None = None


def _matches(query: str, prefix: str) -> bool:
    return not prefix or query.startswith(prefix) or any(word.startswith(prefix) for word in query.split())


def _affinity(profile: Any) -> dict[str, float]:
    """How much this shopper cares about each product: what they touched, then what the
    default recommender (trained on shoppers like them) would show them."""
    affinity = dict(profile.weighted_items())
    try:
        recommender = get_recommender("default")
        candidates = candidate_list(recommender, "default", "recommend", profile, "", None, AFFINITY_CANDIDATES)
    except Exception:  # noqa: BLE001 - suggestions still work from the shopper's own items
        candidates = []
    for rank, (key, _score, _reason) in enumerate(candidates):
        affinity[key] = affinity.get(key, 0.0) + 1.0 - rank / max(1, len(candidates))
    return affinity


def product_titles() -> list[tuple[str, str]]:
    """``(key, title)`` of up to ``MAX_TITLES`` products in stock, cached like the query stats:
    what a typed prefix is completed to when no popular query starts that way."""
    titles = cache().get(TITLES_KEY)
    if titles is None:
        adapter = get_adapter()
        products = adapter.get_queryset().filter(adapter.stock_filter())[:MAX_TITLES]
        titles = [(adapter.product_key(p), adapter.title(p)) for p in products]
        cache().set(TITLES_KEY, titles, ps.SEARCH_SUGGESTIONS_CACHE_SECONDS)
    return titles


def _complete_titles(prefix: str, affinity: dict[str, float], limit: int) -> list[str]:
    """Product titles with a word starting with ``prefix``; the shopper's taste breaks ties."""
    if not prefix:
        return []
    found = [(key, title) for key, title in product_titles() if _matches(normalize_query(title), prefix)]
    found.sort(key=lambda kt: (not normalize_query(kt[1]).startswith(prefix), -affinity.get(kt[0], 0.0), kt[1]))
    return [title for _key, title in found[:limit]]


def suggestions_for(request_or_shopper: Any, *, limit: int, prefix: str = "") -> SuggestionResult:
    """Up to ``limit`` suggestions for this shopper, best first, completing ``prefix``: popular
    queries (ranked by the shopper's taste), then product titles (taste breaks ties)."""
    prefix = normalize_query(prefix)[:MAX_PREFIX]
    stats = search_stats()
    candidates = [q for q in stats.queries if _matches(q, prefix)]
    _shopper, profile = profile_of(request_or_shopper)
    affinity = _affinity(profile) if not profile.is_new and prefix else {}
    if not candidates:
        return SuggestionResult(queries=_complete_titles(prefix, affinity, limit))
    trending = sorted(candidates, key=lambda q: (-stats.queries[q].trend, -stats.queries[q].shoppers, q))
    if profile.is_new:
        return SuggestionResult(queries=_with_titles(trending, prefix, affinity, limit))
    affinity = affinity or _affinity(profile)
    scored = []
    for query in candidates:
        qs = stats.queries[query]
        overlap = sum(affinity.get(key, 0.0) * count for key, count in qs.bought.items())
        if overlap > 0:
            scored.append((-overlap, -qs.converters, query))
    personal = [query for *_rank, query in sorted(scored)]
    # Then searches that convert for anyone, then the trending ones.
    converting = sorted(
        (q for q in candidates if stats.queries[q].converters and q not in personal),
        key=lambda q: (-stats.queries[q].converters, -stats.queries[q].trend, q),
    )
    ordered = list(dict.fromkeys(personal + converting + trending))
    return SuggestionResult(queries=_with_titles(ordered, prefix, affinity, limit), personal=bool(personal))


def _with_titles(queries: list[str], prefix: str, affinity: dict[str, float], limit: int) -> list[str]:
    """``queries`` then, while there is room, completing product titles (no case-duplicates)."""
    out = list(queries[:limit])
    seen = {q.casefold() for q in out}
    for title in _complete_titles(prefix, affinity, limit) if len(out) < limit else ():
        if title.casefold() not in seen and len(out) < limit:
            out.append(title)
            seen.add(title.casefold())
    return out


def trend_weight(age_days: float) -> float:
    return math.pow(0.5, age_days / TREND_HALF_LIFE_DAYS)
