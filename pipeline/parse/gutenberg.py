"""Project Gutenberg boilerplate: the header before ``*** START OF ...`` and everything
from ``*** END OF ...`` (or "End of the Project Gutenberg EBook ...") onwards.

Shared by every parser, since PG's header and licence appear in its TXT, EPUB, DOCX and
PDF editions alike. :func:`parse_header` reads the ``Title:`` / ``Author:`` /
``Language:`` lines of the header for the plain-text and PDF parsers.

PG's plain-text conventions inside the book text are here too, for the TXT, Markdown and
PDF parsers (:mod:`pipeline.parse.headings`): producer / transcriber credits just after
the START marker (:func:`credit_paragraphs`) and ``{1}``-style footnotes collected under
a "FOOTNOTES:" line (:func:`footnote_paragraphs`, :func:`strip_note_markers`); neither
is read aloud.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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


# --- producer credits and footnotes (PG plain-text conventions) -----------------------

# Producer / transcriber credits PG puts just after the START marker: not read aloud.
# "Produced by ...", "Transcribed from the 1915 ... edition by David Price", "E-text
# prepared by ...", "This e-book was produced by ...", "(This file was produced from
# images ...)".
CREDIT_RE = re.compile(
    r"^\W{0,3}(?:(?:produced|prepared|transcribed|digiti[sz]ed|scanned|proof-?read)\b.{0,300}?\bby\b"
    r"|(?:this\s+)?(?:e-?text|e-?book|electronic\s+(?:text|edition)|html\s+version|file)\b"
    r".{0,60}?\b(?:produced|prepared|transcribed|created)\b)",
    re.I | re.S,
)
# A paragraph that opens a transcriber's note: "[Transcriber's Note: ...]".
TRANSCRIBER_NOTE_RE = re.compile(r"^\W{0,3}transcriber[’']?s?\s+notes?\b", re.I)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CREDIT_MAX_WORDS = 80  # a credit or e-mail line is short; longer text is prose
_CREDIT_SCAN = 20  # credits are looked for in this many paragraphs at the start

# Footnotes: a "FOOTNOTES:" line, then notes "{1} ..." (or "[1] ..."); markers inline.
FOOTNOTES_RE = re.compile(r"^\s*(?:foot-?\s?notes?|notes)\s*[:.]?\s*$", re.I)
NOTE_RE = re.compile(r"^\s*(?:\{(?P<curly>\d{1,3})\}|\[(?P<square>\d{1,3})\])")
# PG's other style: the note as its own paragraph, "[Footnote 1: ...]", near its marker.
BRACKET_NOTE_RE = re.compile(r"^\s*\[\s*foot-?note\s*\w{0,4}\s*:", re.I)
_CURLY_MARK_RE = re.compile(r"\s*\{\d{1,3}\}")
_SQUARE_MARK_RE = re.compile(r"\s*\[\d{1,3}\]")
_NOTE_MAX_PARAS = 10  # a bracketed note that does not close within this many paragraphs


def _words(text: str) -> int:
    return len(text.split())


def _bracket_run(texts: Sequence[str], i: int, limit: int) -> list[int]:
    """``i`` and the paragraphs after it up to the one closing the bracket opened at ``i``."""
    run = [i]
    j = i
    while not texts[j].rstrip().endswith("]") and j + 1 < min(len(texts), i + limit):
        j += 1
        run.append(j)
    return run


def credit_paragraphs(texts: Sequence[str]) -> set[int]:
    """Indices of ``texts`` (the paragraphs before the book's first heading, in order)
    that are producer / transcriber credits, which are not read aloud.

    Looked for only among the first 20 paragraphs, up to the first one of more than 80
    words (the book's prose has begun): a paragraph that matches :data:`CREDIT_RE` or
    holds an e-mail address (:data:`EMAIL_RE`), and a transcriber's note of any length
    (:data:`TRANSCRIBER_NOTE_RE`; a bracketed one runs to the paragraph that closes the
    bracket). A real preface is longer prose and stays.
    """
    drop: set[int] = set()
    head = list(texts[:_CREDIT_SCAN])
    for i, text in enumerate(head):
        if i in drop:
            continue
        if TRANSCRIBER_NOTE_RE.match(text):
            bracketed = text.lstrip().startswith("[")
            drop.update(_bracket_run(head, i, _CREDIT_SCAN) if bracketed else [i])
        elif _words(text) > _CREDIT_MAX_WORDS:
            break  # prose: the book has begun
        elif CREDIT_RE.match(text) or EMAIL_RE.search(text):
            drop.add(i)
    return drop


def footnote_paragraphs(texts: Sequence[str], stops: Iterable[int]) -> tuple[set[int], bool]:
    """Footnotes among the paragraphs ``texts``: ``(indices, square)``.

    Dropped: a "FOOTNOTES:" (or "Notes:") paragraph whose next paragraph starts with a
    note mark (``{1}`` or ``[1]``), with everything after it up to the next index in
    ``stops`` (the chapter headings) or the end; any paragraph starting with a ``{n}``
    mark; and PG's "[Footnote 1: ...]" paragraphs (to the one closing the bracket).
    ``square`` is True when notes use ``[n]`` marks, so ``[n]`` in the text are note
    markers too (see :func:`strip_note_markers`).
    """
    bounds = sorted(set(stops))
    drop: set[int] = set()
    square = False
    for i, text in enumerate(texts):
        if i in drop:
            continue
        nxt = NOTE_RE.match(texts[i + 1]) if i + 1 < len(texts) else None
        if FOOTNOTES_RE.match(text) and nxt:
            end = next((s for s in bounds if s > i), len(texts))
            drop.update(range(i, end))
            square = square or nxt.group("square") is not None
        elif (m := NOTE_RE.match(text)) and m.group("curly"):
            drop.add(i)
        elif BRACKET_NOTE_RE.match(text):
            drop.update(_bracket_run(texts, i, _NOTE_MAX_PARAS))
    return drop, square


def strip_note_markers(text: str, square: bool = False) -> str:
    """``text`` without inline footnote markers: ``{1}`` always, ``[1]`` when ``square``
    (the book's notes use that style); the space before a marker goes with it."""
    text = _CURLY_MARK_RE.sub("", text)
    return _SQUARE_MARK_RE.sub("", text) if square else text
