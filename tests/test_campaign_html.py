"""Campaign content and the greeting: HTML that names no shopper is rendered once per process.

Anything of one shopper in it (a signed-in account, their own unique code, a countdown from
their first view) renders every time; an edit of the campaign makes new HTML at once.
"""

from __future__ import annotations

import pytest
from django.template import Context, Template

from personalize import exposures, signing
from personalize.caching import rendered
from personalize.offers.codes import issue_code
from personalize.models import CampaignAssignment, CampaignContent, Shopper
from personalize.widgets.campaigns import click_url
from tests import factories

pytestmark = pytest.mark.django_db

CAMPAIGN = '{% load personalize %}{% personalized_content "home_banner" %}'
GREETING = "{% load personalize %}{% greeting %}"


@pytest.fixture(autouse=True)
def _layer_on(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5, "WIDGET_HTML_CACHE": True}
    rendered.clear()


@pytest.fixture
def renders(monkeypatch):
    """The widget templates rendered from now on (names)."""
    names: list[str] = []
    original = Template.render
    monkeypatch.setattr(Template, "render", lambda self, context: names.append(self.name) or original(self, context))
    return names


def _render(source: str, req) -> str:
    return Template(source).render(Context({"request": req}))


def _campaign_templates(names: list[str]) -> list[str]:
    return [n for n in names if n and n.startswith("personalize/widgets/campaign")]


def test_content_naming_no_shopper_is_rendered_once_and_every_impression_still_counts(renders):
    campaign = factories.campaign(headline="Spring sale", contents=[
        {"variant": "A", "language": "en", "headline": "Spring sale", "link": "/sale/"}])
    first_shopper, second_shopper = Shopper.objects.create(), Shopper.objects.create()
    first = _render(CAMPAIGN, factories.shopper_request(first_shopper))
    assert "Spring sale" in first and _campaign_templates(renders)
    renders.clear()
    second = _render(CAMPAIGN, factories.shopper_request(second_shopper))
    assert second == first
    assert not _campaign_templates(renders)  # held: not rendered again
    exposures.flush()
    counted = CampaignAssignment.objects.filter(campaign=campaign)
    assert sorted(counted.values_list("shopper_id", "impressions")) == [(first_shopper.pk, 1), (second_shopper.pk, 1)]


def test_an_edit_of_the_campaign_shows_at_once():
    campaign = factories.campaign(headline="Old words")
    assert "Old words" in _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create()))
    content = CampaignContent.objects.get(campaign=campaign)
    content.headline = "New words"
    content.save()
    html = _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create()))
    assert "New words" in html and "Old words" not in html


def test_a_signed_in_shopper_s_content_is_rendered_every_time(renders):
    factories.campaign(headline="Members only")
    user = factories.user(first_name="Ana")
    member = Shopper.objects.create(user=user)
    for _ in range(2):
        renders.clear()
        assert "Members only" in _render(CAMPAIGN, factories.shopper_request(member, user_obj=user))
        assert _campaign_templates(renders)


def test_a_countdown_is_rendered_for_each_shopper(renders):
    offer = factories.offer(code_mode="unique", code="")
    factories.campaign(headline="Hurry", offer=offer, personal_minutes=30, show_countdown=True)
    for _ in range(2):
        renders.clear()
        assert "data-personalize-countdown=" in _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create()))
        assert _campaign_templates(renders)


def test_one_shopper_s_unique_code_never_reaches_another():
    offer = factories.offer(code_mode="unique", code="", code_prefix="MINE")
    factories.campaign(offer=offer, contents=[{"variant": "A", "headline": "Hello", "text": "Yours: {code}"}])
    owner = Shopper.objects.create()
    request = factories.shopper_request(owner)
    code = issue_code(offer, owner, session=request.session)
    for _ in range(2):
        assert code in _render(CAMPAIGN, request)
        other = _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create()))
        assert code not in other and "data-personalize-reveal" in other


def test_the_greeting_of_anonymous_shoppers_is_held_and_a_signed_in_one_is_not(renders):
    new = _render(GREETING, factories.request())
    assert 'data-greeting="new"' in new
    renders.clear()
    assert _render(GREETING, factories.request()) == new
    assert "personalize/widgets/greeting.html" not in renders
    user = factories.user(first_name="Ana")
    member = Shopper.objects.create(user=user, visits=3)
    for name in ("Ana", "Bo"):
        user.first_name = name
        renders.clear()
        html = _render(GREETING, factories.shopper_request(member, user_obj=user))
        assert f"Welcome back, {name}!" in html and "personalize/widgets/greeting.html" in renders


def test_a_shared_token_is_reused_and_renewed_with_the_secret(settings):
    first = signing.sign_shared("campaign_click", [1, "A", "/sale/"])
    assert signing.sign_shared("campaign_click", [1, "A", "/sale/"]) == first
    assert signing.unsign("campaign_click", first) == [1, "A", "/sale/"]
    assert signing.sign_shared("campaign_click", [1, "B", "/sale/"]) != first
    assert click_url(1, "A", "/sale/") == click_url(1, "A", "/sale/")
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    renewed = signing.sign_shared("campaign_click", [1, "A", "/sale/"])
    assert renewed != first and signing.unsign("campaign_click", renewed) == [1, "A", "/sale/"]


def test_a_placement_with_nothing_to_show_renders_its_empty_template_once(renders):
    assert _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create())).strip() == ""
    renders.clear()
    assert _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create())).strip() == ""
    assert not _campaign_templates(renders)
    factories.campaign(headline="Now live")  # a new campaign: its content at once
    assert "Now live" in _render(CAMPAIGN, factories.shopper_request(Shopper.objects.create()))
