"""Rules about the shopper and the visit: visits, account, country, device, referrer, UTM, time."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from personalize.segments.context import SegmentContext

logger = logging.getLogger("personalize")

from personalize.segments.rules.base import (
    DaysRangeParams,
    ListField,
    MultipleChoiceListField,
    QueryEnv,
    RangeParams,
    Rule,
    _in_range,
    _range_text,
)


# --- visits ---------------------------------------------------------------------------------
class VisitStateRule(Rule):
    kind = "visit_state"
    label = _("First visit or returning")
    event_kinds = frozenset()

    class Params(forms.Form):
        state = forms.ChoiceField(label=_("state"), choices=[("first", _("first visit")), ("returning", _("returning"))])

    def matches(self, ctx: SegmentContext) -> bool:
        first = ctx.visits <= 1
        return first if self.params["state"] == "first" else not first

    def q(self, env: QueryEnv) -> Q:
        return Q(visits__lte=1) if self.params["state"] == "first" else Q(visits__gt=1)

    def describe(self) -> str:
        return gettext("First visit") if self.params["state"] == "first" else gettext("Returning shopper")


class VisitCountRule(Rule):
    kind = "visits"
    label = _("Number of visits")
    event_kinds = frozenset()
    Params = RangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        return _in_range(ctx.visits, self.params)

    def q(self, env: QueryEnv) -> Q:
        q = Q()
        if self.params.get("min") is not None:
            q &= Q(visits__gte=self.params["min"])
        if self.params.get("max") is not None:
            q &= Q(visits__lte=self.params["max"])
        return q

    def describe(self) -> str:
        return gettext("Visits: %(range)s") % {"range": _range_text(self.params)}


class DaysSinceLastVisitRule(Rule):
    """Days since the shopper was last seen (before this request: ``last_seen`` is updated
    after the response)."""

    kind = "days_since_last_visit"
    label = _("Days since last visit")
    description = _("Days since the shopper’s previous visit.")
    event_kinds = frozenset()
    Params = DaysRangeParams

    def matches(self, ctx: SegmentContext) -> bool:
        shopper = ctx.shopper
        if shopper is None or shopper.pk is None:
            return _in_range(0, self.params)
        return _in_range((ctx.now - shopper.last_seen).days, self.params)

    def q(self, env: QueryEnv) -> Q:
        # days = floor((now - last_seen) / 1 day): days >= n  <=>  last_seen <= now - n days
        q = Q()
        if self.params.get("min") is not None:
            q &= Q(last_seen__lte=env.now - timedelta(days=self.params["min"]))
        if self.params.get("max") is not None:
            q &= Q(last_seen__gt=env.now - timedelta(days=self.params["max"] + 1))
        return q

    def describe(self) -> str:
        return gettext("Days since last visit: %(range)s") % {"range": _range_text(self.params)}


# --- who and where --------------------------------------------------------------------------
class LoggedInRule(Rule):
    kind = "logged_in"
    label = _("Logged in or anonymous")
    event_kinds = frozenset()

    class Params(forms.Form):
        state = forms.ChoiceField(label=_("state"), choices=[("logged_in", _("logged in")), ("anonymous", _("anonymous"))])

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.is_authenticated == (self.params["state"] == "logged_in")

    def q(self, env: QueryEnv) -> Q:
        return Q(user__isnull=self.params["state"] != "logged_in")

    def describe(self) -> str:
        return gettext("Logged in") if self.params["state"] == "logged_in" else gettext("Anonymous")


class CountryRule(Rule):
    """The shopper's country (CDN header or GeoIP2, Accept-Language's region as a fallback)."""

    kind = "country"
    label = _("Country")
    description = _("The shopper’s country, from the CDN or GeoIP, else the region of the browser’s language.")
    event_kinds = frozenset()

    class Params(forms.Form):
        countries = ListField(
            label=_("country codes"), upper=True, help_text=_("Two-letter codes (ISO 3166), comma-separated: DE, AT, CH.")
        )

        def clean_countries(self) -> list[str]:
            codes = self.cleaned_data["countries"]
            bad = [code for code in codes if len(code) != 2 or not code.isalpha()]
            if bad:
                raise ValidationError(_("Use two-letter country codes (ISO 3166): %(bad)s") % {"bad": ", ".join(bad)})
            return codes

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.country in self.params["countries"]

    def q(self, env: QueryEnv) -> Q:
        return Q(country__in=self.params["countries"])

    def describe(self) -> str:
        return gettext("Country is %(countries)s") % {"countries": ", ".join(self.params["countries"])}


DEVICES = [("mobile", _("mobile")), ("tablet", _("tablet")), ("desktop", _("desktop"))]


class DeviceRule(Rule):
    kind = "device"
    label = _("Device type")
    event_kinds = frozenset()

    class Params(forms.Form):
        devices = MultipleChoiceListField(label=_("devices"), choices=DEVICES)

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.device in self.params["devices"]

    def q(self, env: QueryEnv) -> Q:
        return Q(device__in=self.params["devices"])

    def describe(self) -> str:
        labels = dict(DEVICES)
        return gettext("Device is %(devices)s") % {"devices": ", ".join(str(labels[d]) for d in self.params["devices"])}


# --- the visit (per request only) -----------------------------------------------------------
class ReferrerRule(Rule):
    """The visit came from a domain (or a subdomain of it)."""

    kind = "referrer"
    label = _("Referrer domain")
    description = _("The visit came from one of these domains or their subdomains.")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        domains = ListField(
            label=_("domains"), lower=True, help_text=_("Comma-separated; a domain covers its subdomains: google.com, bing.com.")
        )

    def matches(self, ctx: SegmentContext) -> bool:
        host = (ctx.visit.get("referrer") or "").lower()
        return bool(host) and any(host == d or host.endswith("." + d) for d in self.params["domains"])

    def describe(self) -> str:
        return gettext("Came from %(domains)s") % {"domains": ", ".join(self.params["domains"])}


UTM_FIELDS = [("source", "utm_source"), ("medium", "utm_medium"), ("campaign", "utm_campaign")]


class UTMRule(Rule):
    """The visit's UTM source, medium or campaign is one of the values (case-insensitive)."""

    kind = "utm"
    label = _("UTM source, medium or campaign")
    description = _("The visit’s utm_source, utm_medium or utm_campaign is one of the values (in upper or lower case).")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        field = forms.ChoiceField(label=_("parameter"), choices=UTM_FIELDS)
        values = ListField(label=_("values"), lower=True)

    def matches(self, ctx: SegmentContext) -> bool:
        value = str(ctx.visit.get(f"utm_{self.params['field']}") or "").lower()
        return bool(value) and value in self.params["values"]

    def describe(self) -> str:
        return gettext("utm_%(field)s is %(values)s") % {"field": self.params["field"], "values": ", ".join(self.params["values"])}


WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]


class WeekdayRule(Rule):
    """Day of the week in the store's time zone (``STORE_TIME_ZONE``)."""

    kind = "weekday"
    label = _("Day of week")
    description = _("The day of the week in the store’s time zone.")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        days = MultipleChoiceListField(label=_("days"), choices=WEEKDAYS)

    def matches(self, ctx: SegmentContext) -> bool:
        return str(ctx.now.weekday()) in self.params["days"]

    def describe(self) -> str:
        labels = dict(WEEKDAYS)
        return gettext("Day is %(days)s") % {"days": ", ".join(str(labels[d]) for d in self.params["days"])}


class HourRule(Rule):
    """Hour of day in the store's time zone: from ``start`` (included) to ``end`` (excluded);
    ``start`` > ``end`` wraps past midnight (22 to 6 is the night)."""

    kind = "hour"
    label = _("Hour of day")
    description = _("The hour of day in the store’s time zone, from the first hour up to (not including) the second; 22 to 6 is the night.")
    event_kinds = frozenset()
    live_only = True

    class Params(forms.Form):
        start = forms.IntegerField(label=_("from hour"), min_value=0, max_value=23)
        end = forms.IntegerField(label=_("to hour"), min_value=0, max_value=24)

        def clean(self) -> dict[str, Any]:
            data = super().clean()
            if data.get("start") is not None and data.get("start") == data.get("end"):
                raise ValidationError({"end": _("The range is empty: start and end are the same hour.")})
            return data

    def matches(self, ctx: SegmentContext) -> bool:
        hour, start, end = ctx.now.hour, self.params["start"], self.params["end"]
        return start <= hour < end if start < end else (hour >= start or hour < end)

    def describe(self) -> str:
        return gettext("Between %(start)s:00 and %(end)s:00") % self.params
