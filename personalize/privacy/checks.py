"""Privacy checks: retention and consent values, and model artefacts never publicly downloadable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

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


def _whole(value: Any, *, minimum: int, optional: bool) -> bool:
    if value is None:
        return optional
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@register()
def check_privacy_values(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    problems = [
        name
        for name, optional, minimum in (
            ("EVENT_RETENTION_DAYS", True, 1),
            ("ANONYMOUS_PROFILE_RETENTION_DAYS", True, 1),
            ("RETENTION_BATCH_SIZE", False, 1),
            ("CONSENT_COOKIE_AGE_DAYS", False, 1),
        )
        if not _whole(getattr(ps, name), minimum=minimum, optional=optional)
    ]
    pause = ps.RETENTION_PAUSE_SECONDS
    if isinstance(pause, bool) or not isinstance(pause, (int, float)) or pause < 0:
        problems.append("RETENTION_PAUSE_SECONDS")
    errors = [
        Error(
            f"PERSONALIZE[{name!r}] must be a whole number >= 1"
            + (" or None" if name.endswith("RETENTION_DAYS") else "")
            + (" (seconds >= 0 for the pause)" if name == "RETENTION_PAUSE_SECONDS" else "")
            + f", got {getattr(ps, name)!r}.",
            id="personalize.E080",
        )
        for name in problems
    ]
    alias = ps.ARTEFACT_STORAGE
    if alias and alias not in getattr(settings, "STORAGES", {}):
        errors.append(
            Error(
                f"ARTEFACT_STORAGE {alias!r} is not an alias of settings.STORAGES.",
                hint="Define it in STORAGES, or leave ARTEFACT_STORAGE as None for the private folder.",
                id="personalize.E081",
            )
        )
    return errors
