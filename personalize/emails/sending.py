"""Lifecycle emails as a job: claim what the scanners found due, send it, record the outcome.

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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone, translation

from personalize.conf import personalize_settings as ps
from personalize.emails import rendering
from personalize.emails.policy import (
    fatigued,
    in_quiet_hours,
    is_unsubscribed,
    quiet_hours_end,
    recent_counts,
    shopper_language,
    unsubscribed_sets,
    valid_email,
)
from personalize.emails.scanners import SCANNERS, Candidate, RunStats
from personalize.emails.subscriptions import may_email
from personalize.holdout import in_holdout
from personalize.models import Cart, Contact, EmailSend, Flow, Shopper, Step
from personalize.offers.codes import issue_code
from personalize.sites import site_url

logger = logging.getLogger("personalize")

S = EmailSend.Status
# Sent rows are recorded in chunks of this many (one UPDATE, one INSERT of fatigue contacts).
OUTCOME_FLUSH = 100


class Runner:
    """One run of :func:`send_due`."""

    def __init__(
        self, now: datetime, *, dry_run: bool = False, limit: int | None = None, connection: Any = None,
        ignore_quiet_hours: bool = False,
    ) -> None:
        self.now = now
        self.ignore_quiet_hours = ignore_quiet_hours
        self.dry_run = dry_run
        self.limit = limit if limit is not None else ps.EMAIL_MAX_PER_RUN
        self.stats = RunStats()
        self.connection = connection
        self.base = site_url()
        self.broken: set[int] = set()
        self.batch_size = max(1, int(ps.EMAIL_BATCH_SIZE))
        self.offer_checks = bool(ps.FATIGUE_WINDOW_MINUTES)
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
        flows = Flow.objects.filter(active=True).prefetch_related("steps__offer")
        for flow in flows:
            steps = sorted((s for s in flow.steps.all() if s.active), key=lambda s: s.position)
            if not steps:
                continue
            scanner = SCANNERS.get(flow.kind)
            if scanner is None:
                continue
            try:
                scanner(self).scan(flow, steps)
            except Exception:  # one flow's surprise never stops the others
                logger.exception("personalize: lifecycle flow %s failed", flow.slug)
            if self.exhausted:
                break
        return self.stats

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
            if not may_email(shopper):  # account holders need consent too (docs/privacy.md)
                self.stats.unsubscribed += 1
                continue
            if in_holdout(shopper):
                self.stats.skipped_holdout += 1
                self.skip(candidate, "store-wide holdout")
                continue
            if counts.get(shopper.pk, 0) >= ps.EMAIL_CAP_COUNT:
                self.stats.deferred_cap += 1
                continue
            if not self.ignore_quiet_hours and in_quiet_hours(shopper, self.now):
                self.stats.deferred_quiet += 1
                until = quiet_hours_end(shopper, self.now)
                if self.stats.quiet_until is None or until < self.stats.quiet_until:
                    self.stats.quiet_until = until
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
        products = rendering.products_by_key(sorted(keys))
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
        db = connections[router.db_for_write(EmailSend)]
        fields = [f for f in EmailSend._meta.concrete_fields if not f.primary_key]
        table = db.ops.quote_name(EmailSend._meta.db_table)
        columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        params: list[Any] = []
        for row in rows:
            params.extend(f.get_db_prep_save(f.pre_save(row, True), db) for f in fields)
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(rows))} "
            f"ON CONFLICT (step_id, shopper_id, cycle) DO NOTHING RETURNING id, step_id, shopper_id, cycle"
        )
        with transaction.atomic(using=db.alias), db.cursor() as cursor:
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
        message = rendering.build_message(subject, text, html, send.email, context["unsubscribe_url"], self.connection)
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
        products = rendering.products_by_key([str(line.get("product")) for line in send.lines])
        self.deliver(send, candidate, products)


def send_due(
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    connection_factory: Callable[[], Any] | None = None,
    ignore_quiet_hours: bool = False,
) -> RunStats:
    """Send every lifecycle email due at ``now`` (default: the current time); returns the counts.

    ``ignore_quiet_hours``: send even inside ``EMAIL_QUIET_HOURS`` (a demo, a manual run).
    """
    now = now or timezone.now()
    if dry_run:
        return Runner(now, dry_run=True, limit=limit, ignore_quiet_hours=ignore_quiet_hours).run()
    connection = (connection_factory or get_connection)()
    try:
        connection.open()
    except Exception:
        logger.exception("personalize: could not open the email connection; sending message by message")
    try:
        return Runner(now, limit=limit, connection=connection, ignore_quiet_hours=ignore_quiet_hours).run()
    finally:
        try:
            connection.close()
        except Exception:
            logger.warning("personalize: could not close the email connection", exc_info=True)


