"""Who is shopping: a signed cookie id until login, the account's profile after it.

``request.shopper`` is lazy: reading it costs at most one query and never writes. A row is
created only when something is recorded (:func:`ensure_shopper`), so a bot that never acts
leaves nothing behind; the middleware then sets the cookie on the response.
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, connections, router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.identity import consent
from personalize.identity.agent import detect_country, detect_device, is_bot
from personalize.models import Cart, Shopper
from personalize.sql import db_converter

logger = logging.getLogger("personalize")


def read_cookie_key(request: HttpRequest) -> uuid.UUID | None:
    """The shopper key from the signed cookie; ``None`` if absent or tampered with."""
    try:
        raw = request.get_signed_cookie(ps.COOKIE_NAME, salt=ps.COOKIE_SALT)
    except (KeyError, signing.BadSignature):
        return None
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError):
        return None


def set_cookie(response: HttpResponse, key: uuid.UUID) -> None:
    response.set_signed_cookie(
        ps.COOKIE_NAME,
        str(key),
        salt=ps.COOKIE_SALT,
        max_age=ps.COOKIE_AGE_SECONDS,
        secure=ps.COOKIE_SECURE,
        httponly=True,
        samesite=ps.COOKIE_SAMESITE,
    )


def _user(request: HttpRequest) -> Any | None:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def get_shopper(request: HttpRequest, *, with_cart: bool = True) -> Shopper:
    """The request's shopper: a saved row when one exists, else an unsaved one with a key.

    ``with_cart=False`` leaves the cart snapshot to a query of its own if something reads it
    (the beacon never does; the joins cost more than the lookup itself).
    """
    cached = getattr(request, "_personalize_shopper", None)
    if cached is not None:
        return cached
    if not consent.has_consent(request):
        # Nothing about the person is read or written: a blank profile (non-personal lists).
        request._personalize_shopper = Shopper(key=uuid.uuid4())
        return request._personalize_shopper
    user = _user(request)
    shopper = None
    if user is not None:
        shopper = Shopper.objects.select_related("cart").filter(user=user).first()
    if shopper is None:
        key = read_cookie_key(request)
        if key is not None:
            shopper = shopper_with_cart(key) if with_cart else shopper_by_key(key)
            if shopper is not None and shopper.merged_into_id:
                shopper = Shopper.objects.select_related("cart").filter(pk=shopper.merged_into_id).first() or shopper
            if shopper is not None and shopper.user_id is not None and (user is None or shopper.user_id != user.pk):
                # An account's profile goes only to that account: not to the next person on a
                # shared computer after logout, nor to another account logging in there.
                shopper = None
                key = None  # the cookie's key belongs to that profile: start a fresh one
        if shopper is None:
            shopper = Shopper(key=key or uuid.uuid4(), user=user)
    request._personalize_shopper = shopper
    return shopper


def shopper_by_key(key: uuid.UUID) -> Shopper | None:
    """The shopper row with ``key`` (unique), by a statement built once per database: the
    beacon looks a shopper up on every post, and compiling the ORM's query cost more than
    running it."""
    connection = connections[router.db_for_read(Shopper)]
    value = Shopper._meta.get_field("key").get_db_prep_value(key, connection)
    return next(iter(Shopper.objects.db_manager(connection.alias).raw(_by_key_sql(connection.alias), [value])), None)


def shopper_with_cart(key: uuid.UUID) -> Shopper | None:
    """The shopper row with ``key`` and its cart snapshot (``None`` when it has none) in one
    statement built once per database: what a page reads first, and the ORM's build and
    compile of the join cost several times the query itself."""
    connection = connections[router.db_for_read(Shopper)]
    sql, shopper_columns, cart_columns = _with_cart_sql(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Shopper._meta.get_field("key").get_db_prep_value(key, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(shopper_columns)
    shopper = _from_row(Shopper, connection, shopper_columns, row[:split])
    cart = _from_row(Cart, connection, cart_columns, row[split:]) if row[split] is not None else None
    Shopper.cart.related.set_cached_value(shopper, cart)
    if cart is not None:
        Cart.shopper.field.set_cached_value(cart, shopper)
    return shopper


def _from_row(model: type[Any], connection: Any, columns: tuple[tuple[str, Any], ...], values: tuple[Any, ...]) -> Any:
    return model.from_db(connection.alias, [name for name, _convert in columns],
                         [convert(value) for (_name, convert), value in zip(columns, values)])


@functools.lru_cache(maxsize=8)
def _with_cart_sql(alias: str) -> tuple[str, tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    connection = connections[alias]
    quote = connection.ops.quote_name

    def columns(model: type[Any]) -> tuple[tuple[str, Any], ...]:
        return tuple((field.attname, db_converter(model, field.name, connection)) for field in model._meta.concrete_fields)

    def select(model: type[Any]) -> str:
        return ", ".join(f"{quote(model._meta.db_table)}.{quote(field.column)}" for field in model._meta.concrete_fields)

    shopper, cart = quote(Shopper._meta.db_table), quote(Cart._meta.db_table)
    sql = (
        f"SELECT {select(Shopper)}, {select(Cart)} FROM {shopper} LEFT OUTER JOIN {cart} "
        f"ON {cart}.{quote(Cart._meta.get_field('shopper').column)} = {shopper}.{quote(Shopper._meta.pk.column)} "
        f"WHERE {shopper}.{quote(Shopper._meta.get_field('key').column)} = %s LIMIT 1"
    )
    return sql, columns(Shopper), columns(Cart)


@functools.lru_cache(maxsize=8)
def _by_key_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(field.column) for field in Shopper._meta.concrete_fields)
    key = quote(Shopper._meta.get_field("key").column)
    return f"SELECT {columns} FROM {quote(Shopper._meta.db_table)} WHERE {key} = %s LIMIT 1"


def ensure_shopper(request: HttpRequest, *, defer: bool = False) -> Shopper | None:
    """The request's shopper, saved (created on first use); ``None`` for bots and without consent.

    ``defer`` (a page that only counts what it showed, :mod:`personalize.exposures`): a first
    visit's anonymous row is not written here but by the exposure buffer's next flush, with what
    the page showed; the shopper comes back unsaved and :func:`is_deferred`, the cookie is set
    as usual, and a later ``ensure_shopper`` in the request (an event, a cart) writes it at once.
    """
    if not consent.has_consent(request):
        return None
    shopper = get_shopper(request)
    if shopper.pk is not None:
        return shopper
    if is_bot(request):
        return None
    shopper.language = (getattr(request, "LANGUAGE_CODE", "") or "")[:16]
    shopper.country = detect_country(request)
    shopper.device = detect_device(request)
    if defer and shopper.user_id is None:
        Shopper.cart.related.set_cached_value(shopper, None)  # a new visitor has no cart row
        shopper._personalize_deferred = True
        request._personalize_set_cookie = True
        return shopper
    try:
        _insert(shopper)
    except IntegrityError:
        # A concurrent request created the same shopper (same cookie or same user).
        existing = Shopper.objects.filter(key=shopper.key).first()
        if existing is None and shopper.user_id:
            existing = Shopper.objects.filter(user_id=shopper.user_id).first()
        if existing is None:
            raise
        shopper = existing
    else:
        # A row made just now has no cart: reading ``shopper.cart`` costs no query (a cart
        # created later in the request sets this cache itself).
        Shopper.cart.related.set_cached_value(shopper, None)
        shopper._personalize_created = True  # nothing of theirs is stored yet but this request's own
    request._personalize_shopper = shopper
    request._personalize_set_cookie = True
    return shopper


def _insert(shopper: Shopper) -> None:
    """One INSERT: inside a caller's transaction in a savepoint (a concurrent twin's
    IntegrityError must not break it), else on its own (a transaction of its own cost a BEGIN
    and a COMMIT round trip on every first visit)."""
    if connections[router.db_for_write(Shopper)].in_atomic_block:
        with transaction.atomic():
            shopper.save(force_insert=True)
    else:
        shopper.save(force_insert=True)


def is_deferred(shopper: Shopper | None) -> bool:
    """Whether ``shopper`` is a first visit's row left to the exposure buffer's flush
    (``ensure_shopper(defer=True)``): unsaved, known by its key."""
    return bool(shopper is not None and shopper.pk is None and getattr(shopper, "_personalize_deferred", False))


def created_now(shopper: Shopper | None) -> bool:
    """Whether this request made the shopper's row: nothing of theirs is stored but its own."""
    return bool(getattr(shopper, "_personalize_created", False))


def is_new(request: HttpRequest) -> bool:
    """Whether this request created the shopper's row (a first visit): it has no assignments,
    codes, contacts or cart to look up, and a one-page visit need not write the session."""
    return bool(getattr(request, "_personalize_set_cookie", False))


def touch(shopper: Shopper) -> None:
    """Count a new visit after ``VISIT_TIMEOUT_MINUTES`` of inactivity; update ``last_seen``."""
    now = timezone.now()
    gap = (now - shopper.last_seen).total_seconds() / 60
    if gap < 1:
        return
    fields = {"last_seen": now}
    if gap >= ps.VISIT_TIMEOUT_MINUTES:
        fields["visits"] = shopper.visits + 1
    Shopper.objects.filter(pk=shopper.pk).update(**fields)
    for name, value in fields.items():
        setattr(shopper, name, value)


def shopper_for(who: Any) -> Shopper | None:
    """The shopper behind ``who`` without a request (webhooks, staff orders, Oscar's signals).

    ``who``: a :class:`Shopper` (a merged one resolves to its account's), a user (its profile,
    made on first use) or an email address (the account with that address, else the guest
    shopper known by it, else a new guest shopper). ``None`` for anything else.
    """
    if isinstance(who, Shopper):
        if who.merged_into_id:
            return Shopper.objects.filter(pk=who.merged_into_id).first() or who
        return who
    if isinstance(who, str):
        return _shopper_for_email(who)
    if getattr(who, "pk", None) is not None and getattr(who, "is_authenticated", False):
        return _shopper_for_user(who)
    return None


def _shopper_for_user(user: Any) -> Shopper:
    shopper = Shopper.objects.filter(user=user).first()
    if shopper is not None:
        return shopper
    try:
        with transaction.atomic():
            return Shopper.objects.create(user=user)
    except IntegrityError:  # made concurrently (the account's first request, another signal)
        return Shopper.objects.get(user=user)


def _shopper_for_email(raw: str) -> Shopper | None:
    email = raw.strip().lower()
    if "@" not in email or len(email) > 254:
        return None
    User = get_user_model()
    field = getattr(User, "EMAIL_FIELD", "email")
    user = User._default_manager.filter(**{f"{field}__iexact": email}).order_by("pk").first()
    if user is not None:
        return _shopper_for_user(user)
    guest = Shopper.objects.filter(user__isnull=True, merged_into__isnull=True, email__iexact=email).order_by("-last_seen").first()
    return guest or Shopper.objects.create(email=email)


