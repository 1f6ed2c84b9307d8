"""Who may get a lifecycle email now: address, language, time zone, quiet hours, caps, unsubscribes.

Bulk forms (one query per batch) of the per-shopper rules; the fatigue window is
:mod:`personalize.fatigue`'s, read here for a whole batch at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils import translation

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.emails.suppression import suppressed_among
from personalize.models import Cart, Contact, EmailSend, Shopper, Unsubscribe

S = EmailSend.Status
# Rows that count against the frequency cap (an email that left, or may be leaving).
CAP_STATUSES = (S.CLAIMED, S.SENT, S.RETRY)

def valid_email(address: str) -> bool:
    if not address:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def shopper_language(shopper: Shopper, cart: Cart | None = None) -> str:
    """Saved language (account, then profile), else the language of the session that filled the cart."""
    adapter = get_adapter()
    language = ""
    if shopper.user_id and shopper.user is not None:
        language = adapter.user_language(shopper.user)
    language = language or (cart.language if cart is not None else "") or shopper.language or settings.LANGUAGE_CODE
    return supported_language(language)


def supported_language(language: str) -> str:
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return settings.LANGUAGE_CODE


def _parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    return time.fromisoformat(str(value))


def shopper_zone(shopper: Shopper) -> ZoneInfo:
    name = ""
    if shopper.user_id and shopper.user is not None:
        name = get_adapter().user_timezone(shopper.user)
    for candidate in (name, ps.EMAIL_TIME_ZONE, getattr(ps, "STORE_TIME_ZONE", None), settings.TIME_ZONE, "UTC"):
        if candidate:
            try:
                return ZoneInfo(str(candidate))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def in_quiet_hours(shopper: Shopper, now: datetime) -> bool:
    """Whether ``now`` falls in the quiet hours of the shopper's (or the store's) time zone."""
    quiet = ps.EMAIL_QUIET_HOURS
    if not quiet:
        return False
    start, end = _parse_time(quiet[0]), _parse_time(quiet[1])
    local = now.astimezone(shopper_zone(shopper)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # spans midnight (21:00-08:00)


def quiet_hours_end(shopper: Shopper, now: datetime) -> datetime:
    """When the quiet hours that hold ``now`` end for this shopper (an aware datetime)."""
    zone = shopper_zone(shopper)
    local = now.astimezone(zone)
    end = _parse_time(ps.EMAIL_QUIET_HOURS[1])
    moment = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if moment <= local:
        moment += timedelta(days=1)
    return moment


def cap_since(now: datetime) -> datetime:
    return now - timedelta(hours=ps.EMAIL_CAP_HOURS)


def recent_counts(shopper_ids: Iterable[int], now: datetime) -> dict[int, int]:
    """Lifecycle emails per shopper within the cap window (one query)."""
    counts: dict[int, int] = defaultdict(int)
    rows = EmailSend.objects.filter(
        shopper_id__in=list(shopper_ids), status__in=CAP_STATUSES, created_at__gt=cap_since(now)
    ).values_list("shopper_id", flat=True)
    for shopper_id in rows:
        counts[shopper_id] += 1
    return counts


def unsubscribed_sets(shoppers: Iterable[Shopper], emails: Iterable[str]) -> tuple[set[int], set[str]]:
    ids = [s.pk for s in shoppers]
    emails = [e.lower() for e in emails if e]
    rows = Unsubscribe.objects.filter(Q(shopper_id__in=ids) | Q(email__in=emails)).values_list("shopper_id", "email")
    by_id, by_email = set(), set()
    for shopper_id, email in rows:
        if shopper_id:
            by_id.add(shopper_id)
        if email:
            by_email.add(email)
    # Erased people who asked never to be mailed again count as unsubscribed.
    by_email |= suppressed_among(emails)
    return by_id, by_email


def is_unsubscribed(shopper: Shopper, email: str) -> bool:
    if suppressed_among([email]):
        return True
    return Unsubscribe.objects.filter(Q(shopper=shopper) | Q(email=(email or "").lower(), email__gt="")).exists()


def fatigued(shopper_ids: Iterable[int], now: datetime) -> set[int]:
    """Shoppers who got an offer on any channel within the fatigue window."""
    minutes = ps.FATIGUE_WINDOW_MINUTES
    if not minutes or minutes <= 0:
        return set()
    since = now - timedelta(minutes=minutes)
    rows = Contact.objects.filter(shopper_id__in=list(shopper_ids), created_at__gte=since, created_at__lte=now)
    return set(rows.values_list("shopper_id", flat=True))

