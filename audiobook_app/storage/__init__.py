"""File storage: one :class:`Storage` interface, a local-folder and an S3 backend.

Keys are ``/``-separated strings, ``users/<user_id>/...`` (build them with
:func:`user_key`). A key that is absolute, has an empty, ``.``-leading or ``..`` part, a
backslash or a control character (NUL included) is a caller bug, not user input: both
backends raise :class:`ValueError` for it, before any I/O (pass user file names through
:func:`safe_filename` before using them as key parts). Every failure of the backend itself is translated into
:class:`StorageError` (or :class:`NotFoundError` for a missing key) with a one-line,
user-safe message; no ``OSError`` or botocore exception escapes. :func:`check_upload`
sniffs a manuscript upload before anything is stored.

The package splits into :mod:`~audiobook_app.storage.keys` (key rules and helpers),
:mod:`~audiobook_app.storage.base` (the interface), :mod:`~audiobook_app.storage.local`,
:mod:`~audiobook_app.storage.s3` and :mod:`~audiobook_app.storage.uploads`; everything
public is importable from here.
"""

from __future__ import annotations

from audiobook_app.settings import Settings
from audiobook_app.storage.base import Storage
from audiobook_app.storage.keys import (
    MAX_URL_TTL_S,
    chapter_texts_key,
    content_disposition,
    job_key,
    safe_filename,
    segment_key,
    take_key,
    user_key,
    validate_key,
    verify_record_key,
)
from audiobook_app.storage.local import LocalStorage
from audiobook_app.storage.s3 import S3Storage
from audiobook_app.storage.uploads import UPLOAD_TYPES, check_upload, size_text

__all__ = [
    "MAX_URL_TTL_S",
    "UPLOAD_TYPES",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "build_storage",
    "chapter_texts_key",
    "check_upload",
    "content_disposition",
    "job_key",
    "safe_filename",
    "segment_key",
    "size_text",
    "take_key",
    "user_key",
    "validate_key",
    "verify_record_key",
]


def build_storage(settings: Settings) -> Storage:
    """The backend ``settings.storage_backend`` names (``local`` or ``s3``), configured."""
    if settings.storage_backend == "s3":
        return S3Storage(
            settings.s3_bucket,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key_id,
            settings.s3_secret_access_key,
        )
    return LocalStorage(settings.storage_root, settings.secret_key, settings.public_base_url)
