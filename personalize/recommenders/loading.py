"""Serving the active model version: loaded once per process, reloaded when it changes.

The active version id of each alias sits in Django's cache (written when a version is
activated); a process looks at it at most every ``RELOAD_SECONDS``, and asks the database
too at most every ``LOCAL_CACHE_SECONDS`` (one indexed query) so that a model trained in
another process reaches this one on any cache, even a per-process one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.files.storage import default_storage

from personalize.caching import cache
from personalize.conf import personalize_settings as ps
from personalize.models import ModelVersion
from personalize.recommenders import reset_instance
from personalize.recommenders.base import Artefact, BaseRecommender
from personalize.storage import artefact_storage

logger = logging.getLogger("personalize")

NO_VERSION = 0


def active_cache_key(alias: str) -> str:
    return f"personalize:recommenders:{alias}:active"


def publish_active(alias: str, version_id: int | None) -> None:
    """Tell every process which version now serves ``alias`` (after the switch committed)."""
    cache().set(active_cache_key(alias), version_id or NO_VERSION, None)
    _checked.pop(alias, None)
    reset_instance(alias)


# alias -> (monotonic time of the last database check, the id it found), per process.
_checked: dict[str, tuple[float, int]] = {}


def active_version_id(alias: str) -> int:
    """The serving version id (``NO_VERSION`` when none).

    The cache tells every process at once when training switched versions; the database is
    also asked, at most every ``LOCAL_CACHE_SECONDS`` per alias and process (one indexed
    query), so a new model reaches every process within that bound on any cache, including a
    per-process one where the trainer's publication never arrives.
    """
    now = time.monotonic()
    last = _checked.get(alias)
    if last is not None and now - last[0] < float(ps.LOCAL_CACHE_SECONDS):
        cached = cache().get(active_cache_key(alias))
        if cached is not None:
            return int(cached)
    version_id = (
        ModelVersion.objects.filter(alias=alias, is_active=True).values_list("pk", flat=True).first() or NO_VERSION
    )
    _checked[alias] = (now, version_id)
    cache().set(active_cache_key(alias), version_id, None)
    return int(version_id)


def read_artefact(version: Any) -> Artefact:
    """The stored artefact of a ``ModelVersion``; ``ValueError`` when missing or corrupt."""
    name = version.artefact.name if version.artefact else ""
    if not name:
        raise ValueError("the version has no artefact file")
    try:
        storage = artefact_storage()
        if not storage.exists(name) and default_storage.exists(name):
            storage = default_storage  # written to MEDIA_ROOT before artefacts became private
        with storage.open(name, "rb") as handle:
            data = handle.read()
    except (OSError, FileNotFoundError) as exc:
        raise ValueError(f"artefact {name!r} cannot be read: {exc}") from exc
    return Artefact.from_bytes(data)


def load_problem(alias: str) -> str:
    """Why this process cannot serve ``alias``'s active version ("" when it can or has none).

    Commands check it before serving lists in bulk: a model saved where this process does
    not look (another working directory, another machine's folder) would otherwise quietly
    serve the fallback lists.
    """
    version = ModelVersion.objects.filter(alias=alias, is_active=True).first()
    if version is None:
        return ""
    try:
        read_artefact(version)
    except ValueError as exc:
        return f"model version #{version.pk} of {alias!r} is active but cannot be loaded here: {exc}"
    return ""


class VersionedBackend(BaseRecommender):
    """A backend whose state is the artefact of its alias's active ``ModelVersion``.

    Subclasses implement ``load(artefact, version=...)`` and check :meth:`ready` before
    using their state; a missing or corrupt artefact is logged, recorded on the version
    (``load_error``, shown in the admin) and the backend serves its fallbacks.
    """

    trainable = True

    def __init__(self, alias: str = "default", options: dict[str, Any] | None = None) -> None:
        super().__init__(alias, options)
        self._state_lock = threading.Lock()
        self._loaded_id: int | None = None  # version id we tried to load (None: not looked yet)
        self._version = ""  # id of the version actually serving
        self._next_check = 0.0
        self._pinned = False  # fitted in memory (evaluation, tests): never reload

    @property
    def model_version(self) -> str:
        self.ready()
        return self._version

    def reset(self) -> None:
        if self._pinned:
            return
        with self._state_lock:
            self._loaded_id = None
            self._version = ""
            self._next_check = 0.0
            self.clear_state()

    def clear_state(self) -> None:
        """Drop the loaded model (subclasses)."""

    def pin(self, version: str = "") -> None:
        """Serve what :meth:`fit` just learnt, without looking at the active version."""
        self._pinned = True
        self._version = version

    def ready(self) -> bool:
        """Whether a model is loaded, (re)loading the active version when it changed."""
        if self._pinned:
            return True
        now = time.monotonic()
        if now < self._next_check and self._loaded_id is not None:
            return bool(self._version)
        with self._state_lock:
            self._next_check = now + float(self.option("RELOAD_SECONDS", 30))
            try:
                version_id = active_version_id(self.alias)
            except Exception:  # database down: keep serving what we have
                logger.exception("personalize: cannot read the active version of %r", self.alias)
                return bool(self._version)
            if version_id == self._loaded_id:
                return bool(self._version)
            self._loaded_id = version_id
            self._version = ""
            self.clear_state()
            if version_id != NO_VERSION:
                self._load_version(version_id)
            return bool(self._version)

    def _load_version(self, version_id: int) -> None:
        version = ModelVersion.objects.filter(pk=version_id).first()
        if version is None:
            return
        try:
            self.load(read_artefact(version), version=str(version.pk))
        except Exception as exc:
            logger.error("personalize: cannot load model version %s of %r: %s", version_id, self.alias, exc)
            self.clear_state()
            ModelVersion.objects.filter(pk=version_id).update(load_error=str(exc)[:2000])
            return
        self._version = str(version.pk)
        if version.load_error:
            ModelVersion.objects.filter(pk=version_id).update(load_error="")
