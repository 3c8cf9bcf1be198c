"""File storage: one :class:`Storage` interface, a local-folder and an S3 backend.

Keys are ``/``-separated strings, ``users/<user_id>/...`` (build them with
:func:`user_key`). A key that is absolute, has an empty, ``.``-leading or ``..`` part, a
backslash or a control character (NUL included) is a caller bug, not user input: both
backends raise :class:`ValueError` for it, before any I/O (pass user file names through
:func:`safe_filename` before using them as key parts). Every failure of the backend itself is translated into
:class:`StorageError` (or :class:`NotFoundError` for a missing key) with a one-line,
user-safe message; no ``OSError`` or botocore exception escapes. :func:`check_upload`
sniffs a manuscript upload before anything is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote, urlencode

from audiobook_app.settings import Settings
from pipeline.errors import NotFoundError, StorageError, UploadRejectedError

MAX_URL_TTL_S = 7 * 24 * 3600  # S3 refuses presigned URLs valid for longer
_MiB = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_STAGING = ".staging"  # LocalStorage temp files; no key can name it (parts never start with ".")


def validate_key(key: str, *, prefix: bool = False) -> str:
    """Return ``key`` if it is a safe storage key, else raise :class:`ValueError`.

    With ``prefix=True`` the empty string and a trailing ``/`` are allowed (list prefixes).
    """
    if not isinstance(key, str) or (not key and not prefix):
        raise ValueError(f"invalid storage key {key!r}: not a non-empty string")
    parts = key.split("/")
    if prefix:
        parts = parts[:-1] + ([parts[-1]] if parts[-1] else [])
    if key.startswith("/") or _BAD_CHARS.search(key) or len(key.encode()) > 1024:
        raise ValueError(f"invalid storage key {key!r}: absolute, backslash, control character or too long")
    for part in parts:  # "." / ".." / hidden parts all start with "."
        if not part or part.startswith(".") or len(part.encode()) > 255:
            raise ValueError(f"invalid storage key {key!r}: empty, '..', hidden or over-long part {part!r}")
    return key


def _is_valid(key: str) -> bool:
    try:
        validate_key(key)
    except ValueError:
        return False
    return True


def user_key(user_id: int, *parts: str) -> str:
    """Build ``users/<user_id>/<part>/...``; each part is one segment (no ``/``).

    Raises :class:`ValueError` for a non-positive id or an unsafe part.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise ValueError(f"invalid user id {user_id!r}")
    if not parts or any("/" in p for p in parts):
        raise ValueError(f"key parts must be single non-empty segments: {parts!r}")
    return validate_key("/".join(("users", str(user_id), *parts)))


def safe_filename(filename: str, *, max_bytes: int = 200) -> str:
    """A user's file name made usable as one key part: last path segment (``/`` or ``\\``),
    control characters replaced by ``_``, leading dots/spaces dropped, at most ``max_bytes``
    UTF-8 bytes (suffix kept); ``"file"`` when nothing is left."""
    name = _CONTROL.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(". ")
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    tail = (dot + suffix)[:20]
    stem = stem.encode()[: max_bytes - len(tail.encode())].decode(errors="ignore")
    return (stem + tail).strip() or "file"


def content_disposition(filename: str) -> str:
    """``Content-Disposition`` value for downloading as ``filename`` (RFC 6266, UTF-8 safe)."""
    ascii_name = re.sub(r'[^\x20-\x7e]|["\\]', "_", filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _check_ttl(expires_s: int, filename: str | None) -> None:
    if not 1 <= expires_s <= MAX_URL_TTL_S:
        raise ValueError(f"expires_s must be 1..{MAX_URL_TTL_S} seconds, got {expires_s}")
    if filename is not None and (not filename or _CONTROL.search(filename)):
        raise ValueError(f"invalid download filename {filename!r}")


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
            self._atomic_write(dest, self.root / _STAGING, lambda fh: shutil.copyfileobj(src, fh, _MiB))

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
        self, key: str, expires: int, sig: str, filename: str | None = None, now: float | None = None
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
            raise StorageError(f"storage folder {self.root} is not a writable folder: {exc.strerror or exc}") from exc


class S3Storage(Storage):
    """Objects in an S3 bucket (AWS or any S3-compatible endpoint) through boto3.

    ``batch_size`` is the keys per list page and per delete request (S3 allows at most
    1000; smaller only for tests); ``max_attempts`` the botocore retry budget.
    """

    MULTIPART_THRESHOLD = 8 * _MiB

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        *,
        batch_size: int = 1000,
        max_attempts: int = 5,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self._where = endpoint_url or "AWS S3"
        self._batch = max(1, min(batch_size, 1000))
        self._transfer = TransferConfig(multipart_threshold=self.MULTIPART_THRESHOLD, multipart_chunksize=8 * _MiB)
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        what = f" for {key}" if key else ""
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "")) or "error"
            if key is not None and code in ("NoSuchKey", "404", "NotFound"):
                raise NotFoundError(f"no such file in storage: {key}") from exc
            if code in ("NoSuchBucket", "404", "NotFound"):
                raise StorageError(f"S3 bucket {self.bucket!r} does not exist at {self._where}") from exc
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageError(f"S3 refused access to bucket {self.bucket!r} ({code}); check the keys") from exc
            raise StorageError(f"S3 {action} failed{what}: {code}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(f"S3 {action} failed{what}: {self._where} unreachable or erring ({type(exc).__name__})") from exc
        except OSError as exc:
            raise StorageError(f"S3 {action} failed{what}: {exc.strerror or exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """``put_object`` (one request)."""
        with self._errors("upload", validate_key(key)):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """``upload_file``: multipart in 8 MiB parts for files over 8 MiB."""
        with self._errors("upload", validate_key(key)):
            self._s3.upload_file(
                str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=self._transfer
            )

    def get_bytes(self, key: str) -> bytes:
        """``get_object``."""
        with self._errors("download", validate_key(key)):
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_file(self, key: str, dest: Path) -> Path:
        """``download_file`` (s3transfer writes a temp file and renames it)."""
        dest = Path(dest)
        with self._errors("download", validate_key(key)):
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._s3.download_file(self.bucket, key, str(dest), Config=self._transfer)
        return dest

    def _head(self, key: str) -> dict:
        with self._errors("stat", validate_key(key)):
            return self._s3.head_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        """``head_object``; False on 404."""
        try:
            self._head(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """``ContentLength`` from ``head_object``."""
        return int(self._head(key)["ContentLength"])

    def list_keys(self, prefix: str) -> list[str]:
        """``list_objects_v2`` paginator over all pages."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=validate_key(prefix, prefix=True), PaginationConfig={"PageSize": self._batch}
        )
        with self._errors("list", prefix or "/"):
            return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))

    def delete(self, key: str) -> None:
        """``delete_object`` (idempotent)."""
        with self._errors("delete", validate_key(key)):
            self._s3.delete_object(Bucket=self.bucket, Key=key)

    def _delete_keys(self, keys: list[str]) -> int:
        count = 0
        for i in range(0, len(keys), self._batch):
            batch = keys[i : i + self._batch]
            with self._errors("delete", batch[0]):
                resp = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            if errors := resp.get("Errors"):
                first = errors[0]
                raise StorageError(f"S3 delete failed for {first.get('Key')}: {first.get('Code')} ({len(errors)} keys)")
            count += len(batch)
        return count

    def download_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str:
        """Presigned GET (``generate_presigned_url``; computed locally, no request)."""
        _check_ttl(expires_s, filename)
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors("sign", key):
            return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)

    def check(self) -> None:
        """``head_bucket``: the endpoint answers, the bucket exists and the keys may use it."""
        with self._errors("bucket check"):
            self._s3.head_bucket(Bucket=self.bucket)


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


# --- Upload sniffing -----------------------------------------------------------------

UPLOAD_TYPES = {
    ".epub": "application/epub+zip",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}
_BINARY_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (an EPUB or DOCX?)",
    b"PK\x05\x06": "a ZIP archive",
    b"%PDF-": "a PDF (rename it to .pdf)",
    b"\x1f\x8b": "a gzip archive",
}
_TEXT_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16 LE/BE (and UTF-32 LE), UTF-32 BE


def _looks_utf16(sample: bytes) -> bool:
    """NULs only at even or only at odd offsets, in at least a quarter of them: BOM-less UTF-16."""
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = max(1, len(sample) // 2)
    return (even == 0 and odd >= half / 4) or (odd == 0 and even >= half / 4)


def check_upload(filename: str, data: bytes, max_bytes: int) -> str:
    """Sniff an uploaded manuscript before it is stored; return its MIME type.

    Accepts .epub, .docx, .pdf, .txt/.text, .md/.markdown. Raises
    :class:`UploadRejectedError` for an empty file, one over ``max_bytes`` (message in MB),
    another suffix, or content contradicting the name (EPUB/DOCX not a ZIP, PDF without
    ``%PDF-`` in its first 1024 bytes, text holding image/archive/PDF magic or NUL bytes
    not explained by a UTF-16/32 BOM or UTF-16 layout). Deeper checks are the parser's.
    """
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    if not data:
        raise UploadRejectedError(f"{name}: the file is empty (0 bytes)")
    if len(data) > max_bytes:
        limit = f"{max_bytes / _MiB:,.1f}".removesuffix(".0")
        raise UploadRejectedError(f"{name}: the file is larger than the {limit} MB upload limit ({len(data) / _MiB:,.1f} MB)")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        kind = f"file type {suffix!r}" if suffix else "a file without an extension"
        raise UploadRejectedError(f"{name}: {kind} is not accepted; upload EPUB, DOCX, PDF, TXT or Markdown (.md)")
    label = suffix[1:].upper()
    if suffix in (".epub", ".docx") and data[:4] != b"PK\x03\x04":
        raise UploadRejectedError(f"{name}: not a valid {label} file (an {label} is a ZIP archive and this is not one)")
    if suffix == ".pdf" and b"%PDF-" not in data[:1024]:
        raise UploadRejectedError(f"{name}: not a PDF file (no %PDF- header)")
    if UPLOAD_TYPES[suffix].startswith("text/"):
        for magic, what in _BINARY_MAGIC.items():
            if data.startswith(magic):
                raise UploadRejectedError(f"{name}: named as text but holds {what}")
        if b"\x00" in data and not data.startswith(_TEXT_BOMS) and not _looks_utf16(data[:8192]):
            raise UploadRejectedError(f"{name}: named as text but holds binary data (NUL bytes)")
    return UPLOAD_TYPES[suffix]
