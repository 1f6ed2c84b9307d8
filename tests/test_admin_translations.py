"""Marketer text per language in the admin: one box per store language (never a JSON blob, never a
language the store does not offer), the default language first and preselected."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from personalize.admin.translations import TranslationsField, store_languages
from personalize.emails.defaults import ABANDONED_SLUG, WINBACK_SLUG, ensure_default_flows
from personalize.models import Campaign, Flow, Step

pytestmark = pytest.mark.django_db

STORE = [("en", "English"), ("pl", "Polish"), ("sr", "Serbian"), ("sr-latn", "Serbian (Latin)"), ("pt", "Portuguese")]


def flow_post_data(flow: Flow, **step_changes: dict) -> dict:
    """The flow change form as the admin would post it, with ``{position: {field: value}}`` changes."""
    steps = list(flow.steps.order_by("position"))
    data = {
        "name": flow.name, "slug": flow.slug, "kind": flow.kind, "active": "on",
        "created_at_0": flow.created_at.strftime("%Y-%m-%d"), "created_at_1": flow.created_at.strftime("%H:%M:%S"),
        "steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
    }
    for i, step in enumerate(steps):
        amount, unit = {3600: (1, "hours"), 86400: (1, "days")}.get(int(step.delay.total_seconds()), (int(step.delay.total_seconds() // 3600), "hours"))
        data.update({
            f"steps-{i}-id": str(step.pk), f"steps-{i}-flow": str(flow.pk), f"steps-{i}-position": str(step.position),
            f"steps-{i}-delay_0": str(amount), f"steps-{i}-delay_1": unit, f"steps-{i}-active": "on",
            f"steps-{i}-subject": step.subject, f"steps-{i}-template": step.template,
            f"steps-{i}-offer": str(step.offer_id or ""),
        })
        for code, _name in store_languages():
            data[f"steps-{i}-subject_translations_{code}"] = (step.subject_translations or {}).get(code, "")
        data.update({f"steps-{i}-{k}": v for k, v in step_changes.get(str(step.position), {}).items()})
    return data


def test_step_subjects_are_one_box_per_store_language_not_json(admin_client, settings):
    settings.LANGUAGES = STORE
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    html = admin_client.get(reverse("admin:personalize_flow_change", args=[flow.pk])).content.decode()
    boxes = re.findall(r'name="steps-0-subject_translations_([a-z-]+)"', html)
    assert boxes == ["pl", "sr", "sr-latn", "pt"]  # the store's languages; English is the subject itself
    assert not re.search(r'<textarea name="steps-0-subject_translations"', html)  # was a JSON text area
    assert "Subject (English, the default language)" in html
    # An empty box shows what the catalogue sends instead.
    assert 'placeholder="Coś zostało w Twoim koszyku"' in html


def test_saving_per_language_subjects_stores_the_json_and_keeps_hidden_languages(admin_client, settings):
    settings.LANGUAGES = STORE
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    step = flow.steps.get(position=1)
    step.subject_translations = {"fr": "Votre panier", "pl": "Stary"}
    step.save()
    data = flow_post_data(flow, **{"1": {"subject_translations_pl": "Twój koszyk czeka", "subject_translations_pt": "  ", "subject_translations_sr-latn": "Vaša korpa"}})
    response = admin_client.post(reverse("admin:personalize_flow_change", args=[flow.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    step.refresh_from_db()
    assert step.subject_translations == {"fr": "Votre panier", "pl": "Twój koszyk czeka", "sr-latn": "Vaša korpa"}
    assert step.subject_for("sr-latn") == "Vaša korpa" and step.subject_for("pl") == "Twój koszyk czeka"


def test_the_default_language_comes_first_and_only_store_languages_appear(settings):
    settings.LANGUAGES = [("pl", "Polish"), ("nl", "Dutch"), ("pt", "Portuguese")]
    settings.LANGUAGE_CODE = "pt"
    assert [code for code, _name in store_languages()] == ["pt", "pl", "nl"]
    field = TranslationsField()
    assert field.clean(["Olá", "", " Hallo "]) == {"pt": "Olá", "nl": "Hallo"}
    assert field.widget.decompress({"nl": "Hallo", "fr": "Bonjour"}) == ["", "", "Hallo"]


def test_default_flows_carry_subjects_only_in_the_store_languages(settings):
    settings.LANGUAGES = [("en", "English"), ("pl", "Polish"), ("pt-br", "Brazilian Portuguese")]
    Flow.objects.all().delete()
    ensure_default_flows()
    winback = Step.objects.get(flow__slug=WINBACK_SLUG)
    assert set(winback.subject_translations) == {"pl", "pt"}  # no fr/de/es: the store does not offer them
    assert not any(set(s.subject_translations) & {"fr", "de", "es"} for s in Step.objects.all())


def test_a_sr_latn_shopper_never_gets_the_cyrillic_subject():
    step = Step(subject="We miss you: 15% off your next order", subject_translations={"sr": "Недостајете нам", "pt": "Temos saudades"})
    assert step.subject_for("sr") == "Недостајете нам"
    assert step.subject_for("sr-latn") == "Nedostajete nam: 15% popusta na sledeću porudžbinu"  # the Latin catalogue
    assert step.subject_for("pt-br") == "Temos saudades"


def test_campaign_form_preselects_the_default_language(admin_client, settings):
    settings.LANGUAGES = STORE
    settings.LANGUAGE_CODE = "pl"
    html = admin_client.get(reverse("admin:personalize_campaign_add")).content.decode()
    default_select = re.search(r'<select name="default_language".*?</select>', html, re.S).group(0)
    content_select = re.search(r'<select name="contents-0-language".*?</select>', html, re.S).group(0)
    for select in (default_select, content_select):
        assert '<option value="pl" selected>' in select
        assert "af" not in re.findall(r'<option value="([^"]+)"', select)


def campaign_post(languages: list[str], filled: dict[str, str]) -> dict:
    """A new campaign as the add form posts it: one content form per language, ``filled`` typed in."""
    data = {
        "name": "Spring", "placement": "home_banner", "is_active": "on", "priority": "0", "default_language": "en",
        "starts_at_0": "2026-05-01", "starts_at_1": "10:00:00", "personal_minutes": "0", "min_product_views": "0",
        "frequency_cap": "0", "frequency_hours": "24", "control_percent": "0",
        "contents-TOTAL_FORMS": str(len(languages)), "contents-INITIAL_FORMS": "0", "contents-MIN_NUM_FORMS": "1",
        "contents-MAX_NUM_FORMS": "1000",
        "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0", "variants-MAX_NUM_FORMS": "1000",
    }
    for i, code in enumerate(languages):
        data.update({f"contents-{i}-variant": "A", f"contents-{i}-language": code, f"contents-{i}-headline": filled.get(code, "")})
    return data


def test_a_new_campaign_offers_one_content_form_per_store_language_default_first(admin_client, settings):
    settings.LANGUAGES = STORE
    html = admin_client.get(reverse("admin:personalize_campaign_add")).content.decode()
    chosen = [re.search(r'<option value="([^"]+)" selected>', select).group(1)
              for select in re.findall(r'<select name="contents-\d+-language".*?</select>', html, re.S)]
    assert chosen == ["en", "pl", "sr", "sr-latn", "pt"]


def test_untouched_language_forms_are_not_saved_and_filled_ones_are(admin_client, settings):
    settings.LANGUAGES = STORE
    languages = ["en", "pl", "sr", "sr-latn", "pt"]
    response = admin_client.post(reverse("admin:personalize_campaign_add"), campaign_post(languages, {"en": "Spring sale", "pl": "Wiosenna wyprzedaż"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert dict(campaign.contents.values_list("language", "headline")) == {"en": "Spring sale", "pl": "Wiosenna wyprzedaż"}
    # Its page then offers the languages still missing, after the saved ones.
    html = admin_client.get(reverse("admin:personalize_campaign_change", args=[campaign.pk])).content.decode()
    chosen = [re.search(r'<option value="([^"]+)" selected>', select).group(1)
              for select in re.findall(r'<select name="contents-\d+-language".*?</select>', html, re.S)]
    assert sorted(chosen[:2]) == ["en", "pl"] and chosen[2:] == ["sr", "sr-latn", "pt"]


def test_the_default_language_form_is_required(admin_client, settings):
    settings.LANGUAGES = STORE
    response = admin_client.post(reverse("admin:personalize_campaign_add"), campaign_post(["en", "pl"], {"pl": "Tylko po polsku"}))
    assert response.status_code == 200 and not Campaign.objects.exists()
