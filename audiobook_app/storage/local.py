"""The local-folder backend: :class:`LocalStorage` keeps files under a root folder,
writes atomically through a hidden staging folder, translates ``OSError`` into
:class:`StorageError` / :class:`NotFoundError`, and signs its own ``/files/`` download
URLs with HMAC-SHA256 (checked by :meth:`LocalStorage.verify_download`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from audiobook_app.storage.base import Storage
from audiobook_app.storage.keys import _check_ttl, _is_valid, _MiB, validate_key
from pipeline.errors import NotFoundError, StorageError

_STAGING = ".staging"  # LocalStorage temp files; no key can name it (parts never start with ".")


class LocalStorage(Storage):
    """Files under a local folder ``root``; temp files in ``root/.staging``.

    Download URLs are ``{public_base_url}/files/{quoted key}?expires=..&sig=..`` signed with
    HMAC-SHA256(``secret_key``); the web route checks them with :meth:`verify_download`
    and serves :meth:`path_for`. Content types are not kept: serve by the key's suffix.
    """

    def __init__(self, root: Path, secret_key: str, public_base_url: str) -> None:
        self.root = Path(root).resolve()
        self._secret = secret_key.encode()
        self._base_url = public_base_url.rstrip("/")

    def path_for(self, key: str) -> Path:
        """Filesystem path of ``key`` (may not exist). ValueError if it would leave ``root``."""
        path = self.root / validate_key(key)
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"invalid storage key {key!r}: escapes the storage root")
        return path

    @contextmanager
    def _errors(self, action: str, key: str, *, reading: bool = False) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            if reading:
                raise NotFoundError(f"no such file in storage: {key}") from exc
            raise StorageError(f"storage {action} failed for {key}: {exc.strerror}") from exc
        except OSError as exc:
            raise StorageError(f"storage {action} failed for {key}: {exc.strerror or exc}") from exc

    def _atomic_write(self, dest: Path, tmp_dir: Path, write: Callable[[BinaryIO], None]) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            for attempt in range(3):  # a concurrent delete may prune the new parent folder
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.replace(tmp, dest)
                    return
                except FileNotFoundError:
                    if attempt == 2:
                        raise
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Write via a temp file + ``os.replace``."""
        with self._errors("write", key):
            self._atomic_write(self.path_for(key), self.root / _STAGING, lambda fh: fh.write(data))

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Copy via a temp file + ``os.replace``."""
        dest = self.path_for(key)
        with self._errors("write", key), open(path, "rb") as src:
            self._atomic_write(
                dest, self.root / _STAGING, lambda fh: shutil.copyfileobj(src, fh, _MiB)
            )

    def get_bytes(self, key: str) -> bytes:
        """Read the file."""
        with self._errors("read", key, reading=True):
            return self.path_for(key).read_bytes()

    def get_file(self, key: str, dest: Path) -> Path:
        """Copy the file to ``dest`` (temp file beside it, then ``os.replace``)."""
        dest, path = Path(dest), self.path_for(key)
        with self._errors("read", key, reading=True):
            src = open(path, "rb")
        with src, self._errors("copy to a local file", key):
            self._atomic_write(dest, dest.parent, lambda fh: shutil.copyfileobj(src, fh, _MiB))
        return dest

    def exists(self, key: str) -> bool:
        """True for a regular file."""
        with self._errors("stat", key):
            return self.path_for(key).is_file()

    def size(self, key: str) -> int:
        """``stat`` size in bytes."""
        path = self.path_for(key)
        with self._errors("stat", key, reading=True):
            if not path.is_file():
                raise FileNotFoundError(2, "not a file")
            return path.stat().st_size

    def list_keys(self, prefix: str) -> list[str]:
        """Walk the deepest folder the prefix names; skips hidden (temp) entries."""
        top = self.root.joinpath(*validate_key(prefix, prefix=True).split("/")[:-1])
        if not top.is_dir() or not top.resolve().is_relative_to(self.root):
            return []

        def fail(exc: OSError) -> None:
            raise exc

        keys = []
        with self._errors("list", prefix or "/"):
            for folder, dirs, files in os.walk(top, onerror=fail):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                rel = Path(folder).relative_to(self.root).as_posix()
                for name in files:
                    key = name if rel == "." else f"{rel}/{name}"
                    if key.startswith(prefix) and _is_valid(key):  # skips temp / foreign files
                        keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Unlink the file and prune folders it leaves empty."""
        self._delete_keys([validate_key(key)])

    def _delete_keys(self, keys: list[str]) -> int:
        count = 0
        for key in keys:
            path = self.path_for(key)
            with self._errors("delete", key):
                try:
                    path.unlink()
                    count += 1
                except FileNotFoundError:
                    continue
            for parent in path.parents:
                if parent == self.root:
                    break
                try:
                    parent.rmdir()
                except OSError:  # not empty (or raced): stop pruning
                    break
        return count

    def _sign(self, key: str, expires: int, filename: str | None) -> str:
        message = f"{key}\n{expires}" + ("" if filename is None else f"\n{filename}")
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def download_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str:
        """Signed ``/files/`` URL, valid until ``now + expires_s`` (unix seconds)."""
        validate_key(key)
        _check_ttl(expires_s, filename)
        expires = int(time.time()) + expires_s
        query = {"expires": expires, **({} if filename is None else {"filename": filename})}
        query["sig"] = self._sign(key, expires, filename)
        return f"{self._base_url}/files/{quote(key, safe='/')}?{urlencode(query)}"

    def verify_download(
        self,
        key: str,
        expires: int,
        sig: str,
        filename: str | None = None,
        now: float | None = None,
    ) -> bool:
        """True when ``sig`` signs (key, expires, filename) and ``now`` (default: the
        clock) is not past ``expires``. Never raises for bad input (returns False)."""
        try:
            validate_key(key)
            expected = self._sign(key, int(expires), filename)
        except (ValueError, TypeError):
            return False
        if (time.time() if now is None else now) > int(expires):
            return False
        return hmac.compare_digest(expected.encode(), str(sig).encode("utf-8", "replace"))

    def check(self) -> None:
        """Create ``root`` if needed and write, then remove, a probe file."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / _STAGING).mkdir(exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root / _STAGING, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StorageError(
                f"storage folder {self.root} is not a writable folder: {exc.strerror or exc}"
            ) from exc
