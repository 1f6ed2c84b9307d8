"""The one serving pipeline behind every placement (tags, API, export, admin preview).

profile (one query) -> store-wide holdout gets the neutral list -> recommender candidates,
over-fetched and cached by model version -> leave out the current product, the cart, past
purchases -> one keys-only query applying stock, visibility and business rules on live data
(remembered per process for ``LOCAL_CACHE_SECONDS``) -> diversity cap per category / brand over
cached product cards (:mod:`personalize.placements.cards`) -> rows only for what is shown.

Warm, a widget costs at most :data:`MAX_QUERIES` SQL queries whatever its limit: the shopper
(with its cart), the profile's events and the keys-only stock query; none of them when the
request already loaded the shopper and profile and the stock check is fresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalize import recommenders, segments
from personalize.adapters import get_adapter
from personalize.caching import local
from personalize.conf import personalize_settings as ps
from personalize.holdout import in_holdout
from personalize.identity import get_shopper
from personalize.models import Shopper
from personalize.placements.config import Placement, get_placement, served_diversity
from personalize.placements.cards import available_keys, lazy_product, shown_cards
from personalize.placements.result import FilteredItem, PlacementResult
from personalize.placements.rules import placement_q
from personalize.profiles import ShopperProfile, cached_profile, load_profile, request_profile, segment_features
from personalize.segments.evaluation import segments_version

logger = logging.getLogger("personalize")

# Shopper (+ cart, select_related), profile events, products. Asserted by the tests.
MAX_QUERIES = 3
# Never ask a recommender for more than this many candidates.
MAX_CANDIDATES = 1000

HOLDOUT_VARIANT = "holdout"

# (key, score, reason): what the candidate cache holds, independent of the engine's classes.
Candidate = tuple[str, float, str]


def recommend_for(
    request_or_shopper: Any,
    placement: str,
    *,
    limit: int,
    product: Any = None,
    category: Any = None,
    explain: bool = False,
    products: bool = True,
) -> PlacementResult:
    """The products ``placement`` shows this shopper, best first.

    ``request_or_shopper``: a request (its ``request.shopper``), a :class:`Shopper` or
    ``None`` (anonymous, e.g. a first visit). ``product``: the product on the page (object or
    key), needed by "similar"-style placements and always left out. ``category``: a category
    object or key (trending in a category). ``explain=True`` also lists what was left out
    and why (more queries; for the admin preview). ``products=False`` (widgets) leaves
    ``result.items`` lazy: the cached cards in ``result.cards`` are what a widget shows, and a
    product row is loaded only if a template reads ``item.product``. Raises
    :class:`UnknownPlacement`.
    """
    config = get_placement(placement)
    limit = max(1, min(int(limit), ps.WIDGET_MAX_LIMIT))
    shopper = _shopper_of(request_or_shopper)
    product_key = _product_key(product)
    category_key = _category_key(category)
    result = PlacementResult(placement=config.name)
    if config.needs_product and not product_key:
        return result

    if in_holdout(shopper):
        # The store-wide control group: the same neutral list as everyone in it.
        profile = ShopperProfile(shopper=None)
        alias, method, variant = ps.NEUTRAL_RECOMMENDER, "recommend", HOLDOUT_VARIANT
        result.holdout = True
    else:
        shopper, profile = profile_of(request_or_shopper)
        chosen = config.choose_variant(shopper)
        alias = chosen.recommender if chosen else config.recommender
        method = chosen.method if chosen else config.method
        variant = chosen.name if chosen else ""
    recommender = recommenders.get_recommender(alias)
    result.model_version = str(recommender.model_version or "")
    result.variant = variant

    excluded = _exclusions(config, profile, product_key, holdout=result.holdout)
    page = _page_of(request_or_shopper)
    wanted = min(limit * max(1, ps.RECOMMENDATION_OVERFETCH) + len(excluded) + len(page), MAX_CANDIDATES)
    try:
        candidates = candidate_list(recommender, alias, method, profile, product_key, category_key, wanted)
    except Exception:
        # A broken backend (a store's own, a bug) must not empty the page: the neutral list
        # below still serves, and the error is logged once per request.
        if result.holdout or not config.backfill:
            raise
        logger.exception("personalize: recommender %r failed for placement %r; serving the neutral list", alias, config.name)
        candidates = []
    if config.backfill and not result.holdout:
        # Popular items after the recommender's own: they fill what filters, rules and the
        # diversity cap leave empty (a model's picks often crowd into one category). Same
        # product query; the neutral list is cached once for everyone.
        candidates = _merge(candidates, _neutral(category_key, wanted))

    dropped: list[FilteredItem] = []

    def drop(candidate: Candidate, why: Any) -> None:
        if explain:
            dropped.append(FilteredItem(key=candidate[0], score=candidate[1], reason=candidate[2], why=str(why)))

    # Products an earlier widget on this page showed go last, not away: they fill only what
    # the placement cannot fill otherwise ("bought together" keeps its one real co-purchase
    # after "similar" showed it).
    kept: list[Candidate] = []
    repeats: list[Candidate] = []
    for candidate in candidates:
        why = excluded.get(candidate[0])
        if why:
            drop(candidate, why)
        elif candidate[0] in page:
            repeats.append(candidate)
        else:
            kept.append(candidate)
    kept.extend(repeats)

    adapter = get_adapter()
    rules = placement_q(config, profile)
    by_key = {c[0]: c for c in kept}
    # Visibility, stock and business rules on live data in one keys-only query; rows (cached
    # cards) only for what is shown.
    available = available_keys(list(by_key), rules, adapter=adapter)
    if explain:
        found = set(available)
        missing = [c for c in kept if c[0] not in found]
        for candidate, why in _why_missing(missing, rules):
            drop(candidate, why)

    def drop_card(card: dict[str, Any], facet: str) -> None:
        drop(by_key[card["id"]], _("diversity cap (%(facet)s)") % {"facet": facet})

    caps = served_diversity(config, recommender)
    result.cards = shown_cards(available, caps, limit=limit, on_drop=drop_card if explain else None, adapter=adapter)
    result.keys = [card["id"] for card in result.cards]
    if products:
        result.items = adapter.get_products(result.keys)
    else:
        result.items = [lazy_product(key) for key in result.keys]
    result.reasons = {key: by_key[key][2] for key in result.keys}
    result.scores = {key: by_key[key][1] for key in result.keys}
    shown = set(result.keys)
    for candidate in repeats if explain else ():
        if candidate[0] not in shown:
            drop(candidate, _("already shown on this page"))
    result.filtered = dropped
    page.update(result.keys)
    return result


def _page_of(request_or_shopper: Any) -> set[str]:
    """Keys the request's earlier widgets showed, so a page never repeats a product (a new
    visitor's "for you" and "trending" would otherwise be the same list). Nothing is shared
    when there is no request or ``DEDUPLICATE_PAGE`` is off."""
    request = getattr(request_or_shopper, "_request", request_or_shopper)
    if not ps.DEDUPLICATE_PAGE or request is None or isinstance(request, Shopper):
        return set()
    shown = getattr(request, "_personalize_shown", None)
    if shown is None:
        shown = set()
        try:
            request._personalize_shown = shown
        except AttributeError:
            pass
    return shown


def profile_of(request_or_shopper: Any) -> tuple[Shopper | None, ShopperProfile]:
    """The shopper and their profile; read once per request however many widgets ask.

    The profile comes from the shopper's cached state (:mod:`personalize.profiles.live`): one
    cache round trip, plus one small query when they acted since it was last read. (The store's
    view records its events before the template renders, so every widget of a page sees the
    same, current profile, with the request's own events.)
    """
    shopper = _shopper_of(request_or_shopper)
    if shopper is None or shopper.pk is None:
        return shopper, load_profile(shopper)  # no query for a new visitor
    if isinstance(request_or_shopper, Shopper):
        # No request to remember it on (the API, exports, emails, a store's own code): the
        # profile is cached under the shopper's state token, so a warm list costs no query
        # until the shopper acts or the materialised segments change.
        return shopper, cached_profile(
            shopper, extra_features=lambda: _segment_features(shopper, None), stamp=segments_version()
        )
    request = getattr(request_or_shopper, "_request", request_or_shopper)
    memo = getattr(request, "_personalize_profile", None)
    if memo is not None and memo[0] == shopper.pk:
        return shopper, memo[1]
    profile = request_profile(shopper, request, extra_features=_segment_features(shopper, request))
    try:
        request._personalize_profile = (shopper.pk, profile)
    except AttributeError:  # an object that takes no attributes: just don't remember it
        pass
    return shopper, profile


def _segment_features(shopper: Shopper, request: Any) -> dict[str, str]:
    """Segment memberships as shopper features, as training encodes them.

    With a request they come from ``segments_for`` (kept in the session, so a warm page pays
    no query); without one, from the materialised memberships.
    """
    try:
        slugs = segments.segments_for(request) if request is not None else segments.shopper_segments(shopper)
    except Exception:  # a segment failure must not cost the shopper their recommendations
        logger.exception("personalize: segment features unavailable")
        return {}
    return segment_features(slugs)


def _shopper_of(request_or_shopper: Any) -> Shopper | None:
    if request_or_shopper is None or isinstance(request_or_shopper, Shopper):
        return request_or_shopper
    request = getattr(request_or_shopper, "_request", request_or_shopper)  # a DRF request

    # The real instance (request.shopper is lazy), cached on the request by the middleware.
    return get_shopper(request)


def _product_key(product: Any) -> str:
    if product is None or product == "":
        return ""
    if hasattr(product, "_meta"):
        return get_adapter().product_key(product)
    return str(product)


def _category_key(category: Any) -> str | None:
    if category is None or category == "":
        return None
    if hasattr(category, "_meta"):
        return str(category.pk)
    return str(category)


# Why a product is left out; translated only when the preview shows it (explain=True).
PURCHASED, IN_CART, ON_PAGE = gettext_lazy("already purchased"), gettext_lazy("in the cart"), gettext_lazy("the product on the page")


def _exclusions(config: Placement, profile: ShopperProfile, product_key: str, *, holdout: bool) -> dict[str, Any]:
    """Product key -> why it may not be shown to this shopper here (a lazy translation)."""
    excluded: dict[str, Any] = {}
    if not holdout:
        if config.exclude_purchased and profile.purchased_keys:
            excluded.update(dict.fromkeys(profile.purchased_keys, PURCHASED))
        if config.exclude_cart and profile.cart_keys:
            excluded.update(dict.fromkeys(profile.cart_keys, IN_CART))
    if product_key:
        excluded[product_key] = ON_PAGE
    return excluded


def _cache_key(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str)
    return "personalize:candidates:" + hashlib.sha256(raw.encode()).hexdigest()


def _cached(key_parts: tuple[Any, ...], compute: Callable[[], Iterable[Any]], *, shared: bool = False) -> list[Candidate]:
    # Through the in-process layer: a list every request reads (a product's "similar", the
    # neutral list) costs no round trip within LOCAL_CACHE_SECONDS. Keyed by model version, so
    # a new model is never served an old list; a list that is the same for everyone
    # (``shared``) of a trained version never changes under its key and is held longer.
    key = _cache_key(*key_parts, get_language())
    candidates = local.get(key, versioned=shared)
    if candidates is None:
        candidates = tuple((str(r.key), float(r.score), str(r.reason or "")) for r in compute())
        local.set(key, candidates, ps.RECOMMENDATION_CACHE_SECONDS, versioned=shared)
    return list(candidates)


def candidate_list(
    recommender: Any,
    alias: str,
    method: str,
    profile: ShopperProfile,
    product_key: str,
    category_key: str | None,
    wanted: int,
) -> list[Candidate]:
    """A recommender's candidates, cached by alias, model version and what they depend on."""
    version = str(recommender.model_version or "")
    if method == "similar":
        parts: tuple[Any, ...] = (alias, version, "similar", product_key, wanted)
        return _cached(parts, lambda: recommender.similar(product_key, limit=wanted), shared=bool(version))
    taste = sorted(profile.weighted_items().items())
    parts = (alias, version, "recommend", taste, profile.searches[:20], sorted(profile.features.items()), category_key, wanted)
    neutral = not taste and not profile.searches and not profile.features
    return _cached(
        parts, lambda: recommender.recommend(profile, limit=wanted, category=category_key), shared=bool(version) and neutral
    )


def _neutral(category_key: str | None, wanted: int) -> list[Candidate]:
    """The neutral list (popular items) used to top a short list up."""
    alias = ps.NEUTRAL_RECOMMENDER
    recommender = recommenders.get_recommender(alias)
    return candidate_list(recommender, alias, "recommend", ShopperProfile(shopper=None), "", category_key, wanted)


def _merge(first: list[Candidate], more: list[Candidate]) -> list[Candidate]:
    seen = {c[0] for c in first}
    return first + [c for c in more if c[0] not in seen]


def _why_missing(missing: list[Candidate], rules: models.Q) -> list[tuple[Candidate, str]]:
    """Why candidates did not come back from the product query (preview only: more queries)."""
    if not missing:
        return []
    adapter = get_adapter()
    model = adapter.get_product_model()
    keys = [c[0] for c in missing]

    def present(queryset: models.QuerySet) -> set[str]:
        return {adapter.product_key(p) for p in adapter.get_products(keys, queryset=queryset)}

    in_store = present(model._default_manager.all())
    visible = present(adapter.get_queryset())
    in_stock = present(adapter.get_queryset().filter(adapter.stock_filter()))
    reasons = []
    for candidate in missing:
        key = candidate[0]
        if key not in in_store:
            why = _("not in the store")
        elif key not in visible:
            why = _("hidden (inactive)")
        elif key not in in_stock:
            why = _("out of stock")
        else:
            why = _("business rule")
        reasons.append((candidate, why))
    return reasons
