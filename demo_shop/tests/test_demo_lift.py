"""The demo proves the lift: after load_demo_data, the impact page and the first-visit campaign's
results show a positive lift whose interval excludes zero, and the recommendation report has CTR
per placement and model version. Uses the demo's own simulation at a size that keeps it quick."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from personalize.models import Campaign, Redemption

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 10}
    call_command("load_demo_data", products=80, shoppers=3000, no_images=True, stdout=open("/dev/null", "w"))


def test_impact_campaign_results_and_recommendation_report_on_demo_data(demo, admin_client):
    impact = admin_client.get(reverse("admin:personalize_campaign_impact") + "?days=90")
    assert impact.status_code == 200 and not impact.context["missing"]
    lift = impact.context["lift"]
    assert lift is not None and lift["revenue_low"] > 0, lift  # the whole interval above zero
    assert 'id="impact-chart"' in impact.content.decode()

    campaign = Campaign.objects.get(name="First visit: 10% off")
    page = admin_client.get(reverse("admin:personalize_campaign_change", args=[campaign.pk]))
    assert not page.context["result_missing"]
    lifts = page.context["result_lifts"]
    assert lifts and all(c["revenue_low"] > 0 for c in lifts), lifts
    assert page.context["result_credited"]["by_code"] == Redemption.objects.filter(campaign=campaign).count() > 0
    control = next(r for r in page.context["result_rows"] if r["arm"] == "control")
    assert control["shoppers"] > 50 and control["impressions"] == 0  # the control saw nothing

    # Recommendation report (same data, one load: it takes ~30 s): CTR per placement and model version.
    rows = admin_client.get(reverse("admin:personalize_recommendationreport_changelist") + "?days=90").context["rows"]
    by_version = {(r.placement, r.model_version): r for r in rows if r.impressions}
    assert {("for_you", "demo-1"), ("for_you", "demo-2")} <= set(by_version)
    assert by_version[("for_you", "demo-2")].ctr > by_version[("for_you", "demo-1")].ctr > 0
