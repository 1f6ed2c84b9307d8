"""Lifecycle emails as a job: find what is due, claim it, send it, record the outcome.

:func:`send_due` is what the Celery beat task (``personalize.emails.send_due``) and the
``personalize_send_lifecycle_emails`` command call.

Guarantees (docs/emails.md):

* **At most once.** A step is claimed by inserting an :class:`EmailSend` row, unique on
  (step, shopper, cycle), in its own committed transaction *before* the email goes out; two
  workers, a broker redelivery or a rerun find the row and skip. A worker killed between the
  claim and the "sent" update leaves a ``claimed`` row: after ``EMAIL_CLAIM_TIMEOUT_MINUTES``
  it is marked failed ("outcome unknown") and never resent, since the email may have left.
* **Memory flat in the number of carts.** Carts are read in keyset-paginated batches
  (``pk > last``, ``EMAIL_BATCH_SIZE`` rows) and everything per batch is fetched in a handful of
  queries (sends, purchases, unsubscribes, caps, products).
* **Bad input never stops a batch.** Shoppers without a valid email are skipped and counted,
  deleted products are left out with a note, a template error marks its step broken and the
  other steps and flows go on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone, translation

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.emails import links, rendering
from personalize.models import EmailSend, Flow, Step, Unsubscribe
from personalize.holdout import in_holdout
from personalize.models import Cart, Contact, Event, EventKind, Shopper

logger = logging.getLogger("personalize")

S = EmailSend.Status
# Rows that count against the frequency cap (an email that left, or may be leaving).
CAP_STATUSES = (S.CLAIMED, S.SENT, S.RETRY)
# Sent rows are recorded in chunks of this many (one UPDATE, one INSERT of fatigue contacts).
OUTCOME_FLUSH = 100


@dataclass
class RunStats:
    """What one run did; the command prints it, the task returns it."""

    scanned: int = 0
    due: int = 0
    sent: int = 0
    would_send: int = 0
    skipped_no_email: int = 0
    skipped_holdout: int = 0
    unsubscribed: int = 0
    stopped_purchase: int = 0
    deferred_cap: int = 0
    deferred_quiet: int = 0
    deferred_fatigue: int = 0
    already_claimed: int = 0
    step_broken: int = 0
    retried: int = 0
    failed: int = 0
    interrupted: int = 0
    missing_products: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("planned")
        return data


@dataclass
class Candidate:
    """A step due for a shopper, before the claim."""

    flow: Flow
    step: Step
    shopper: Shopper
    cycle: str
    email: str
    language: str
    cart_revision: int | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def for_shopper(cls, flow: Flow, step: Step, shopper: Shopper, cycle: str, **extra: Any) -> Candidate:
        """A candidate whose address and language come from the shopper (and their cart)."""
        cart = getattr(shopper, "cart", None)  # the reverse one-to-one raises an AttributeError when absent
        return cls(
            flow=flow,
            step=step,
            shopper=shopper,
            cycle=cycle,
            email=(shopper.get_email() or "").strip(),
            language=shopper_language(shopper, cart),
            **extra,
        )


# --- small rules -----------------------------------------------------------------------------


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
    return by_id, by_email


def is_unsubscribed(shopper: Shopper, email: str) -> bool:
    return Unsubscribe.objects.filter(Q(shopper=shopper) | Q(email=(email or "").lower(), email__gt="")).exists()


def fatigued(shopper_ids: Iterable[int], now: datetime) -> set[int]:
    """Shoppers who got an offer on any channel within the fatigue window."""
    minutes = ps.FATIGUE_WINDOW_MINUTES
    if not minutes or minutes <= 0:
        return set()
    since = now - timedelta(minutes=minutes)
    rows = Contact.objects.filter(shopper_id__in=list(shopper_ids), created_at__gte=since, created_at__lte=now)
    return set(rows.values_list("shopper_id", flat=True))


# --- scanning --------------------------------------------------------------------------------


def _batches(queryset: Any, size: int) -> Iterator[list[Any]]:
    """Keyset pagination by pk: each batch is one bounded query, nothing is held between them."""
    last = None
    while True:
        qs = queryset.order_by("pk")
        if last is not None:
            qs = qs.filter(pk__gt=last)
        batch = list(qs[:size])
        if not batch:
            return
        last = batch[-1].pk
        yield batch


def next_step(steps: list[Step], done: set[int]) -> Step | None:
    """The first step (by position) not yet claimed for this cycle."""
    for step in steps:
        if step.pk not in done:
            return step
    return None


class Runner:
    """One run of :func:`send_due`."""

    def __init__(self, now: datetime, *, dry_run: bool = False, limit: int | None = None, connection: Any = None) -> None:
        self.now = now
        self.dry_run = dry_run
        self.limit = limit if limit is not None else ps.EMAIL_MAX_PER_RUN
        self.stats = RunStats()
        self.connection = connection
        self.base = links.site_url()
        self.broken: set[int] = set()
        self.batch_size = max(1, int(ps.EMAIL_BATCH_SIZE))
        self.offer_checks = fatigue_aware()
        self.outcomes: list[tuple[EmailSend, str]] = []
        self.facts: dict[tuple[str, str], dict[str, Any]] = {}  # product facts per language, for this run

    @property
    def exhausted(self) -> bool:
        done = self.stats.would_send if self.dry_run else self.stats.sent
        return self.limit is not None and done >= self.limit

    # --- the run -----------------------------------------------------------------------
    def run(self) -> RunStats:
        if not self.dry_run:
            self.expire_stale_claims()
            self.retry_due()
        flows = Flow.objects.filter(active=True).prefetch_related("steps__offer" if offer_model_ready() else "steps")
        for flow in flows:
            steps = sorted((s for s in flow.steps.all() if s.active), key=lambda s: s.position)
            if not steps:
                continue
            try:
                if flow.kind == Flow.Kind.ABANDONED_CART:
                    self.scan_carts(flow, steps)
                elif flow.kind == Flow.Kind.WIN_BACK:
                    self.scan_lapsed(flow, steps)
                elif flow.kind == Flow.Kind.BROWSE_ABANDONMENT:
                    self.scan_browsing(flow, steps)
            except Exception:  # one flow's surprise never stops the others
                logger.exception("personalize: lifecycle flow %s failed", flow.slug)
            if self.exhausted:
                break
        return self.stats

    def scan_carts(self, flow: Flow, steps: list[Step]) -> None:
        first_delay = min(step.delay for step in steps)
        carts = (
            Cart.objects.filter(item_count__gt=0, updated_at__lte=self.now - first_delay, shopper__merged_into__isnull=True)
            .filter(Q(shopper__user__isnull=False) | Q(shopper__email__gt="", shopper__email_consent=True))
            .select_related("shopper", "shopper__user")
        )
        for batch in _batches(carts, self.batch_size):
            self.stats.scanned += len(batch)
            self.cart_batch(flow, steps, batch)
            if self.exhausted:
                return

    def cart_batch(self, flow: Flow, steps: list[Step], carts: list[Cart]) -> None:
        ids = [cart.shopper_id for cart in carts]
        done: dict[tuple[int, str], set[int]] = defaultdict(set)
        for shopper_id, step_id, cycle in EmailSend.objects.filter(flow=flow, shopper_id__in=ids).values_list(
            "shopper_id", "step_id", "cycle"
        ):
            done[(shopper_id, cycle)].add(step_id)
        due: list[tuple[Cart, Step]] = []
        for cart in carts:
            step = next_step(steps, done[(cart.shopper_id, f"cart:{cart.revision}")])
            if step is not None and self.now >= cart.updated_at + step.delay:
                due.append((cart, step))
        if not due:
            return
        self.stats.due += len(due)
        oldest = min(cart.updated_at for cart, _step in due)
        bought = dict(
            Event.objects.filter(shopper_id__in=[c.shopper_id for c, _s in due], kind=EventKind.PURCHASE, created_at__gte=oldest)
            .values("shopper_id")
            .annotate(last=Max("created_at"))
            .values_list("shopper_id", "last")
        )
        candidates = []
        for cart, step in due:
            if bought.get(cart.shopper_id) and bought[cart.shopper_id] >= cart.updated_at:
                self.stats.stopped_purchase += 1
                continue
            shopper = cart.shopper
            shopper.cart = cart
            candidates.append(
                Candidate.for_shopper(
                    flow, step, shopper, f"cart:{cart.revision}", cart_revision=cart.revision, lines=list(cart.lines)
                )
            )
        self.process(candidates)

    def scan_browsing(self, flow: Flow, steps: list[Step]) -> None:
        """Shoppers who viewed a product BROWSE_MIN_VIEWS times lately without adding it to the cart."""
        since = self.now - timedelta(days=ps.BROWSE_WINDOW_DAYS)
        newest = self.now - min(step.delay for step in steps)
        views = Event.objects.filter(kind=EventKind.VIEW, created_at__gte=since, created_at__lte=self.now).exclude(product_key="")
        last_id = 0
        while True:
            ids = list(
                views.filter(shopper_id__gt=last_id).order_by("shopper_id").values_list("shopper_id", flat=True).distinct()[: self.batch_size]
            )
            if not ids:
                return
            last_id = ids[-1]
            self.stats.scanned += len(ids)
            self.browsing_batch(flow, steps, views.filter(shopper_id__in=ids), since, newest)
            if self.exhausted:
                return

    def browsing_batch(self, flow: Flow, steps: list[Step], views: Any, since: datetime, newest: datetime) -> None:
        rows = (
            views.values("shopper_id", "product_key")
            .annotate(n=Count("id"), last=Max("created_at"))
            .filter(n__gte=ps.BROWSE_MIN_VIEWS, last__lte=newest)
            .order_by("shopper_id", "-n", "-last")
        )
        best: dict[int, tuple[str, datetime]] = {}
        for row in rows:  # the most viewed product of each shopper
            best.setdefault(row["shopper_id"], (row["product_key"], row["last"]))
        if not best:
            return
        ids = list(best)
        acted = set(
            Event.objects.filter(shopper_id__in=ids, created_at__gte=since)
            .filter(Q(kind=EventKind.PURCHASE) | Q(kind=EventKind.ADD_TO_CART, product_key__in={key for key, _l in best.values()}))
            .values_list("shopper_id", "kind", "product_key")
        )
        bought = {shopper_id for shopper_id, kind, _key in acted if kind == EventKind.PURCHASE}
        added = {(shopper_id, key) for shopper_id, kind, key in acted if kind == EventKind.ADD_TO_CART}
        done: dict[tuple[int, str], set[int]] = defaultdict(set)
        for shopper_id, step_id, cycle in EmailSend.objects.filter(flow=flow, shopper_id__in=ids).values_list(
            "shopper_id", "step_id", "cycle"
        ):
            done[(shopper_id, cycle)].add(step_id)
        shoppers = Shopper.objects.filter(pk__in=ids, merged_into__isnull=True).select_related("user", "cart")
        candidates = []
        for shopper in shoppers:
            key, last = best[shopper.pk]
            if shopper.pk in bought or (shopper.pk, key) in added:
                continue
            cart = shopper.cart if hasattr(shopper, "cart") else None
            if cart is not None and key in cart.product_keys():
                continue
            if not shopper.user_id and not (shopper.email and shopper.email_consent):
                continue
            cycle = f"browse:{key}"[:100]
            step = next_step(steps, done[(shopper.pk, cycle)])
            if step is None or self.now < last + step.delay:
                continue
            self.stats.due += 1
            candidates.append(
                Candidate.for_shopper(flow, step, shopper, cycle, lines=[{"product": key, "quantity": 1, "price": None}])
            )
        self.process(candidates)

    def scan_lapsed(self, flow: Flow, steps: list[Step]) -> None:
        """Customers whose last purchase is WINBACK_DAYS old (within WINBACK_WINDOW_DAYS)."""
        lapse = timedelta(days=ps.WINBACK_DAYS)
        newest = self.now - lapse - min(step.delay for step in steps)
        oldest = self.now - lapse - max(step.delay for step in steps) - timedelta(days=ps.WINBACK_WINDOW_DAYS)
        purchases = (
            Event.objects.filter(kind=EventKind.PURCHASE, created_at__gte=oldest, created_at__lte=newest)
            .values("shopper_id")
            .annotate(last=Max("created_at"))
        )
        last_id = 0
        while True:
            rows = list(purchases.filter(shopper_id__gt=last_id).order_by("shopper_id")[: self.batch_size])
            if not rows:
                return
            last_id = rows[-1]["shopper_id"]
            self.stats.scanned += len(rows)
            self.lapsed_batch(flow, steps, {row["shopper_id"]: row["last"] for row in rows}, newest)
            if self.exhausted:
                return

    def lapsed_batch(self, flow: Flow, steps: list[Step], last_purchase: dict[int, datetime], newest: datetime) -> None:
        ids = list(last_purchase)
        came_back = set(
            Event.objects.filter(shopper_id__in=ids, kind=EventKind.PURCHASE, created_at__gt=newest).values_list("shopper_id", flat=True)
        )
        done: dict[tuple[int, str], set[int]] = defaultdict(set)
        for shopper_id, step_id, cycle in EmailSend.objects.filter(flow=flow, shopper_id__in=ids).values_list(
            "shopper_id", "step_id", "cycle"
        ):
            done[(shopper_id, cycle)].add(step_id)
        shoppers = Shopper.objects.filter(pk__in=[i for i in ids if i not in came_back], merged_into__isnull=True).select_related(
            "user", "cart"
        )
        lapse = timedelta(days=ps.WINBACK_DAYS)
        candidates = []
        for shopper in shoppers:
            last = last_purchase[shopper.pk]
            cycle = f"lapse:{int(last.timestamp())}"
            step = next_step(steps, done[(shopper.pk, cycle)])
            if step is None or self.now < last + lapse + step.delay:
                continue
            if not shopper.user_id and not shopper.email_consent:
                continue  # an address captured without consent is not for marketing
            self.stats.due += 1
            candidates.append(Candidate.for_shopper(flow, step, shopper, cycle))
        self.process(candidates)

    # --- deciding and sending ----------------------------------------------------------
    def process(self, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        shoppers = [c.shopper for c in candidates]
        ids = [s.pk for s in shoppers]
        unsub_ids, unsub_emails = unsubscribed_sets(shoppers, [c.email for c in candidates])
        counts = recent_counts(ids, self.now)
        tired = fatigued(ids, self.now) if self.offer_checks else set()
        ready: list[Candidate] = []
        for candidate in candidates:
            shopper, step = candidate.shopper, candidate.step
            if step.is_broken or step.pk in self.broken:
                self.stats.step_broken += 1
                continue
            if shopper.pk in unsub_ids or candidate.email.lower() in unsub_emails:
                self.stats.unsubscribed += 1
                continue
            if not valid_email(candidate.email):
                self.stats.skipped_no_email += 1
                self.skip(candidate, "no valid email address")
                continue
            if shopper.user_id and shopper.user is not None and not getattr(shopper.user, "is_active", True):
                self.stats.skipped_no_email += 1
                self.skip(candidate, "inactive account")
                continue
            if in_holdout(shopper):
                self.stats.skipped_holdout += 1
                self.skip(candidate, "store-wide holdout")
                continue
            if counts.get(shopper.pk, 0) >= ps.EMAIL_CAP_COUNT:
                self.stats.deferred_cap += 1
                continue
            if in_quiet_hours(shopper, self.now):
                self.stats.deferred_quiet += 1
                continue
            if step.offer_id and shopper.pk in tired:
                self.stats.deferred_fatigue += 1
                continue
            counts[shopper.pk] = counts.get(shopper.pk, 0) + 1
            ready.append(candidate)
        if self.limit is not None:
            done = self.stats.would_send if self.dry_run else self.stats.sent
            ready = ready[: max(0, self.limit - done)]
        if self.dry_run:
            self.stats.would_send += len(ready)
            self.stats.planned.extend(
                {"flow": c.flow.slug, "step": c.step.position, "email": c.email, "language": c.language, "cycle": c.cycle}
                for c in ready
            )
            return
        if not ready:
            return
        keys = {str(line.get("product")) for c in ready for line in c.lines}
        adapter = get_adapter()
        products = {adapter.product_key(p): p for p in adapter.get_products(sorted(keys))} if keys else {}
        for send, candidate in self.claim(ready, products):
            try:
                self.deliver(send, candidate, products)
            except Exception:  # one shopper's surprise never stops the batch
                logger.exception("personalize: lifecycle email %s could not be built", send.pk)
                EmailSend.objects.filter(pk=send.pk, status=S.CLAIMED).update(status=S.FAILED, error="could not be built (see the log)")
                self.stats.failed += 1
        self.flush()

    def skip(self, candidate: Candidate, reason: str) -> None:
        """Record a skip once, so the step is not reconsidered for this cycle every run."""
        if self.dry_run:
            return
        self.insert([self.new_send(candidate, status=S.SKIPPED, error=reason)])

    def new_send(self, candidate: Candidate, **fields: Any) -> EmailSend:
        fields.setdefault("lines", candidate.lines)
        return EmailSend(
            flow=candidate.flow,
            step=candidate.step,
            shopper=candidate.shopper,
            cycle=candidate.cycle,
            cart_revision=candidate.cart_revision,
            email=candidate.email[:254],
            language=candidate.language,
            created_at=self.now,
            **fields,
        )

    def prepared(self, candidate: Candidate, products: dict[str, Any]) -> dict[str, Any]:
        """What the claim row records up front: subject, the lines shown, a note on missing products."""
        kept = [line for line in candidate.lines if str(line.get("product")) in products]
        missing = [str(line.get("product")) for line in candidate.lines if str(line.get("product")) not in products]
        note = f"{len(missing)} product(s) no longer available, left out: {', '.join(missing)[:200]}" if missing else ""
        with translation.override(candidate.language):
            subject = rendering.subject_line(candidate.step, candidate.language, rendering.first_name_of(candidate.shopper))
        return {"subject": subject, "lines": kept, "error": note}

    def claim(self, candidates: list[Candidate], products: dict[str, Any]) -> list[tuple[EmailSend, Candidate]]:
        """Claim a batch: insert the rows (committed before anything is sent), skip the taken ones.

        The batch's shopper rows are locked (in pk order, so two workers never deadlock) while the
        frequency cap is re-checked and the claims inserted: two workers handling two flows of one
        shopper cannot both pass the cap, and the unique constraint stops the same step twice.
        """
        with transaction.atomic():
            ids = sorted({c.shopper.pk for c in candidates})
            list(Shopper.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
            counts = recent_counts(ids, self.now)
            rows, kept = [], []
            for candidate in candidates:
                if counts.get(candidate.shopper.pk, 0) >= ps.EMAIL_CAP_COUNT:
                    self.stats.deferred_cap += 1
                    continue
                counts[candidate.shopper.pk] = counts.get(candidate.shopper.pk, 0) + 1
                rows.append(self.new_send(candidate, status=S.CLAIMED, **self.prepared(candidate, products)))
                kept.append(candidate)
            inserted = self.insert(rows)
        claimed = []
        for send, candidate in zip(rows, kept, strict=True):
            pk = inserted.get((send.step_id, send.shopper_id, send.cycle))
            if pk is None:
                self.stats.already_claimed += 1
                continue
            send.pk = send.id = pk
            send._state.adding = False
            claimed.append((send, candidate))
        return claimed

    def insert(self, rows: list[EmailSend]) -> dict[tuple[int, int, str], int]:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: the keys that were new, with their pk."""
        if not rows:
            return {}
        fields = [f for f in EmailSend._meta.concrete_fields if not f.primary_key]
        table = connection.ops.quote_name(EmailSend._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        params: list[Any] = []
        for row in rows:
            params.extend(f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields)
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(rows))} "
            f"ON CONFLICT (step_id, shopper_id, cycle) DO NOTHING RETURNING id, step_id, shopper_id, cycle"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {(step_id, shopper_id, cycle): pk for pk, step_id, shopper_id, cycle in cursor.fetchall()}

    def deliver(self, send: EmailSend, candidate: Candidate, products: dict[str, Any]) -> None:
        """Render and send a claimed row; record sent / retry / failed, or the step broken."""
        shopper, step = candidate.shopper, candidate.step
        if step.pk in self.broken:
            EmailSend.objects.filter(pk=send.pk, status=S.CLAIMED).delete()
            self.stats.step_broken += 1
            return
        with translation.override(candidate.language):
            lines, missing = rendering.product_lines(candidate.lines, products, self.base, self.facts)
            note = ""
            if missing:
                self.stats.missing_products += len(missing)
                note = f"{len(missing)} product(s) no longer available, left out: {', '.join(missing)[:200]}"
            offer, code = self.offer_code(step, shopper, candidate.flow)
            context = rendering.build_context(
                send=send,
                shopper=shopper,
                lines=lines,
                missing=missing,
                base=self.base,
                offer=offer,
                offer_code=code,
                recommended=rendering.recommendations(shopper, {line["key"] for line in lines}, self.base, ps.EMAIL_RECOMMENDATIONS),
            )
            try:
                subject, text, html = rendering.render_email(step, candidate.language, context)
            except rendering.StepTemplateError as exc:
                self.mark_broken(step, str(exc))
                # Nothing left: release the claim so the step goes out once it is fixed.
                EmailSend.objects.filter(pk=send.pk, status=S.CLAIMED).delete()
                self.stats.step_broken += 1
                return
        send.subject = subject[:255]
        send.offer_code = code
        send.error = note
        message = build_message(subject, text, html, send.email, context["unsubscribe_url"], self.connection)
        self.attempt(send, message, source=f"email:{candidate.flow.slug}")

    def attempt(self, send: EmailSend, message: EmailMultiAlternatives, *, source: str) -> None:
        send.attempts += 1
        try:
            sent = message.send(fail_silently=False)
            if not sent:
                raise RuntimeError("the email backend reported 0 messages sent")
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:1000]
            fields = {"attempts": send.attempts, "error": error, "subject": send.subject, "offer_code": send.offer_code}
            if send.attempts >= ps.EMAIL_MAX_ATTEMPTS:
                EmailSend.objects.filter(pk=send.pk).update(status=S.FAILED, next_attempt_at=None, **fields)
                self.stats.failed += 1
            else:
                backoff = timedelta(minutes=ps.EMAIL_RETRY_BACKOFF_MINUTES * 2 ** (send.attempts - 1))
                EmailSend.objects.filter(pk=send.pk).update(status=S.RETRY, next_attempt_at=self.now + backoff, **fields)
                self.stats.retried += 1
            logger.warning("personalize: lifecycle email %s failed (attempt %s): %s", send.pk, send.attempts, error)
            return
        send.status, send.sent_at, send.next_attempt_at = S.SENT, self.now, None
        self.stats.sent += 1
        self.outcomes.append((send, source))
        if len(self.outcomes) >= OUTCOME_FLUSH:
            self.flush()

    def flush(self) -> None:
        """Record the sends that went out: one UPDATE and one INSERT (fatigue contacts) per chunk.

        Until flushed a sent row still reads "claimed"; if the worker dies here, it is marked
        failed after the claim timeout and never resent (the at-most-once side).
        """
        if not self.outcomes:
            return
        EmailSend.objects.filter(pk__in=[send.pk for send, _source in self.outcomes]).update(
            status=S.SENT, sent_at=self.now, next_attempt_at=None, attempts=F("attempts") + 1
        )
        for send, _source in self.outcomes:
            if send.offer_code:  # issued after the claim, so that a lost claim never mints a code
                EmailSend.objects.filter(pk=send.pk).update(offer_code=send.offer_code)
        # The cross-channel fatigue cap (personalize.fatigue.record_contact), written in bulk.
        Contact.objects.bulk_create(
            [Contact(shopper_id=send.shopper_id, channel=Contact.Channel.EMAIL, source=source[:100], created_at=timezone.now()) for send, source in self.outcomes]
        )
        self.outcomes = []

    def offer_code(self, step: Step, shopper: Shopper, flow: Flow) -> tuple[Any, str]:
        if not step.offer_id:
            return None, ""
        offer = step.offer
        if not offer.is_valid_at(self.now):
            return None, ""
        try:
            from personalize.campaigns.offers import issue_code

            return offer, issue_code(offer, shopper, source=f"email:{flow.slug}")
        except Exception:
            logger.exception("personalize: could not issue a code for step %s", step.pk)
            return None, ""

    def mark_broken(self, step: Step, error: str) -> None:
        self.broken.add(step.pk)
        Step.objects.filter(pk=step.pk).update(is_broken=True, error=error[:2000])
        logger.error("personalize: email step %s is broken: %s", step.pk, error)

    # --- housekeeping ------------------------------------------------------------------
    def expire_stale_claims(self) -> None:
        """Claims older than the timeout were interrupted mid-send: failed, never resent."""
        cutoff = self.now - timedelta(minutes=ps.EMAIL_CLAIM_TIMEOUT_MINUTES)
        self.stats.interrupted += EmailSend.objects.filter(status=S.CLAIMED, created_at__lt=cutoff).update(
            status=S.FAILED, error="Interrupted while sending (worker stopped?): outcome unknown, not resent (at-most-once)."
        )

    def retry_due(self) -> None:
        """Resend rows waiting to retry; each is re-claimed (retry → claimed) by one worker only."""
        while not self.exhausted:
            with transaction.atomic():
                rows = list(
                    EmailSend.objects.select_for_update(skip_locked=True)
                    .filter(status=S.RETRY, next_attempt_at__lte=self.now)
                    .order_by("next_attempt_at")[: self.batch_size]
                )
                taken = EmailSend.objects.filter(pk__in=[r.pk for r in rows], status=S.RETRY).update(status=S.CLAIMED)
            if not rows or not taken:
                return
            for send in rows:
                try:
                    self.resend(send)
                except Exception:
                    logger.exception("personalize: retry of lifecycle email %s failed", send.pk)
            self.flush()
            if len(rows) < self.batch_size:
                return

    def resend(self, send: EmailSend) -> None:
        send = EmailSend.objects.select_related("flow", "step", "shopper", "shopper__user").get(pk=send.pk)
        shopper = send.shopper
        cart = Cart.objects.filter(shopper=shopper).first()
        reason = ""
        if is_unsubscribed(shopper, send.email):
            reason = "unsubscribed before the retry"
        elif send.cart_revision is not None and (cart is None or cart.is_empty or cart.revision != send.cart_revision):
            reason = "cart changed or emptied before the retry"
        if reason:
            EmailSend.objects.filter(pk=send.pk).update(status=S.SKIPPED, error=reason)
            return
        candidate = Candidate(
            flow=send.flow,
            step=send.step,
            shopper=shopper,
            cycle=send.cycle,
            email=send.email,
            language=send.language or shopper_language(shopper, cart),
            cart_revision=send.cart_revision,
            lines=list(send.lines),
        )
        adapter = get_adapter()
        keys = [str(line.get("product")) for line in send.lines]
        products = {adapter.product_key(p): p for p in adapter.get_products(keys)} if keys else {}
        self.deliver(send, candidate, products)


def fatigue_aware() -> bool:
    return bool(ps.FATIGUE_WINDOW_MINUTES)


def offer_model_ready() -> bool:
    try:
        Step._meta.get_field("offer").related_model._meta  # noqa: B018 - resolves the lazy reference
    except Exception:
        return False
    return True


def build_message(
    subject: str, text: str, html: str, to: str, unsubscribe_url: str, connection: Any = None
) -> EmailMultiAlternatives:
    """The email with RFC 8058 one-click unsubscribe headers."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=ps.EMAIL_FROM or settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message


def send_due(
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    connection_factory: Callable[[], Any] | None = None,
) -> RunStats:
    """Send every lifecycle email due at ``now`` (default: the current time); returns the counts."""
    now = now or timezone.now()
    if dry_run:
        return Runner(now, dry_run=True, limit=limit).run()
    connection = (connection_factory or get_connection)()
    try:
        connection.open()
    except Exception:
        logger.exception("personalize: could not open the email connection; sending message by message")
    try:
        return Runner(now, limit=limit, connection=connection).run()
    finally:
        try:
            connection.close()
        except Exception:
            logger.warning("personalize: could not close the email connection", exc_info=True)


# --- unsubscribes and attribution ------------------------------------------------------------


def unsubscribe(shopper: Shopper | None, email: str, *, source: str = "link") -> Unsubscribe:
    """Record that ``email`` (and its shopper) wants no more lifecycle email; idempotent."""
    email = (email or "").strip().lower()
    existing = Unsubscribe.objects.filter(Q(email=email, email__gt="") | Q(shopper=shopper) if shopper else Q(email=email)).first()
    if existing is not None:
        return existing
    unsub = Unsubscribe.objects.create(shopper=shopper, email=email, source=source[:32])
    # A pending retry must not go out after the shopper asked to stop.
    pending = EmailSend.objects.filter(status=S.RETRY)
    pending = pending.filter(Q(shopper=shopper) | Q(email__iexact=email)) if shopper else pending.filter(email__iexact=email)
    pending.update(status=S.SKIPPED, error="unsubscribed", next_attempt_at=None)
    return unsub


def record_click(send: EmailSend, when: datetime | None = None) -> bool:
    """Mark the send clicked (the first click counts); whether this call set it."""
    return bool(EmailSend.objects.filter(pk=send.pk, clicked_at__isnull=True).update(clicked_at=when or timezone.now()))


def attribute_purchase(event: Event, send_id: int | None = None) -> EmailSend | None:
    """Credit a purchase to the email whose link the shopper clicked within the window.

    ``send_id`` is the send the restore link left in the session (another device); else the
    shopper's latest clicked send. One order is credited to one send, a send gets one order.
    """
    if event.kind != EventKind.PURCHASE:
        return None
    window = timedelta(days=ps.EMAIL_ATTRIBUTION_DAYS)
    candidates = EmailSend.objects.filter(
        status=S.SENT, clicked_at__isnull=False, clicked_at__gte=event.created_at - window, clicked_at__lte=event.created_at, order_ref=""
    )
    send = None
    if send_id:
        send = candidates.filter(pk=send_id).first()
    if send is None:
        send = candidates.filter(shopper_id=event.shopper_id).order_by("-clicked_at").first()
    if send is None:
        return None
    order_ref = event.order_ref or f"event:{event.pk}"
    if EmailSend.objects.filter(order_ref=order_ref).exists():
        return None
    updated = EmailSend.objects.filter(pk=send.pk, order_ref="").update(
        order_ref=order_ref, order_value=event.value, recovered_at=event.created_at
    )
    return send if updated else None
