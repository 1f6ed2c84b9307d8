"""What rules look at: one :class:`SegmentContext` per request (or per stored shopper in a
bulk refresh). Everything costly is loaded lazily, once, and only if a rule asks for it."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.events import request_context
from personalize.identity import detect_country, detect_device
from personalize.models import Cart, Event, EventKind, SegmentMembership
from personalize.profiles import load_profile

FIRST_TOUCH_SESSION_KEY = "personalize_first_touch"
_LANG_REGION = re.compile(r"^[a-zA-Z]{2,3}[-_]([a-zA-Z]{2})\b")


def store_timezone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(ps.STORE_TIME_ZONE or settings.TIME_ZONE or "UTC")


def store_now() -> datetime:
    """Now, in the store's time zone (``STORE_TIME_ZONE``, default ``TIME_ZONE``)."""
    return timezone.now().astimezone(store_timezone())


@dataclass(frozen=True)
class OrderStats:
    count: int = 0
    value: Decimal = Decimal("0")
    last_at: datetime | None = None


def visit_context(request: Any) -> dict[str, Any]:
    """Referrer and UTM parameters of the visit: this request's, else the landing request's.

    The request that brought the shopper (the latest one carrying a source) is remembered in
    the session, so the pages after the landing page still know where the visit came from.
    """
    if request is None:
        return {}
    current = request_context(request)
    session = getattr(request, "session", None)
    if session is None:
        return current
    stored = session.get(FIRST_TOUCH_SESSION_KEY)
    if current:
        if stored != current:  # a new source starts a new visit: it wins over an older one
            session[FIRST_TOUCH_SESSION_KEY] = current
        return current
    return dict(stored or {})


def accept_language_country(request: Any) -> str:
    """The region of the first Accept-Language entry that has one (``de-AT`` -> ``AT``)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "") if request is not None else ""
    for part in header.split(","):
        match = _LANG_REGION.match(part.strip())
        if match:
            return match.group(1).upper()
    return ""


class SegmentContext:
    """The shopper, the request (may be ``None``), the time and lazily loaded facts."""

    def __init__(
        self,
        shopper: Any,
        *,
        request: Any = None,
        now: datetime | None = None,
        segment_resolver: Callable[[str, SegmentContext], bool] | None = None,
    ) -> None:
        self.shopper = shopper
        self.request = request
        self.now = now or store_now()
        self._segment_resolver = segment_resolver
        # slug -> result, and the slugs being evaluated (cycle guard), for member-of rules
        self.segment_results: dict[str, bool] = {}
        self.evaluating: set[str] = set()

    @property
    def is_saved(self) -> bool:
        return self.shopper is not None and self.shopper.pk is not None

    @cached_property
    def profile(self) -> Any:
        return load_profile(self.shopper)

    @cached_property
    def cart(self) -> Any:
        if not self.is_saved:
            return None
        try:
            return self.shopper.cart
        except Cart.DoesNotExist:
            return None

    @property
    def cart_value(self) -> Decimal:
        return self.cart.value if self.cart is not None else Decimal("0")

    @cached_property
    def cart_keys(self) -> set[str]:
        return set(self.cart.product_keys()) if self.cart is not None else set()

    @cached_property
    def orders(self) -> OrderStats:
        """Purchase count, lifetime value and last purchase time: one aggregate query."""
        if not self.is_saved:
            return OrderStats()
        prefetched = getattr(self.shopper, "_personalize_order_stats", None)
        if prefetched is not None:
            return prefetched
        row = Event.objects.filter(shopper=self.shopper, kind=EventKind.PURCHASE).aggregate(
            n=Count("id"), total=Sum("value"), last=Max("created_at")
        )
        return OrderStats(row["n"] or 0, row["total"] or Decimal("0"), row["last"])

    @property
    def visits(self) -> int:
        return self.shopper.visits if self.is_saved else 1

    @property
    def is_authenticated(self) -> bool:
        if self.shopper is not None and self.shopper.user_id is not None:
            return True
        user = getattr(self.request, "user", None)
        return bool(user is not None and user.is_authenticated)

    @cached_property
    def country(self) -> str:
        if self.shopper is not None and self.shopper.country:
            return self.shopper.country.upper()
        if self.request is None:
            return ""
        return detect_country(self.request) or accept_language_country(self.request)

    @cached_property
    def device(self) -> str:
        if self.shopper is not None and self.shopper.device:
            return self.shopper.device
        return detect_device(self.request) if self.request is not None else ""

    @cached_property
    def visit(self) -> dict[str, Any]:
        return visit_context(self.request)

    @cached_property
    def memberships(self) -> frozenset[str]:
        """Materialised segment slugs (one query, only when a rule asks)."""
        if not self.is_saved:
            return frozenset()
        return frozenset(
            SegmentMembership.objects.filter(shopper_id=self.shopper.pk, segment__is_active=True).values_list(
                "segment__slug", flat=True
            )
        )

    def in_segment(self, slug: str) -> bool:
        if self._segment_resolver is None:
            return slug in self.memberships
        return self._segment_resolver(slug, self)
