"""Privacy checks: model artefacts must not be publicly downloadable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

from personalize.conf import personalize_settings as ps
from personalize.storage import DEFAULT_DIR

PUBLIC_ALIASES = {"default", "staticfiles"}


def _inside(path: Path, root: Any) -> bool:
    return bool(root) and path.is_relative_to(Path(str(root)).resolve())


@register(Tags.security)
def check_artefact_storage(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    alias = ps.ARTEFACT_STORAGE
    if alias in PUBLIC_ALIASES:
        return [
            Warning(
                f"ARTEFACT_STORAGE is {alias!r}: trained models (a vector per shopper) are stored where the site "
                "serves public files.",
                hint="Define a private alias in STORAGES (e.g. a private bucket) or leave ARTEFACT_STORAGE as None.",
                id="personalize.W083",
            )
        ]
    if alias:
        return []
    folder = Path(ps.ARTEFACT_DIR or DEFAULT_DIR).resolve()
    if _inside(folder, getattr(settings, "MEDIA_ROOT", "")) or _inside(folder, getattr(settings, "STATIC_ROOT", "")):
        return [
            Warning(
                f"ARTEFACT_DIR {folder} is inside MEDIA_ROOT or STATIC_ROOT: trained models could be downloaded.",
                hint="Point ARTEFACT_DIR at a folder no URL serves.",
                id="personalize.W083",
            )
        ]
    return []
