"""The :class:`Storage` interface both backends implement: a flat store of byte blobs
under validated keys, with one shared :meth:`Storage.delete_prefix` built on the
backends' ``list_keys`` and ``_delete_keys``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from audiobook_app.storage.keys import validate_key


class Storage(ABC):
    """A flat store of byte blobs under keys (see the module docstring for key rules).

    All methods raise :class:`ValueError` for an invalid key, :class:`NotFoundError`
    (message includes the key) where a read names a missing key, and
    :class:`StorageError` for any failure of the backend.
    """

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (replacing it), labelled with MIME ``content_type``."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at ``path`` under ``key``; atomic (readers never see a partial file)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the whole content of ``key``."""

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> Path:
        """Write ``key`` to ``dest`` (parents created, replaced atomically); returns ``dest``."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True when ``key`` holds a file."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size of ``key`` in bytes."""

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """All keys starting with ``prefix`` (a plain string prefix: ``users/1`` matches
        ``users/10/...`` too, so end folder prefixes with ``/``), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key under ``prefix`` and return how many were removed.

        ``prefix`` must be non-empty and end with ``/`` (ValueError otherwise), so that a
        slip cannot delete another user's files or the whole store.
        """
        if not prefix.endswith("/"):
            raise ValueError(f"delete_prefix needs a folder prefix ending with '/', got {prefix!r}")
        return self._delete_keys(self.list_keys(validate_key(prefix, prefix=True)))

    @abstractmethod
    def _delete_keys(self, keys: list[str]) -> int:
        """Delete the given existing keys; return the count deleted."""

    @abstractmethod
    def download_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str:
        """A URL that downloads ``key`` without a session for ``expires_s`` seconds
        (1 s to 7 days), as attachment ``filename`` when given. Does not check existence."""

    @abstractmethod
    def check(self) -> None:
        """Health check for ``audiobook doctor``: raise StorageError saying what is wrong."""
