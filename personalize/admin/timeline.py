""""Why did this shopper see that?": a shopper's decisions as one timeline for the admin.

Everything personalize stored about the shopper, newest first: events (with the list a click came
from: placement, model version, variant), lists shown, segments joined, campaigns shown or
suppressed (holdout, control group), offer codes issued and redeemed, on-site and email contacts
(the fatigue cap), and lifecycle emails sent or skipped with the reason. Bounded: the latest
``LIMIT`` entries of each kind, a handful of queries whatever the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from personalize.admin.widgets import money
from personalize.attribution import credits
from personalize.holdout import in_holdout
from personalize.models import (
    CampaignAssignment,
    Contact,
    EmailSend,
    Event,
    EventKind,
    OfferCode,
    Redemption,
    SegmentMembership,
    Shopper,
)

LIMIT = 60


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # event, list, segment, campaign, suppressed, offer, email, contact, credit
    title: str
    detail: str = ""


def _event_entry(event: Event) -> Entry:
    context = event.context or {}
    where = " · ".join(
        str(part)
        for part in (
            context.get("placement"),
            _("model %(v)s") % {"v": context["model_version"]} if context.get("model_version") else "",
            _("variant %(v)s") % {"v": context["variant"]} if context.get("variant") else "",
        )
        if part
    )
    if event.kind == EventKind.IMPRESSION:
        return Entry(event.created_at, "list", _("List shown: product %(p)s") % {"p": event.product_key}, where)
    if event.kind == EventKind.REC_CLICK:
        return Entry(event.created_at, "event", _("Clicked recommended product %(p)s") % {"p": event.product_key}, where)
    if event.kind == EventKind.CAMPAIGN_CLICK:
        return Entry(event.created_at, "event", _("Clicked campaign #%(c)s") % {"c": context.get("campaign")}, _("arm %(a)s") % {"a": context.get("arm", "")})
    if event.kind == EventKind.PURCHASE:
        return Entry(event.created_at, "event", _("Purchase %(ref)s: %(value)s") % {"ref": event.order_ref or "—", "value": money(event.value)}, "")
    label = EventKind(event.kind).label if event.kind in EventKind.values else event.kind
    subject = event.product_key or event.query or context.get("category", "")
    return Entry(event.created_at, "event", f"{label} {subject}".strip(), "")


def timeline(shopper: Shopper, limit: int = LIMIT) -> list[Entry]:
    """The shopper's decisions and events, newest first."""
    entries: list[Entry] = []
    events = list(Event.objects.filter(shopper=shopper).order_by("-created_at", "-pk")[:limit])
    entries += [_event_entry(e) for e in events]
    purchases = Event.objects.filter(pk__in=[e.pk for e in events if e.kind == EventKind.PURCHASE])
    for credit in credits(purchases).values():
        entries.append(
            Entry(credit.purchased_at, "credit", _("Order %(ref)s credited to: %(channel)s") % {"ref": credit.order_ref, "channel": credit.channel_label},
                  _credit_detail(credit))
        )
    for m in SegmentMembership.objects.filter(shopper=shopper).select_related("segment").order_by("-since")[:limit]:
        entries.append(Entry(m.since, "segment", _("Joined segment “%(name)s”") % {"name": m.segment.name}, ""))
    for a in CampaignAssignment.objects.filter(shopper=shopper).select_related("campaign").order_by("-last_seen")[:limit]:
        if a.is_control:
            entries.append(Entry(a.first_seen, "suppressed", _("Campaign “%(name)s” not shown: control group") % {"name": a.campaign.name},
                                 _("the control sees the page's default, so the campaign's lift can be measured")))
        else:
            entries.append(Entry(a.first_seen, "campaign", _("Campaign “%(name)s” shown (variant %(arm)s)") % {"name": a.campaign.name, "arm": a.arm},
                                 _("%(i)d impressions, %(c)d clicks, last %(last)s") % {"i": a.impressions, "c": a.clicks, "last": a.last_seen.strftime("%Y-%m-%d %H:%M")}))
    for code in OfferCode.objects.filter(shopper=shopper).select_related("offer").order_by("-created_at")[:limit]:
        entries.append(Entry(code.created_at, "offer", _("Code %(code)s issued (%(offer)s)") % {"code": code.code, "offer": code.offer.name}, code.source))
    for r in Redemption.objects.filter(shopper=shopper).select_related("offer").order_by("-created_at")[:limit]:
        entries.append(Entry(r.created_at, "offer", _("Code %(code)s redeemed on order %(ref)s") % {"code": r.code or r.offer.name, "ref": r.order_ref}, ""))
    for c in Contact.objects.filter(shopper=shopper).order_by("-created_at")[:limit]:
        entries.append(Entry(c.created_at, "contact", _("Contact counted for the fatigue cap (%(channel)s)") % {"channel": c.get_channel_display()}, c.source))
    for s in EmailSend.objects.filter(shopper=shopper).select_related("flow").order_by("-created_at")[:limit]:
        title = _("Email “%(flow)s”: %(status)s") % {"flow": s.flow.name, "status": s.get_status_display()}
        entries.append(Entry(s.sent_at or s.created_at, "email" if s.status == EmailSend.Status.SENT else "suppressed", title, s.error or s.subject))
    if in_holdout(shopper):
        entries.append(Entry(shopper.first_seen, "suppressed", _("In the store-wide holdout"),
                             _("neutral lists, no campaigns, no lifecycle emails: the baseline the impact page compares with")))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _credit_detail(credit: Any) -> str:
    if credit.campaign_id:
        return _("campaign #%(c)s") % {"c": credit.campaign_id}
    if credit.placement:
        return " · ".join(p for p in (credit.placement, credit.model_version, credit.variant) if p)
    if credit.flow_id:
        return _("email flow #%(f)s") % {"f": credit.flow_id}
    return ""
