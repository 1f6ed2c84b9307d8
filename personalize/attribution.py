"""The one attribution rule: which offer, campaign, email or recommendation gets an order.

A purchase is credited to

1. the **offer whose code it redeemed** (a :class:`~personalize.models.Redemption` with the
   purchase's order reference), together with the campaign or email that issued the code;
2. otherwise the **last click** before it, within ``ATTRIBUTION_WINDOW_HOURS``: a recommended
   item (``rec_click``), a campaign link (``campaign_click``) or a lifecycle email's link
   (``EmailSend.clicked_at``), whichever came last;
3. otherwise **nothing** (the order is organic).

Every report reads :func:`credits` (campaign results, redemptions, the flow report, the
recommendation report, the impact page and the API), so one order has one answer on every
screen. It is computed when a report asks, from the stored events, so a redemption recorded after
the purchase event (or a changed window) is taken into account. Documented in docs/campaigns.md,
"Attribution".

Credit is not lift: what a campaign *caused* is measured by comparing its arms (and the
store-wide holdout) over all their purchases, see ``personalize.campaigns.stats``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery, Value
from django.utils.translation import gettext_lazy as _

from personalize.batching import chunked
from personalize.conf import personalize_settings as ps
from personalize.models import CampaignAssignment, EmailSend, Event, EventKind, Redemption

__all__ = ["Credit", "OFFER", "RECOMMENDATION", "CAMPAIGN", "EMAIL", "CHANNELS", "window", "credits", "credit", "credit_for_order"]

OFFER, RECOMMENDATION, CAMPAIGN, EMAIL = "offer", "recommendation", "campaign", "email"
CHANNELS = {
    OFFER: _("Offer code redeemed"),
    RECOMMENDATION: _("Recommendation click"),
    CAMPAIGN: _("Campaign click"),
    EMAIL: _("Email click"),
}
# Clicks recorded as events (an email click is EmailSend.clicked_at).
CLICK_KINDS = (EventKind.REC_CLICK, EventKind.CAMPAIGN_CLICK)


@dataclass(frozen=True)
class Credit:
    """Who gets one purchase, and through which touch."""

    purchase_id: int
    shopper_id: int
    order_ref: str
    value: Decimal
    purchased_at: datetime
    channel: str  # OFFER, RECOMMENDATION, CAMPAIGN or EMAIL
    touched_at: datetime | None = None
    campaign_id: int | None = None
    arm: str = ""
    offer_id: int | None = None
    code: str = ""
    send_id: int | None = None
    flow_id: int | None = None
    step_id: int | None = None
    placement: str = ""
    model_version: str = ""
    variant: str = ""

    @property
    def channel_label(self) -> str:
        return str(CHANNELS[self.channel])


def window() -> timedelta:
    """The one attribution window (``ATTRIBUTION_WINDOW_HOURS``)."""
    return timedelta(hours=float(ps.ATTRIBUTION_WINDOW_HOURS))


def _window_start() -> ExpressionWrapper:
    return ExpressionWrapper(OuterRef("created_at") - Value(window()), output_field=DateTimeField())


def _annotated(purchases: QuerySet[Event]) -> QuerySet[Event]:
    """Each purchase with the ids of its last click event and last clicked email."""
    click = Event.objects.filter(
        shopper_id=OuterRef("shopper_id"),
        kind__in=CLICK_KINDS,
        created_at__lte=OuterRef("created_at"),
        created_at__gte=_window_start(),
    ).order_by("-created_at", "-pk")
    # The shopper's own sends, or the send a restore link tied to this order on another device.
    email = EmailSend.objects.filter(
        Q(shopper_id=OuterRef("shopper_id")) | (Q(order_ref=OuterRef("order_ref")) & ~Q(order_ref="")),
        status=EmailSend.Status.SENT,
        clicked_at__isnull=False,
        clicked_at__lte=OuterRef("created_at"),
        clicked_at__gte=_window_start(),
    ).order_by("-clicked_at", "-pk")
    return purchases.filter(kind=EventKind.PURCHASE).annotate(
        click_id=Subquery(click.values("pk")[:1]),
        email_id=Subquery(email.values("pk")[:1]),
    )


def credits(purchases: QuerySet[Event] | None = None) -> dict[int, Credit]:
    """Purchase event id -> :class:`Credit`, for the credited ones among ``purchases``.

    Five queries however many purchases: the purchases with three correlated sub-selects, then
    the redemptions, click events, email sends and campaign arms they point at.
    """
    rows = list(
        _annotated(purchases if purchases is not None else Event.objects.all()).values(
            "pk", "shopper_id", "order_ref", "value", "created_at", "click_id", "email_id"
        )
    )
    # Redemptions by order reference, fetched in bulk (an order_ref lookup per purchase inside
    # the query would scan the table: its index leads with the offer).
    by_ref: dict[str, Redemption] = {}
    refs = sorted({r["order_ref"] for r in rows if r["order_ref"]})
    for part in chunked(refs):
        for red in Redemption.objects.filter(order_ref__in=part).order_by("-created_at", "-pk"):
            by_ref[red.order_ref] = red  # the earliest redemption of the order wins
    redemptions = {red.pk: red for red in by_ref.values()}
    for row in rows:
        found_red = by_ref.get(row["order_ref"]) if row["order_ref"] else None
        row["redemption_id"] = found_red.pk if found_red is not None else None
    clicks = Event.objects.in_bulk({r["click_id"] for r in rows if r["click_id"] and not r["redemption_id"]})
    sends = _sends(rows, redemptions)
    sends["arm"] = _arms(redemptions)
    result: dict[int, Credit] = {}
    for row in rows:
        base = {
            "purchase_id": row["pk"],
            "shopper_id": row["shopper_id"],
            "order_ref": row["order_ref"],
            "value": row["value"] or Decimal("0"),
            "purchased_at": row["created_at"],
        }
        found = _decide(base, redemptions.get(row["redemption_id"]), clicks.get(row["click_id"]), sends, row)
        if found is not None:
            result[row["pk"]] = found
    return result


def _sends(rows: list[dict], redemptions: dict[int, Redemption]) -> dict:
    """Email sends by id (clicked ones) and by (shopper, code) (the ones that carried a code)."""
    ids = {r["email_id"] for r in rows if r["email_id"]}
    codes = {red.code for red in redemptions.values() if red.code}
    query = Q(pk__in=ids)
    if codes:
        query |= Q(offer_code__in=codes, status=EmailSend.Status.SENT)
    by_id: dict[int, EmailSend] = {}
    by_code: dict[tuple[int | None, str], EmailSend] = {}
    for send in EmailSend.objects.filter(query).only(
        "pk", "flow_id", "step_id", "shopper_id", "offer_code", "clicked_at", "sent_at"
    ).order_by("sent_at", "pk"):
        by_id[send.pk] = send
        if send.offer_code:
            by_code[(send.shopper_id, send.offer_code)] = send  # the latest send with the code wins
    return {"id": by_id, "code": by_code}


def _decide(base: dict, redemption: Redemption | None, click: Event | None, sends: dict, row: dict) -> Credit | None:
    if redemption is not None:
        send = sends["code"].get((redemption.shopper_id, redemption.code)) or sends["code"].get((row["shopper_id"], redemption.code))
        return Credit(
            **base,
            channel=OFFER,
            touched_at=redemption.created_at,
            campaign_id=redemption.campaign_id,
            arm=sends["arm"].get((redemption.campaign_id, redemption.shopper_id), ""),
            offer_id=redemption.offer_id,
            code=redemption.code,
            send_id=send.pk if send and redemption.campaign_id is None else None,
            flow_id=send.flow_id if send and redemption.campaign_id is None else None,
            step_id=send.step_id if send and redemption.campaign_id is None else None,
        )
    email = sends["id"].get(row["email_id"])
    if email is not None and (click is None or email.clicked_at >= click.created_at):
        return Credit(
            **base, channel=EMAIL, touched_at=email.clicked_at, send_id=email.pk, flow_id=email.flow_id, step_id=email.step_id
        )
    if click is None:
        return None
    context = click.context or {}
    if click.kind == EventKind.CAMPAIGN_CLICK:
        return Credit(
            **base,
            channel=CAMPAIGN,
            touched_at=click.created_at,
            campaign_id=_int(context.get("campaign")),
            arm=str(context.get("arm") or ""),
        )
    return Credit(
        **base,
        channel=RECOMMENDATION,
        touched_at=click.created_at,
        placement=str(context.get("placement") or ""),
        model_version=str(context.get("model_version") or ""),
        variant=str(context.get("variant") or ""),
    )


def _arms(redemptions: dict[int, Redemption]) -> dict[tuple[int, int], str]:
    """(campaign, shopper) -> arm for the campaigns that issued redeemed codes (one query)."""
    pairs = {(r.campaign_id, r.shopper_id) for r in redemptions.values() if r.campaign_id and r.shopper_id}
    if not pairs:
        return {}
    rows = CampaignAssignment.objects.filter(
        campaign_id__in={c for c, _s in pairs}, shopper_id__in={s for _c, s in pairs}
    ).values_list("campaign_id", "shopper_id", "arm")
    return {(c, s): arm for c, s, arm in rows if (c, s) in pairs}


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def credit(purchase: Event) -> Credit | None:
    """The credit for one purchase event (``None``: organic)."""
    return credits(Event.objects.filter(pk=purchase.pk)).get(purchase.pk)


def credit_for_order(order_ref: str) -> Credit | None:
    """The credit of the (latest) purchase event with ``order_ref``."""
    purchase = Event.objects.filter(kind=EventKind.PURCHASE, order_ref=str(order_ref)[:64]).order_by("-created_at").first()
    return credit(purchase) if purchase is not None else None


def in_period(since: datetime, until: datetime | None = None) -> QuerySet[Event]:
    """Purchase events in ``[since, until)``: what a report credits."""
    purchases = Event.objects.filter(kind=EventKind.PURCHASE, created_at__gte=since)
    return purchases.filter(created_at__lt=until) if until is not None else purchases


def totals(found: Iterable[Credit], key) -> dict:
    """``key(credit) -> {"orders": n, "revenue": Decimal}`` over credits (``key`` None: skipped)."""
    out: dict = {}
    for item in found:
        name = key(item)
        if name is None:
            continue
        acc = out.setdefault(name, {"orders": 0, "revenue": Decimal("0")})
        acc["orders"] += 1
        acc["revenue"] += item.value
    return out


def campaign_of(item: Credit) -> int | None:
    """The campaign an order is credited to (its redeemed offer's campaign, or its clicked link)."""
    return item.campaign_id if item.channel in (OFFER, CAMPAIGN) else None


def step_of(item: Credit) -> int | None:
    """The email step an order is credited to (its clicked link, or the code the email carried)."""
    return item.step_id if item.channel in (OFFER, EMAIL) else None
