"""The OpenAPI schema (personalize/api/schema.py): generated without warnings, valid OpenAPI 3.1,
served at api/schema/, built from the settings, and matching what the endpoints really answer."""

import json

import jsonschema
import pytest
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from referencing import Registry, Resource

from personalize import signing
from personalize.api import schema as api_schema
from personalize.api.schema import build_schema
from personalize.conf import personalize_settings as ps
from tests import factories

pytestmark = pytest.mark.django_db

API = "/personalize/api/"
SAME_ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def generate() -> dict:
    """What ``manage.py spectacular --validate --fail-on-warn`` checks, for personalize's generator."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = build_schema()
    problems = {**GENERATOR_STATS._warn_cache, **GENERATOR_STATS._error_cache}
    assert not problems, problems
    validate_schema(schema)
    return schema


def conforms(schema: dict, path: str, method: str, response) -> None:
    """The response's body is valid against the documented schema for its status."""
    documented = schema["paths"][path][method]["responses"][str(response.status_code)]
    body_schema = documented["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:api", Resource.from_contents({**schema, "$schema": "https://json-schema.org/draft/2020-12/schema"}))
    validator = jsonschema.Draft202012Validator({"$ref": "urn:api#" + body_schema["$ref"][1:]}, registry=registry)
    validator.validate(response.json())


def test_schema_generates_without_warnings_and_is_valid_openapi():
    schema = generate()
    assert schema["openapi"] == "3.1.0"
    assert set(schema["paths"]) == {
        "/personalize/api/events/",
        "/personalize/api/recommendations/",
        "/personalize/api/search-suggestions/",
        "/personalize/c/{token}/",
        "/personalize/c/seen/{token}/",
        "/personalize/c/code/{token}/",
        "/personalize/consent/",
        "/personalize/emails/restore/{token}/",
        "/personalize/emails/unsubscribe/{token}/",
        "/personalize/fragments/",
    }
    body = schema["paths"]["/personalize/api/events/"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventBatch"}
    event = schema["components"]["schemas"]["BeaconEvent"]
    assert event["additionalProperties"] is False
    assert event["properties"]["query"]["maxLength"] == 255
    assert event["properties"]["context"]["maxProperties"] == 20
    assert "purchase" not in event["properties"]["kind"]["enum"]  # server-only


def test_schema_follows_the_settings(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "API_MAX_BATCH": 7,
        "WIDGET_MAX_LIMIT": 12,
        "API_EVENT_KINDS": ["view", "search"],
    }
    schema = generate()
    batch = schema["components"]["schemas"]["EventBatch"]
    assert batch["properties"]["events"]["maxItems"] == 7
    assert schema["components"]["schemas"]["BeaconEvent"]["properties"]["kind"]["enum"] == ["search", "view"]
    limit = next(p for p in schema["paths"]["/personalize/api/recommendations/"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 12


def test_store_schema_class_is_left_alone(settings):
    """A store on DRF's own schema class (not spectacular's) still gets personalize's schema."""
    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema"}
    schema = generate()
    assert "/personalize/api/events/" in schema["paths"]


def test_schema_is_served_as_json_and_yaml(client):
    url = reverse("personalize:api-schema")
    assert url == API + "schema/"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    served = json.loads(response.content)
    assert served["info"]["title"] == "django-personalize API"
    assert API + "schema/" not in served["paths"]  # the document does not describe itself
    yaml = client.get(url, HTTP_ACCEPT="application/vnd.oai.openapi")
    assert yaml.status_code == 200
    assert yaml.content.startswith(b"openapi: 3.1.0")


def test_served_schema_is_built_once_and_follows_a_settings_change(client, settings, monkeypatch):
    api_schema._forget_served()  # an earlier test may have served it already
    built = []
    monkeypatch.setattr(api_schema, "build_schema", lambda request=None: built.append(1) or build_schema(request))
    url = reverse("personalize:api-schema")
    first = client.get(url).json()
    assert client.get(url).json() == first
    assert len(built) == 1  # ~20 ms each: a public endpoint builds it once per process
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_MAX_BATCH": 9}
    changed = client.get(url).json()
    assert changed["components"]["schemas"]["EventBatch"]["properties"]["events"]["maxItems"] == 9


def test_real_responses_conform_to_the_schema(client_ua):
    schema = generate()
    product = factories.product()
    events = API + "events/"
    mixed = client_ua.post(
        events,
        json.dumps({"events": [{"kind": "view", "product": str(product.pk)}, {"kind": "view", "product": "no such"}]}),
        content_type="application/json",
        **SAME_ORIGIN,
    )
    assert mixed.status_code == 202, mixed.content
    assert mixed.json()["rejected"][0]["index"] == 1
    conforms(schema, events, "post", mixed)
    all_bad = client_ua.post(events, json.dumps({"events": [{"kind": "nope"}]}), content_type="application/json", **SAME_ORIGIN)
    assert all_bad.status_code == 400
    conforms(schema, events, "post", all_bad)
    not_json = client_ua.post(events, "{", content_type="application/json", **SAME_ORIGIN)
    assert not_json.status_code == 400
    conforms(schema, events, "post", not_json)
    cross_site = client_ua.post(events, "{}", content_type="application/json", HTTP_ORIGIN="https://evil.example")
    assert cross_site.status_code == 403
    conforms(schema, events, "post", cross_site)

    recs = API + "recommendations/"
    listed = client_ua.get(recs, {"placement": "trending", "limit": 3})
    assert listed.status_code == 200, listed.content
    conforms(schema, recs, "get", listed)
    bad_limit = client_ua.get(recs, {"placement": "trending", "limit": ps.WIDGET_MAX_LIMIT + 1})
    assert bad_limit.status_code == 400
    conforms(schema, recs, "get", bad_limit)

    suggest = API + "search-suggestions/"
    answered = client_ua.get(suggest, {"prefix": "ca"})
    assert answered.status_code == 200
    conforms(schema, suggest, "get", answered)


def test_the_get_your_code_link_answers_as_documented(client_ua):
    offer = factories.offer(code_mode="unique", code="", code_prefix="HI")
    campaign = factories.campaign(offer=offer, contents=[{"variant": "A", "headline": "Hello", "text": "Yours: {code}"}])
    documented = generate()["paths"]["/personalize/c/code/{token}/"]["post"]["responses"]
    mine = client_ua.post(f"/personalize/c/code/{signing.sign('campaign_code', [campaign.pk, 'A'])}/")
    other = client_ua.post(f"/personalize/c/code/{signing.sign('campaign_code', [campaign.pk, 'B'])}/")  # not this shopper's arm
    bad = client_ua.post("/personalize/c/code/not-a-token/")
    assert (mine.status_code, other.status_code, bad.status_code) == (200, 404, 400)
    for response in (mine, other):
        jsonschema.validate(response.json(), documented[str(response.status_code)]["content"]["application/json"]["schema"])
    assert mine.json()["code"].startswith("HI-") and other.json() == {"code": ""}
