"""Where trained model artefacts are kept: private storage, never the public ``MEDIA_ROOT``.

A hybrid model holds a vector per shopper, so its file is personal data and must not be
downloadable. ``ARTEFACT_STORAGE`` names an alias of Django's ``STORAGES`` (e.g. a private S3
bucket); when it is ``None`` (the default) the files go to ``ARTEFACT_DIR``, a folder no URL
serves (default ``var/personalize-artefacts`` under the working directory).

``ModelVersion.artefact`` uses :func:`artefact_storage` as its storage callable, so migrations
name the function, never a path, and the setting is read when a file is first touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.utils.functional import LazyObject, empty

from personalize.conf import personalize_settings as ps

DEFAULT_DIR = Path("var") / "personalize-artefacts"


def _build() -> Storage:
    alias = ps.ARTEFACT_STORAGE
    if alias:
        return storages[alias]
    location = Path(ps.ARTEFACT_DIR or DEFAULT_DIR).resolve()
    # base_url=None: the storage has no URL, so nothing can link to (or serve) an artefact.
    return PrivateFileSystemStorage(location=str(location))


class PrivateFileSystemStorage(FileSystemStorage):
    """A folder of files that are never given a URL."""

    def url(self, name: str | None) -> str:
        raise ValueError("personalize artefacts are private: they have no URL")


class _ArtefactStorage(LazyObject):
    def _setup(self) -> None:
        self._wrapped = _build()


_storage = _ArtefactStorage()


def artefact_storage() -> Storage:
    """The storage of model artefacts (a lazy object: settings are read on first use)."""
    return _storage


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("PERSONALIZE", "STORAGES"):
        _storage._wrapped = empty  # read again on next use


setting_changed.connect(_reset, dispatch_uid="personalize.storage")
