"""Storage keys and download file names: :func:`validate_key` (the key rules of the
package docstring, enforced before any I/O), :func:`user_key` to build
``users/<user_id>/...`` keys, :func:`safe_filename` to turn a user's file name into one
key part, :func:`content_disposition` for attachment downloads, and the download-URL
lifetime check shared by both backends.
"""

from __future__ import annotations

import re
from urllib.parse import quote

MAX_URL_TTL_S = 7 * 24 * 3600  # S3 refuses presigned URLs valid for longer
_MiB = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


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
        raise ValueError(
            f"invalid storage key {key!r}: absolute, backslash, control character or too long"
        )
    for part in parts:  # "." / ".." / hidden parts all start with "."
        if not part or part.startswith(".") or len(part.encode()) > 255:
            raise ValueError(
                f"invalid storage key {key!r}: empty, '..', hidden or over-long part {part!r}"
            )
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


def chapter_texts_key(user_id: int, book_id: int) -> str:
    """Key of a book's parsed section texts (JSON ``{"sections": [{title, text}]}``;
    books read before outlines: ``[{index, title, text}]`` per chapter), written by the
    ``inspect`` job for the book page's chapter preview (``audiobook_app.tracks``)."""
    return user_key(user_id, "books", str(book_id), "chapters.json")


def segment_key(user_id: int, book_id: int, segment_id: str) -> str:
    """Key of one synthesized segment (FLAC) of a book: segments are stored per book, so
    a later job of the book synthesizes only the ids none of its jobs stored."""
    return user_key(user_id, "books", str(book_id), "segments", f"{segment_id}.flac")


def take_key(user_id: int, book_id: int, take: str) -> str:
    """Key of one take of a segment (FLAC), kept by speech verification: ``take`` is
    :func:`pipeline.verify.take_id` (``<segment id>.take<N>``)."""
    return user_key(user_id, "books", str(book_id), "takes", f"{take}.flac")


def verify_record_key(user_id: int, book_id: int, segment_id: str) -> str:
    """Key of a segment's speech verification record (JSON, :mod:`pipeline.verify`)."""
    return user_key(user_id, "books", str(book_id), "verify", f"{segment_id}.json")


def job_key(user_id: int, job_id: str, *parts: str) -> str:
    """Key of a job's file (``plan.json``, ``output/...``)."""
    return user_key(user_id, "jobs", job_id, *parts)


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
