"""Export, erasure, suppression, retention (docs/privacy.md): everything held about a person."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import models
from django.test import override_settings
from django.utils import timezone

from personalize.models import (
    Cart,
    CampaignAssignment,
    CampaignConversion,
    Contact,
    EmailSend,
    EmailSuppression,
    ErasureRecord,
    Event,
    Flow,
    OfferCode,
    Redemption,
    SegmentMembership,
    Shopper,
    Unsubscribe,
)
from personalize.emails import suppression
from personalize.privacy.erasure import erase
from personalize.privacy.exporting import export_data, to_json
from personalize.privacy.holdings import HOLDINGS, NOT_PERSONAL
from personalize.privacy.retention import purge
from tests import factories

pytestmark = pytest.mark.django_db

EMAIL = "ana@example.com"


def personal_fields(model: type[models.Model]) -> list[str]:
    """Fields pointing at a shopper or an account, or holding an address."""
    user_model = get_user_model()
    found = []
    for field in model._meta.get_fields():
        related = getattr(field, "related_model", None)
        if field.concrete and related in (Shopper, user_model):
            found.append(field.name)
        elif isinstance(field, models.EmailField) or (field.concrete and "email" in field.name and field.get_internal_type() == "CharField"):
            found.append(field.name)
    return found


def test_every_personalize_model_is_covered_by_erasure():
    """A model added without erasure support fails here: list it in privacy/holdings.py."""
    held = {holding.label for holding in HOLDINGS}
    unclassified, personal_but_skipped = [], []
    for model in apps.get_app_config("personalize").get_models():
        if model._meta.proxy:
            continue
        label = model._meta.label
        if label not in held and label not in NOT_PERSONAL:
            unclassified.append(label)
        if label in NOT_PERSONAL and personal_fields(model):
            personal_but_skipped.append(f"{label} ({', '.join(personal_fields(model))})")
    assert not unclassified, f"classify in personalize/privacy/holdings.py: {unclassified}"
    assert not personal_but_skipped, f"these hold personal data but are not erased: {personal_but_skipped}"
    for holding in HOLDINGS:  # every holding names a real field
        model = holding.model
        if holding.shopper_field not in (None, "pk"):
            assert model._meta.get_field(holding.shopper_field).related_model is Shopper
        if holding.email_field:
            model._meta.get_field(holding.email_field)


def build_person():
    """An account with a merged browser profile and a guest profile with the same address, with a
    row in every model that holds personal data."""
    user = factories.user(email=EMAIL)
    account = Shopper.objects.create(user=user, email_consent=True)
    browser = Shopper.objects.create()
    browser.merged_into = account
    browser.save()
    guest = Shopper.objects.create(email=EMAIL.upper(), email_consent=True)
    product = factories.product()
    purchase = Event.objects.create(shopper=account, kind="purchase", value=Decimal("20"), order_ref="O-1")
    Event.objects.create(shopper=browser, kind="view", product_key=str(product.pk))
    Event.objects.create(shopper=guest, kind="search", query="red boots")
    Cart.objects.create(shopper=guest, lines=[{"product": str(product.pk), "quantity": 1, "price": "10"}])
    Contact.objects.create(shopper=account, channel="email", source="test")
    offer = factories.offer(code_mode="unique", code="")
    OfferCode.objects.create(offer=offer, code=f"U-{uuid.uuid4().hex[:8]}", shopper=account)
    Redemption.objects.create(offer=offer, code="U-1", shopper=account, order_ref="O-1", discount=Decimal("2"))
    flow = Flow.objects.filter(steps__isnull=False).first()
    EmailSend.objects.create(flow=flow, step=flow.steps.first(), shopper=guest, cycle="cart:1", email=EMAIL, status="sent")
    Unsubscribe.objects.create(email=EMAIL, source="link")
    campaign = factories.campaign()
    CampaignAssignment.objects.create(campaign=campaign, shopper=account, arm="A")
    CampaignConversion.objects.create(campaign=campaign, arm="A", shopper=account, event=purchase, value=Decimal("20"))
    SegmentMembership.objects.create(segment=factories.segment("vip"), shopper=account)
    return user, account, browser, guest


def someone_else():
    other = Shopper.objects.create(email="bob@example.com", email_consent=True)
    Event.objects.create(shopper=other, kind="search", query="hats")
    Cart.objects.create(shopper=other, lines=[])
    return other


def test_export_then_erase_round_trip():
    user, account, browser, guest = build_person()
    other = someone_else()
    document = json.loads(to_json(export_data(email=EMAIL)))
    assert document["format"].startswith("django-personalize/personal-data/")
    for holding in HOLDINGS:  # the fixture must exercise every model holding personal data
        assert document["data"][holding.label], f"no {holding.label} row exported"
    profile_ids = {row["id"] for row in document["data"]["personalize.Shopper"]}
    assert profile_ids == {account.pk, browser.pk, guest.pk}
    assert "hats" not in json.dumps(document)
    assert {row["query"] for row in document["data"]["personalize.Event"]} >= {"red boots"}

    result = erase(user=user)
    assert result.profiles == 3
    for holding in HOLDINGS:
        rows = holding.rows({account.pk, browser.pk, guest.pk}, {EMAIL})
        if holding.anonymise:
            continue
        assert not rows.exists(), f"{holding.label} rows left after erasure"
    redemption = Redemption.objects.get()
    assert (redemption.shopper_id, redemption.code, redemption.order_ref) == (None, "", "")
    assert redemption.discount == Decimal("2")  # the store's accounts keep the amount
    # Someone else is untouched.
    assert Shopper.objects.filter(pk=other.pk).exists() and Event.objects.filter(shopper=other).count() == 1
    # The account itself is the store's: left alone.
    assert get_user_model().objects.filter(pk=user.pk).exists()
    # The audit row: counts, no personal data.
    record = ErasureRecord.objects.get()
    assert record.counts["personalize.Event"] == 3 and record.profiles == 3
    dumped = json.dumps({f.attname: str(getattr(record, f.attname)) for f in record._meta.concrete_fields})
    for secret in (EMAIL, str(account.key), str(guest.key), user.username, "red boots"):
        assert secret.lower() not in dumped.lower()
    # An unsubscribe outlives the data as a suppression entry.
    assert record.suppressed and suppression.is_suppressed(EMAIL)
    assert EMAIL not in "".join(EmailSuppression.objects.values_list("digest", flat=True))
    # Nothing left to export.
    after = export_data(email=EMAIL)
    assert not any(after["data"].values())


def test_erasing_one_browser_profile_reaches_its_merge_group():
    user, account, browser, guest = build_person()
    erase(shopper=browser.key)
    assert not Shopper.objects.filter(pk__in=[account.pk, browser.pk]).exists()
    # The guest profile shares the account's address, so it is the same person.
    assert not Shopper.objects.filter(pk=guest.pk).exists()


def test_deleting_a_user_erases_its_profile():
    user, account, browser, guest = build_person()
    user.delete()
    assert not Shopper.objects.filter(pk__in=[account.pk, browser.pk, guest.pk]).exists()
    assert ErasureRecord.objects.get().source == ErasureRecord.Source.ACCOUNT_DELETED


def test_suppressed_address_is_not_collected_again():
    shopper = Shopper.objects.create(email="gone@example.com", email_consent=True)
    erase(shopper=shopper.key, suppress=True)
    again = Shopper.objects.create(email="Gone@Example.com", email_consent=True)
    again.refresh_from_db()
    assert (again.email, again.email_consent) == ("", False)
    unrelated = Shopper.objects.create(email="kept@example.com", email_consent=True)
    assert Shopper.objects.get(pk=unrelated.pk).email == "kept@example.com"


def test_erase_command_dry_run_then_for_real(capsys):
    user, *_ = build_person()
    call_command("personalize_erase_data", email=EMAIL, dry_run=True)
    assert Shopper.objects.count() == 3
    call_command("personalize_erase_data", "--user", user.username, "--no-input", "--suppress")
    assert not Shopper.objects.exists()
    assert ErasureRecord.objects.get().source == ErasureRecord.Source.COMMAND
    assert "Erased" in capsys.readouterr().out


def test_export_command_by_each_key(capsys, tmp_path):
    user, account, browser, guest = build_person()
    for args in (["--email", EMAIL], ["--user", str(user.pk)], ["--shopper", str(guest.key)]):
        call_command("personalize_export_data", *args)
        document = json.loads(capsys.readouterr().out)
        assert len(document["data"]["personalize.Shopper"]) == 3, args
    target = tmp_path / "out.json"
    call_command("personalize_export_data", "--email", EMAIL, "--output", str(target))
    assert json.loads(target.read_text())["data"]["personalize.Event"]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--user", "nobody"],
        ["--shopper", "not-a-uuid"],
        ["--shopper", str(uuid.uuid4())],
        ["--email", "no-at-sign"],
        ["--email", "a\x00b@example.com"],
    ],
)
@pytest.mark.parametrize("command", ["personalize_export_data", "personalize_erase_data"])
def test_privacy_commands_reject_bad_input(command, args):
    with pytest.raises(CommandError):
        call_command(command, *args, **({"interactive": False} if command.endswith("erase_data") else {}))


def test_retention_purges_old_events_and_idle_anonymous_profiles():
    now = timezone.now()
    keep = Shopper.objects.create(last_seen=now)
    idle = Shopper.objects.create(last_seen=now - timedelta(days=400))
    account = Shopper.objects.create(user=factories.user(), last_seen=now - timedelta(days=400))
    for days in (1, 10, 366, 500, 700):
        Event.objects.create(shopper=keep, kind="view", product_key="1", created_at=now - timedelta(days=days))
    Event.objects.create(shopper=idle, kind="view", product_key="1", created_at=now - timedelta(days=100))
    counts = purge(now, batch_size=2, pause=0)
    assert counts["personalize.Event"] == 4
    assert Event.objects.filter(shopper=keep).count() == 2
    assert not Shopper.objects.filter(pk=idle.pk).exists()
    assert Shopper.objects.filter(pk__in=[keep.pk, account.pk]).count() == 2


def test_purge_command_and_schedule(capsys):
    from personalize.schedules import DEFAULT_SCHEDULES

    call_command("personalize_purge")
    assert "Nothing" in capsys.readouterr().out
    assert any(job["task"] == "personalize.privacy.purge" for job in DEFAULT_SCHEDULES)


def test_admin_exports_and_erases_a_person(admin_client):
    user, account, browser, guest = build_person()
    other = someone_else()
    url = "/admin/personalize/shopper/"
    response = admin_client.post(url, {"action": "export_personal_data", "_selected_action": [guest.pk]})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert len(json.loads(response.content)["data"]["personalize.Shopper"]) == 3
    confirm = admin_client.post(url, {"action": "erase_personal_data", "_selected_action": [browser.pk]})
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    assert Shopper.objects.count() == 4  # nothing yet
    done = admin_client.post(
        url, {"action": "erase_personal_data", "_selected_action": [browser.pk], "confirm": "yes", "suppress": "on"}
    )
    assert done.status_code == 302
    assert list(Shopper.objects.values_list("pk", flat=True)) == [other.pk]
    record = ErasureRecord.objects.get()
    assert (record.source, record.actor, record.suppressed) == (ErasureRecord.Source.ADMIN, "admin", True)
    assert admin_client.get("/admin/personalize/erasurerecord/").status_code == 200
    found = admin_client.get("/admin/personalize/emailsuppression/", {"q": EMAIL.upper()})
    assert found.status_code == 200 and found.context["cl"].result_count == 1
    assert admin_client.get("/admin/personalize/emailsuppression/", {"q": "bob@example.com"}).context["cl"].result_count == 0


def test_admin_delete_of_a_shopper_is_an_erasure(admin_client):
    shopper = Shopper.objects.create(email="x@example.com")
    Event.objects.create(shopper=shopper, kind="search", query="q")
    response = admin_client.post(f"/admin/personalize/shopper/{shopper.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Shopper.objects.exists() and not Event.objects.exists()
    assert ErasureRecord.objects.get().source == ErasureRecord.Source.ADMIN


def test_shopper_page_download_and_erase_for_an_account(client_ua):
    user, account, browser, guest = build_person()
    other = someone_else()
    client_ua.force_login(user)
    page = client_ua.get("/personalize/privacy/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Download my data" in html and "data-personalize-consent" in html
    assert client_ua.get("/personalize/privacy/download/").status_code == 405  # POST only (CSRF)
    download = client_ua.post("/personalize/privacy/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    document = json.loads(download.content)
    assert len(document["data"]["personalize.Shopper"]) == 3 and "hats" not in download.content.decode()
    # Not confirmed: nothing happens.
    client_ua.post("/personalize/privacy/erase/")
    assert Shopper.objects.count() == 4
    done = client_ua.post("/personalize/privacy/erase/", {"confirm": "yes"})
    assert done.status_code == 302
    assert list(Shopper.objects.values_list("pk", flat=True)) == [other.pk]
    assert ErasureRecord.objects.get().source == ErasureRecord.Source.SELF_SERVICE
    assert "Nothing is held about you" in client_ua.get(done["Location"]).content.decode()


def test_shopper_page_for_a_browser_without_account(client_ua):
    from personalize.conf import personalize_settings as ps

    client_ua.get(f"/shop/p/{factories.product().pk}/")  # tracked: a profile and its cookie
    mine = Shopper.objects.get()
    other = someone_else()
    assert "1 recorded activity" in client_ua.get("/personalize/privacy/").content.decode()
    client_ua.post("/personalize/privacy/erase/", {"confirm": "yes"})
    assert not Shopper.objects.filter(pk=mine.pk).exists() and Shopper.objects.filter(pk=other.pk).exists()
    assert ps.COOKIE_NAME in client_ua.cookies  # the cookie itself now names nobody


def test_account_holder_opts_in_to_emails_on_the_page(client_ua):
    user = factories.user()
    client_ua.force_login(user)
    client_ua.post("/personalize/privacy/email/", {"email_consent": "on"})
    assert Shopper.objects.get(user=user).email_consent is True
    assert 'name="email_consent" checked' in client_ua.get("/personalize/privacy/").content.decode()
    client_ua.post("/personalize/privacy/email/", {})
    assert Shopper.objects.get(user=user).email_consent is False


def test_erasure_rebuilds_the_lists_the_person_contributed_to(settings, django_capture_on_commit_callbacks):
    from personalize.profiles import ShopperProfile
    from personalize.recommenders import get_recommender
    from personalize.recommenders.training import refresh_lists

    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "inline"}
    pushed, plain = factories.product(), factories.product()
    person = Shopper.objects.create(email="fan@example.com")
    # One shopper counts once per product and day in popularity (abuse cap): three days of views.
    for days in range(3):
        Event.objects.create(
            shopper=person, kind="view", product_key=str(pushed.pk), created_at=timezone.now() - timedelta(days=days)
        )
    Event.objects.create(shopper=someone_else(), kind="view", product_key=str(plain.pk))
    refresh_lists()
    before = [r.key for r in get_recommender("popular").recommend(ShopperProfile(None), limit=5)]
    assert before[0] == str(pushed.pk)
    with django_capture_on_commit_callbacks(execute=True):
        erase(email="fan@example.com")
    after = [r.key for r in get_recommender("popular").recommend(ShopperProfile(None), limit=5)]
    assert str(pushed.pk) not in after and after[0] == str(plain.pk)


def test_user_deletion_can_detach_instead_of_erase(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ERASE_ON_USER_DELETE": False}
    user = factories.user()
    shopper = Shopper.objects.create(user=user)
    user.delete()
    shopper.refresh_from_db()
    assert shopper.user_id is None and not ErasureRecord.objects.exists()


def test_banner_in_a_store_template_silences_w080(settings, tmp_path):
    from django.core.checks import run_checks

    (tmp_path / "base.html").write_text("{% load personalize %}<body>{% personalize_consent %}</body>")
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": True}
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    assert "personalize.W080" not in {message.id for message in run_checks()}


@pytest.mark.postgres
@pytest.mark.parametrize("value", ["a\x00b@example.com", "\ud800@example.com", "x" * 300 + "@example.com"])
@pytest.mark.parametrize("option", ["--email", "--user", "--shopper"])
def test_privacy_commands_give_a_clear_error_for_what_postgresql_rejects(option, value):
    for command in ("personalize_export_data", "personalize_erase_data"):
        with pytest.raises(CommandError):
            call_command(command, option, value, **({"interactive": False} if command.endswith("erase_data") else {}))


@pytest.mark.postgres
def test_round_trip_on_postgresql():
    """The whole export/erase cycle against PostgreSQL (jsonb counts, case-insensitive matches)."""
    user, account, browser, guest = build_person()
    assert len(export_data(user=user.username)["data"]["personalize.Event"]) == 3
    result = erase(email=EMAIL.title())
    assert result.profiles == 3 and not Shopper.objects.exists()
    assert ErasureRecord.objects.get().counts["personalize.Event"] == 3


def test_suppression_search_with_a_malformed_address_is_not_a_500(admin_client):
    # A lone surrogate as a browser would send it (invalid UTF-8 bytes), and a NUL.
    response = admin_client.get("/admin/personalize/emailsuppression/?q=%ED%A0%80%40example.com")
    assert response.status_code == 200 and response.context["cl"].result_count == 0
    response = admin_client.get("/admin/personalize/emailsuppression/?q=a%00b%40example.com")
    assert response.status_code == 200 and response.context["cl"].result_count == 0


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"EVENT_RETENTION_DAYS": 0}, "personalize.E080"),
        ({"ANONYMOUS_PROFILE_RETENTION_DAYS": "30"}, "personalize.E080"),
        ({"RETENTION_BATCH_SIZE": True}, "personalize.E080"),
        ({"RETENTION_PAUSE_SECONDS": -1}, "personalize.E080"),
        ({"ARTEFACT_STORAGE": "nowhere"}, "personalize.E081"),
        ({"ARTEFACT_STORAGE": "default"}, "personalize.W083"),
    ],
)
def test_privacy_settings_are_checked(settings, values, expected):
    from django.core.checks import run_checks

    settings.PERSONALIZE = {**settings.PERSONALIZE, **values}
    assert expected in {message.id for message in run_checks()}


def test_artefact_folder_inside_media_root_is_flagged(settings):
    from django.core.checks import run_checks

    settings.PERSONALIZE = {**settings.PERSONALIZE, "ARTEFACT_DIR": str(settings.MEDIA_ROOT) + "/models"}
    assert "personalize.W083" in {message.id for message in run_checks()}
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EVENT_RETENTION_DAYS": None}
    assert not {m.id for m in run_checks()} & {"personalize.E080", "personalize.E081"}


def test_erasure_refreshes_the_counts_of_materialised_segments(settings, django_capture_on_commit_callbacks):
    from personalize.models import Segment
    from personalize.segments.materialise import refresh_segments

    settings.PERSONALIZE = {**settings.PERSONALIZE, "JOBS_BACKEND": "inline"}
    segment = factories.segment("germany", [("country", {"countries": ["DE"]})])
    Segment.objects.filter(pk=segment.pk).update(mode=Segment.Mode.MATERIALISED)
    person = Shopper.objects.create(email="de@example.com", country="DE")
    refresh_segments(["germany"])
    assert Segment.objects.get(pk=segment.pk).member_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        erase(shopper=person.key)
    assert Segment.objects.get(pk=segment.pk).member_count == 0
