"""Consent checks: tell a developer why every widget is non-personal when nobody can consent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.checks import Tags, Warning, register
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.urls import NoReverseMatch, reverse

from personalize.conf import personalize_settings as ps

TAG = "personalize_consent"
# personalize's own templates use the tag (the privacy page): they do not count as the store's.
OWN_TEMPLATES = Path(__file__).resolve().parents[1]
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".svgz", ".woff", ".woff2", ".mo", ".pyc"}


def _template_files() -> Iterator[Path]:
    for engine in engines.all():
        if not isinstance(engine, DjangoTemplates):
            continue
        for directory in engine.template_dirs:
            root = Path(directory).resolve()
            if root.is_relative_to(OWN_TEMPLATES) or not root.is_dir():
                continue
            yield from (path for path in root.rglob("*") if path.is_file() and path.suffix not in BINARY_SUFFIXES)


def banner_in_templates() -> bool:
    """Whether any of the store's templates uses ``{% personalize_consent %}``."""
    for path in _template_files():
        try:
            if TAG in path.read_text(encoding="utf-8", errors="ignore"):
                return True
        except OSError:
            continue
    return False


@register(Tags.templates)
def check_consent(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if not ps.CONSENT_REQUIRED:
        return []
    messages = []
    try:
        reverse("personalize:consent")
    except NoReverseMatch:
        messages.append(
            Warning(
                "CONSENT_REQUIRED is on but personalize.urls is not included: the consent banner has nowhere to "
                "post, so nobody can consent and every widget shows non-personal lists.",
                hint='Add path("personalize/", include("personalize.urls")) to your URLconf.',
                id="personalize.W081",
            )
        )
    if not banner_in_templates():
        messages.append(
            Warning(
                "CONSENT_REQUIRED is on and no template uses {% personalize_consent %}: nobody can consent, so "
                "personalize stores nothing and every widget shows the same non-personal list to everyone.",
                hint="Put {% personalize_consent %} in your base template, or call personalize.set_consent(request, "
                "...) from your own consent manager and silence personalize.W080.",
                id="personalize.W080",
            )
        )
    return messages
