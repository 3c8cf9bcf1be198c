"""Parse stage: manuscript bytes -> :class:`pipeline.models.Book`.

The format is decided by the file's content (magic bytes) first and its name second, so
a PNG renamed ``.txt`` or a ZIP renamed ``.epub`` gets a specific error instead of
garbage. Every failure is a :class:`pipeline.errors.InputError` subclass with a message
a user can act on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from pipeline.errors import EmptyFileError, InputError, UnsupportedFormatError
from pipeline.models import Book, SourceFormat

_SUFFIXES = {
    ".epub": SourceFormat.EPUB,
    ".docx": SourceFormat.DOCX,
    ".pdf": SourceFormat.PDF,
    ".txt": SourceFormat.TXT,
    ".text": SourceFormat.TXT,
    ".md": SourceFormat.MARKDOWN,
    ".markdown": SourceFormat.MARKDOWN,
}


def detect_format(data: bytes, filename: str) -> SourceFormat:
    """Decide the manuscript format from its bytes and name.

    A ZIP is an EPUB or a DOCX (by name, then by content); ``%PDF`` is a PDF; anything
    else is read as text (TXT, or Markdown for ``.md``). Raises
    :class:`UnsupportedFormatError` for an unknown suffix on a non-ZIP, non-PDF file.
    """
    suffix = Path(filename).suffix.lower()
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        if suffix == ".docx" or (suffix != ".epub" and b"word/document.xml" in data[:65536]):
            return SourceFormat.DOCX
        return SourceFormat.EPUB
    if data[:5] == b"%PDF-" or (suffix == ".pdf" and b"%PDF-" in data[:1024]):
        return SourceFormat.PDF
    if suffix in (".epub", ".docx", ".pdf"):
        return _SUFFIXES[suffix]  # wrong content for the name: that parser says why
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix == "":
        return SourceFormat.TXT
    raise UnsupportedFormatError(
        f"{filename}: unsupported file type {suffix!r}; use EPUB, DOCX, PDF, TXT or Markdown"
    )


def parse_bytes(data: bytes, filename: str) -> Book:
    """Parse a manuscript held in memory; ``filename`` picks the format with its bytes,
    prefixes every error message ("broken.epub: the EPUB is corrupt...") and, when the
    file declares no title, gives the book one ("my_novel.txt" -> "My novel"; a name
    written like a title is kept: "The Night Ferry.txt" -> "The Night Ferry").

    Raises :class:`EmptyFileError` for zero bytes and the format parser's specific
    :class:`InputError` for anything unreadable.
    """
    name = Path(filename).name
    try:
        book = _parse(data, name)
    except InputError as exc:
        msg = str(exc)
        if not msg.startswith(name):
            raise type(exc)(f"{name}: {msg}") from None
        raise
    if not book.metadata.title:
        stem = Path(name).stem.strip()
        if " " in stem or (stem != stem.lower() and not re.search(r"[_-]", stem)):
            # named like a title ("The Night Ferry.txt", "McGregor.txt"): kept as it is
            title = stem[:1].upper() + stem[1:]
        else:
            title = re.sub(r"[_-]+", " ", stem).strip().capitalize() or "Untitled"
        book = replace(book, metadata=replace(book.metadata, title=title))
    return book


def _parse(data: bytes, filename: str) -> Book:
    if not data:
        raise EmptyFileError(f"{filename}: the file is empty (0 bytes); nothing to read")
    fmt = detect_format(data, filename)
    if fmt is SourceFormat.EPUB:
        from pipeline.parse.epub import parse_epub

        return parse_epub(data)
    if fmt is SourceFormat.DOCX:
        from pipeline.parse.docx import parse_docx

        return parse_docx(data)
    if fmt is SourceFormat.PDF:
        from pipeline.parse.pdf import parse_pdf

        return parse_pdf(data)
    from pipeline.parse.text import parse_text

    return parse_text(data, markdown=fmt is SourceFormat.MARKDOWN)


def parse_file(path: str | Path) -> Book:
    """Read and parse a manuscript file (see :func:`parse_bytes`). Raises
    :class:`InputError` subclasses, also for a missing or unreadable path."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a manuscript file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    return parse_bytes(data, path.name)
