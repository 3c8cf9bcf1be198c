"""Upload sniffing: :func:`check_upload` checks a manuscript upload's size, suffix
(one of :data:`UPLOAD_TYPES`) and leading bytes before anything is stored, and returns
its MIME type or raises :class:`UploadRejectedError` with a user-facing message.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from audiobook_app.storage.keys import _MiB
from pipeline.errors import UploadRejectedError, UploadTooLargeError

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
_TEXT_BOMS = (
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00\x00\xfe\xff",
)  # UTF-16 LE/BE (and UTF-32 LE), UTF-32 BE


def _looks_utf16(sample: bytes) -> bool:
    """NULs only at even or only at odd offsets, in at least a quarter of them: BOM-less UTF-16."""
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = max(1, len(sample) // 2)
    return (even == 0 and odd >= half / 4) or (odd == 0 and even >= half / 4)


def size_text(n_bytes: int) -> str:
    """``n_bytes`` for a message, in the largest unit it reaches (1 KB = 1024 bytes):
    one decimal ("61.2 MB", "2.0 MB" for a byte over 2 MB), none for a whole number of
    units ("50 MB"), bytes below 1 KB ("482 bytes")."""
    for unit, size in (("GB", 1024**3), ("MB", _MiB), ("KB", 1024)):
        if n_bytes >= size:
            text = f"{n_bytes / size:,.1f}"
            return (text.removesuffix(".0") if n_bytes % size == 0 else text) + f" {unit}"
    return f"{n_bytes} bytes"


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
        raise UploadTooLargeError(
            f"{name}: the file is larger than the {size_text(max_bytes)} upload limit "
            f"({size_text(len(data))})"
        )
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        kind = f"file type {suffix!r}" if suffix else "a file without an extension"
        raise UploadRejectedError(
            f"{name}: {kind} is not accepted; upload EPUB, DOCX, PDF, TXT or Markdown (.md)"
        )
    label = suffix[1:].upper()
    if suffix in (".epub", ".docx") and data[:4] != b"PK\x03\x04":
        raise UploadRejectedError(
            f"{name}: not a valid {label} file (an {label} is a ZIP archive and this is not one)"
        )
    if suffix == ".pdf" and b"%PDF-" not in data[:1024]:
        raise UploadRejectedError(f"{name}: not a PDF file (no %PDF- header)")
    if UPLOAD_TYPES[suffix].startswith("text/"):
        for magic, what in _BINARY_MAGIC.items():
            if data.startswith(magic):
                raise UploadRejectedError(f"{name}: named as text but holds {what}")
        if b"\x00" in data and not data.startswith(_TEXT_BOMS) and not _looks_utf16(data[:8192]):
            raise UploadRejectedError(f"{name}: named as text but holds binary data (NUL bytes)")
    return UPLOAD_TYPES[suffix]
