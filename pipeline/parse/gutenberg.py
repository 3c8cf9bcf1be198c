"""Project Gutenberg boilerplate: the header before ``*** START OF ...`` and everything
from ``*** END OF ...`` (or "End of the Project Gutenberg EBook ...") onwards.

Shared by every parser, since PG's header and licence appear in its TXT, EPUB, DOCX and
PDF editions alike. :func:`parse_header` reads the ``Title:`` / ``Author:`` /
``Language:`` lines of the header for the plain-text and PDF parsers.
"""

from __future__ import annotations

import re

# "*** START OF THIS PROJECT GUTENBERG EBOOK X ***", "*** START OF THE PROJECT ...".
START_RE = re.compile(r"^\s*\*{3}\s*START OF (?:THIS|THE) PROJECT GUTENBERG", re.I)
# "*** END OF THIS PROJECT GUTENBERG EBOOK X ***" and the line PG puts just before it.
END_RE = re.compile(
    r"^\s*(?:\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG"
    r"|End of (?:the )?Project Gutenberg'?s?\b)",
    re.I,
)
# Paragraph-level markers in HTML/EPUB/DOCX editions.
LICENSE_RE = re.compile(
    r"\b(?:START: FULL LICEN[CS]E|THE FULL PROJECT GUTENBERG LICEN[CS]E)\b", re.I
)

# "Title: X" etc. in the header; continuation lines of a long value are indented.
_HEADER_FIELD_RE = re.compile(r"^(Title|Author|Language)\s*:\s*(\S.*?)\s*$", re.I)
_LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "latin": "la", "swedish": "sv", "danish": "da",
    "finnish": "fi", "norwegian": "no", "polish": "pl", "russian": "ru", "greek": "el",
    "chinese": "zh", "japanese": "ja", "esperanto": "eo", "hungarian": "hu", "czech": "cs",
}  # fmt: skip
_HEADER_SCAN_LINES = 300  # how far to look for a header when there is no START marker


def is_boilerplate_text(text: str) -> bool:
    """True when a paragraph or document is PG licence/header boilerplate."""
    return bool(START_RE.search(text) or END_RE.search(text) or LICENSE_RE.search(text))


def _marker_end(lines: list[str], i: int) -> int:
    """Index after a marker line that starts at ``i`` and may wrap onto the next lines.

    PDF editions wrap long markers ("*** START OF THE PROJECT GUTENBERG EBOOK
    FRANKENSTEIN; OR,", "THE MODERN PROMETHEUS ***"); the marker ends at the line
    that closes with ``***`` (looked for within two further lines).
    """
    if lines[i].rstrip().endswith("***") or not lines[i].lstrip().startswith("***"):
        return i + 1
    for j in range(i + 1, min(i + 3, len(lines))):
        if lines[j].rstrip().endswith("***"):
            return j + 1
    return i + 1


def gutenberg_bounds(lines: list[str]) -> tuple[int, int]:
    """``(start, end)`` indices of the book text between PG's markers in ``lines``.

    ``start`` is just after the START marker (0 without one); ``end`` is the END marker
    line, or the ``*** START: FULL LICENSE ***`` line when END is missing, or
    ``len(lines)``.
    """
    start = next((_marker_end(lines, i) for i, ln in enumerate(lines) if START_RE.match(ln)), 0)
    end = next((i for i in range(start, len(lines)) if END_RE.match(lines[i])), None)
    if end is None:
        end = next((i for i in range(start, len(lines)) if LICENSE_RE.search(lines[i])), len(lines))
    return start, end


def strip_gutenberg(lines: list[str]) -> list[str]:
    """Return the lines between PG's START and END markers (all lines if there are none).

    ``lines`` are text lines without line endings. The marker lines themselves are
    dropped (a START marker wrapped over two lines included); when only one marker
    exists, only that side is cut.
    """
    start, end = gutenberg_bounds(lines)
    return lines[start:end]


def parse_header(lines: list[str]) -> dict[str, str]:
    """Read ``Title``, ``Author`` and ``Language`` from a PG header.

    Looks only above the START marker (or in the first lines when there is none).
    Returns a dict with keys ``"title"``, ``"author"``, ``"language"`` (a BCP 47 tag
    such as ``"en"``) for the fields found; a value wrapped onto an indented next line
    is joined.
    """
    stop = next((i for i, ln in enumerate(lines) if START_RE.match(ln)), None)
    if stop is None:
        stop = min(len(lines), _HEADER_SCAN_LINES)
    found: dict[str, str] = {}
    for i in range(stop):
        m = _HEADER_FIELD_RE.match(lines[i].strip())
        if not m or m.group(1).lower() in found:
            continue
        value = m.group(2)
        if i + 1 < stop and lines[i + 1][:1] in (" ", "\t") and lines[i + 1].strip():
            value += " " + lines[i + 1].strip()
        found[m.group(1).lower()] = value
    if "language" in found:
        lang = _LANGUAGES.get(found["language"].split()[0].strip(",;").lower())
        if lang:
            found["language"] = lang
        else:
            del found["language"]
    return found
