"""Scanners: one per flow kind, each finds the shoppers a flow's next step is due for.

A scanner reads in keyset-paginated batches and hands :class:`Candidate` objects to the
runner (:mod:`personalize.emails.sending`), which applies the policy, claims and sends. A new
flow kind is a new :class:`Scanner` subclass in :data:`SCANNERS`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q

from personalize.batching import keyset_batches
from personalize.conf import personalize_settings as ps
from personalize.emails.policy import shopper_language
from personalize.emails.subscriptions import consent_q, may_email
from personalize.models import Cart, EmailSend, Event, EventKind, Flow, Shopper, Step

if TYPE_CHECKING:
    from personalize.emails.sending import Runner



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
    # The earliest moment (UTC) a quiet-hours deferral ends: what the command tells the operator.
    quiet_until: Any = None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("planned")
        data.pop("quiet_until")
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


def next_step(steps: list[Step], done: set[int]) -> Step | None:
    """The first step (by position) not yet claimed for this cycle."""
    for step in steps:
        if step.pk not in done:
            return step
    return None



def done_steps(flow: Flow, shopper_ids: list[int]) -> dict[tuple[int, str], set[int]]:
    """The steps already claimed (any status) per (shopper, cycle): one query per batch."""
    done: dict[tuple[int, str], set[int]] = defaultdict(set)
    rows = EmailSend.objects.filter(flow=flow, shopper_id__in=shopper_ids).values_list("shopper_id", "step_id", "cycle")
    for shopper_id, step_id, cycle in rows:
        done[(shopper_id, cycle)].add(step_id)
    return done


class Scanner:
    """Finds due candidates of one flow and passes them to ``runner.process`` batch by batch."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    @property
    def now(self) -> datetime:
        return self.runner.now

    @property
    def stats(self) -> Any:
        return self.runner.stats

    @property
    def batch_size(self) -> int:
        return self.runner.batch_size

    @property
    def exhausted(self) -> bool:
        return self.runner.exhausted

    def process(self, candidates: list[Candidate]) -> None:
        self.runner.process(candidates)

    def scan(self, flow: Flow, steps: list[Step]) -> None:
        raise NotImplementedError


class CartScanner(Scanner):
    """Carts left with items for longer than the first step's delay."""

    def scan(self, flow: Flow, steps: list[Step]) -> None:
        first_delay = min(step.delay for step in steps)
        carts = (
            Cart.objects.filter(item_count__gt=0, updated_at__lte=self.now - first_delay, shopper__merged_into__isnull=True)
            .filter(consent_q("shopper__"))  # marketing consent (docs/privacy.md); refined per shopper below
            .select_related("shopper", "shopper__user")
        )
        for batch in keyset_batches(carts, self.batch_size):
            self.stats.scanned += len(batch)
            self.cart_batch(flow, steps, batch)
            if self.exhausted:
                return

    def cart_batch(self, flow: Flow, steps: list[Step], carts: list[Cart]) -> None:
        ids = [cart.shopper_id for cart in carts]
        done = done_steps(flow, ids)
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


class BrowsingScanner(Scanner):
    def scan(self, flow: Flow, steps: list[Step]) -> None:
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
        done = done_steps(flow, ids)
        shoppers = Shopper.objects.filter(pk__in=ids, merged_into__isnull=True).select_related("user", "cart")
        candidates = []
        for shopper in shoppers:
            key, last = best[shopper.pk]
            if shopper.pk in bought or (shopper.pk, key) in added:
                continue
            cart = shopper.cart if hasattr(shopper, "cart") else None
            if cart is not None and key in cart.product_keys():
                continue
            if not may_email(shopper):
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


class LapsedScanner(Scanner):
    def scan(self, flow: Flow, steps: list[Step]) -> None:
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
        done = done_steps(flow, ids)
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
            if not may_email(shopper):
                continue  # no consent to marketing email (guest or account)
            self.stats.due += 1
            candidates.append(Candidate.for_shopper(flow, step, shopper, cycle))
        self.process(candidates)

    # --- deciding and sending ----------------------------------------------------------


SCANNERS: dict[str, type[Scanner]] = {
    Flow.Kind.ABANDONED_CART: CartScanner,
    Flow.Kind.BROWSE_ABANDONMENT: BrowsingScanner,
    Flow.Kind.WIN_BACK: LapsedScanner,
}
