"""Chapter-heading patterns, title cleaning and the book's sections, shared by the TXT,
Markdown and PDF parsers.

A *heading line* is a single line that, on its own, matches one of:

* ``Chapter 1``, ``CHAPTER I.``, ``Chapter One``, ``CHAPTER 2 - THE SCIENCE OF DEDUCTION``,
  ``Letter 4``, ``Stave III``, ``Canto 2`` -- chapter level;
* ``BOOK I``, ``PART II``, ``Volume 3``, ``Book the First`` -- *containers* of chapters;
* ``Prologue``, ``Epilogue``, ``Preface`` (also ``Author's Preface``), ``Foreword``,
  ``Introduction``, ``Afterword`` -- chapter level;
* a bare Roman numeral (``IV``, ``XII.``) -- chapter level, titled ``Chapter 4``, but only
  inside a run that counts up (``I``, ``II``, ``III``...), so a stray "I" is not a chapter;
* a lone capital letter (``A``) -- a dictionary section, but only inside a run that goes
  through the alphabet in order starting at ``A`` (The Devil's Dictionary's A..Z);
* ``Contents`` / ``Table of Contents`` -- dropped with the list that follows it.

Titles are cleaned for reading aloud: Roman chapter numbers become Arabic
("CHAPTER I. MR. SHERLOCK HOLMES." -> "Chapter 1. Mr. Sherlock Holmes"), all-capital text
gets title case, emphasis markers and trailing full stops go.

:func:`build_sections` splits a parser's paragraphs at the heading lines into the book's
:class:`~pipeline.models.Section` list (parts one level above their chapters), without
contents lists, producer credits or footnotes; :mod:`pipeline.structure` makes tracks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pipeline import structure
from pipeline.models import Block, BlockKind, Section, count_words
from pipeline.parse import gutenberg

_ROMAN_RE = re.compile(r"^(?=[MDCLXVI])M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_WORD_NUMBERS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred first second third fourth fifth sixth seventh eighth ninth "
    "tenth eleventh twelfth last"
).split()
_WORD_NUM = rf"(?:the\s+)?(?:{'|'.join(_WORD_NUMBERS)})(?:[\s-](?:{'|'.join(_WORD_NUMBERS)}))*"
_NUM = rf"(?:\d{{1,4}}|[IVXLCDM]{{1,8}}|{_WORD_NUM})"
_SEP = r"(?:\s*[.:\-–—]\s*|\s{2,})"
_CHAPTER_LABELS = {"chapter": "Chapter", "letter": "Letter", "stave": "Stave", "canto": "Canto"}
_CONTAINER_LABELS = {"book": "Book", "part": "Part", "volume": "Volume"}
_LABELED_RE = re.compile(
    rf"^(?P<label>chapter|letter|stave|canto|book|part|volume)\s+(?P<num>{_NUM})\.?"
    rf"(?:{_SEP}(?P<sub>\S.{{0,100}}?))?\s*$",
    re.I,
)
_FRONT_WORDS = ("prologue", "epilogue", "preface", "foreword", "introduction", "afterword")
_FRONT_RE = re.compile(
    rf"^(?:(?:the\s+)?(?:author|translator|editor)[’']s\s+)?(?P<word>{'|'.join(_FRONT_WORDS)})"
    rf"\.?(?:{_SEP}(?P<sub>\S.{{0,100}}?))?\s*$",
    re.I,
)
_BARE_ROMAN_RE = re.compile(r"^(?P<num>[IVXLC]{1,7})\.?$")
_LETTER_RE = re.compile(r"^(?P<letter>[A-Z])$")
_CONTENTS_RE = re.compile(r"^(?:table\s+of\s+)?contents\.?$", re.I)
_MAX_HEADING_CHARS = 120
_SMALL_WORDS = frozenset("a an and as at but by for from in into nor of on or the to with".split())


class HeadingKind(StrEnum):
    """What a heading line is, which decides how the structure builder treats it."""

    CHAPTER = "chapter"  # Chapter/Letter N, Prologue... : starts a chapter
    CONTAINER = "container"  # Part/Book/Volume N: groups chapters
    ROMAN = "roman"  # bare Roman numeral: a chapter only inside a counting run
    LETTER = "letter"  # lone capital letter: a section only inside an A, B, C... run
    CONTENTS = "contents"  # "Contents": the start of a table of contents


@dataclass(frozen=True)
class Heading:
    """A recognised heading line: its kind, cleaned title and sequence value."""

    kind: HeadingKind
    title: str
    value: int = 0  # number of a bare Roman numeral, or 1..26 for a lone letter


def roman_to_int(text: str) -> int | None:
    """Value of a valid upper-case Roman numeral (``"XIV"`` -> 14), else ``None``."""
    if not _ROMAN_RE.match(text):
        return None
    values = [_ROMAN_VALUES[c] for c in text]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _number(num: str) -> str:
    """A chapter number as read aloud: Roman -> Arabic, words capitalised."""
    value = roman_to_int(num.upper()) if num.isalpha() and num.isupper() else None
    if value is None and re.fullmatch(r"[ivxlcdm]+", num) and len(num) <= 4:
        value = roman_to_int(num.upper())  # "chapter iv"
    if value is not None:
        return str(value)
    if num.isdigit():
        return str(int(num))
    return " ".join(w if w.lower() == "the" else w.capitalize() for w in num.lower().split())


def _case_word(word: str, first: bool) -> str:
    """Title-case one word of an all-capital heading (keeps M.D., Roman numerals).

    ``first``: the word opens the title or follows a stop ("12. THE" -> "The"), so a
    small word ("the", "of") is capitalised too."""
    core = word.strip("\"'“”‘’(),;:!?")
    initials = re.fullmatch(r"(?:[A-Z]\.)+[A-Z]?", core)
    if len(core) > 1 and (initials or roman_to_int(core.rstrip("."))):
        return word
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    return re.sub(r"[a-zà-ɏ]", lambda m: m.group().upper(), lower, count=1)


def clean_title(text: str) -> str:
    """Tidy heading text for reading aloud.

    Strips Markdown emphasis (``_x_``, ``*x*``), collapses whitespace, drops trailing
    full stops / colons, and title-cases text written all in capitals
    ("THE SCIENCE OF DEDUCTION" -> "The Science of Deduction"); the word after a stop
    counts as a first word ("12. THE GOLDEN KEY" -> "12. The Golden Key"). Text with
    lower-case letters keeps its case as printed. Punctuation inside is kept.
    """
    text = re.sub(r"(?<!\w)[_*]+|[_*]+(?!\w)", "", text)
    text = " ".join(text.split()).rstrip(" :;,-–—")
    if not re.search(r"(?:^|\s)(?:[A-Z]\.){2,}$", text):
        text = text.rstrip(" .")
    if text and not re.search(r"[a-zà-ɏ]", text):
        words = text.split()
        text = " ".join(
            _case_word(w, i == 0 or _ends_phrase(words[i - 1])) for i, w in enumerate(words)
        )
    return text


def _ends_phrase(word: str) -> bool:
    """A word after which a title starts anew: "12.", "XII.", "END:", "—" (not "MR.")."""
    if re.search(r"[:;!?—–-]$", word):
        return True
    core = word.rstrip(".")
    return word.endswith(".") and (
        core.isdigit() or roman_to_int(core) is not None or len(core) > 3
    )


def _with_sub(base: str, sub: str | None) -> str:
    sub = clean_title(sub) if sub else ""
    return f"{base}. {sub}" if sub else base


def classify_heading(line: str) -> Heading | None:
    """Recognise a heading line (see the module docstring); ``None`` for body text.

    ``line`` is one line of text; Markdown ``#`` markers must already be removed.
    """
    line = " ".join(re.sub(r"(?<!\w)[_*]+|[_*]+(?!\w)", "", line).split())
    if not line or len(line) > _MAX_HEADING_CHARS:
        return None
    if m := _LABELED_RE.match(line):
        label, num = m.group("label").lower(), m.group("num")
        if not num.isdigit() and not num.isupper() and re.fullmatch(r"[IVXLCDM]+", num, re.I):
            if len(num) > 4:
                return None  # "Part mix" style false positives
        kind = HeadingKind.CONTAINER if label in _CONTAINER_LABELS else HeadingKind.CHAPTER
        name = _CONTAINER_LABELS.get(label) or _CHAPTER_LABELS[label]
        return Heading(kind, _with_sub(f"{name} {_number(num)}", m.group("sub")))
    if m := _FRONT_RE.match(line):
        base = clean_title(
            line[: m.end("word")]
        )  # as printed: "AUTHOR'S PREFACE" -> "Author's Preface"
        return Heading(HeadingKind.CHAPTER, _with_sub(base[:1].upper() + base[1:], m.group("sub")))
    if m := _LETTER_RE.match(line):
        return Heading(HeadingKind.LETTER, line, ord(line) - ord("A") + 1)
    if (m := _BARE_ROMAN_RE.match(line)) and (value := roman_to_int(m.group("num"))):
        return Heading(HeadingKind.ROMAN, f"Chapter {value}", value)
    if _CONTENTS_RE.match(line):
        return Heading(HeadingKind.CONTENTS, "Contents")
    return None


def accepted_sequence(headings: dict[int, Heading]) -> dict[int, Heading]:
    """The lone letters and bare numerals among ``headings`` that count as headings.

    ``headings`` maps paragraph positions to candidates; the result maps the accepted
    positions to their final :class:`Heading`. Lone letters count when they run through
    the alphabet from ``A`` (each at most two letters after the previous one) and the
    run has at least 3 letters; a lone letter outside such a run is re-read as a bare
    Roman numeral ("I", "V"). Bare numerals count when each is 1 or one more than the
    previous one, and a 1 only when a 2 follows.
    """
    accepted: dict[int, Heading] = {}
    run: list[int] = []
    for i, h in headings.items():
        if h.kind is not HeadingKind.LETTER:
            continue
        if run and 0 < h.value - headings[run[-1]].value <= 2:
            run.append(i)
        elif h.value == 1 and len(run) < 3:
            run = [i]
    if len(run) >= 3:
        accepted.update((i, headings[i]) for i in run)
    romans: list[tuple[int, int]] = []
    for i, h in headings.items():
        if i in accepted or h.kind not in (HeadingKind.ROMAN, HeadingKind.LETTER):
            continue
        value = h.value if h.kind is HeadingKind.ROMAN else roman_to_int(h.title) or 0
        if value:
            romans.append((i, value))
    for k, (i, value) in enumerate(romans):
        prev_ok = k > 0 and romans[k - 1][0] in accepted and romans[k - 1][1] + 1 == value
        next_ok = value == 1 and k + 1 < len(romans) and romans[k + 1][1] == 2
        if prev_ok or next_ok:
            accepted[i] = Heading(HeadingKind.ROMAN, f"Chapter {value}", value)
    return accepted


# --- structure: paragraphs -> sections ------------------------------------------------

_FRONT_MIN_WORDS = 100  # shorter untitled text before the first heading is a title page
_CONTENTS_MAX_WORDS = 500  # text under "Contents" longer than this is not a contents list
_MIN_BODY_WORDS = 2  # a heading with less body than this (bar the last) is a contents entry


@dataclass(frozen=True)
class Para:
    """A paragraph handed to :func:`build_sections` by a format parser.

    ``level`` is the Markdown heading level (1-6) of an explicit heading, 0 otherwise;
    plain paragraphs are tested against the heading patterns (a one-line paragraph, or a
    heading line and its title on a second line).
    """

    text: str
    kind: BlockKind = BlockKind.PARAGRAPH
    level: int = 0


def _line_heading(text: str) -> Heading | None:
    """The heading a plain paragraph is: one heading line, or a labelled heading line and
    a second line that is its title ("CHAPTER I.\\nLoomings") or the rest of a title that
    wrapped ("CHAPTER III. THE ADVENTURE OF THE\\nSPECKLED BAND")."""
    lines = text.split("\n")
    h = classify_heading(lines[0])
    if h is None or len(lines) == 1:
        return h
    if len(lines) > 2 or h.kind not in (HeadingKind.CHAPTER, HeadingKind.CONTAINER):
        return None
    second = lines[1]
    if len(second) > 70 or re.search(r"[,;!?]$", second):
        return None
    if "." not in h.title:
        return Heading(h.kind, _with_sub(h.title, second))  # "CHAPTER I.\nLoomings"
    cased = bool(re.search(r"[a-z]", lines[0])) == bool(re.search(r"[a-z]", second))
    if cased and not re.search(r"[.!?:]$", lines[0]):
        return classify_heading(f"{lines[0]} {second}")
    return None


def _find_headings(paras: list[Para]) -> tuple[dict[int, Heading], int]:
    """Positions of ``paras`` that are headings, with their cleaned titles, and the
    Markdown level of the chapter headings (0 when none is explicit)."""
    explicit = [p.level for p in paras if p.level and _explicit(p).kind is HeadingKind.CHAPTER]
    chapter_level = min(explicit, default=0)
    found: dict[int, Heading] = {}
    candidates: dict[int, Heading] = {}
    for i, para in enumerate(paras):
        if para.kind is not BlockKind.PARAGRAPH:
            continue
        if para.level:
            marked = _explicit(para)
            if (
                marked.kind is HeadingKind.CONTAINER
                or para.level <= chapter_level
                or not chapter_level
            ):
                found[i] = marked
            continue
        if (h := _line_heading(para.text)) is not None:
            (candidates if h.kind in (HeadingKind.LETTER, HeadingKind.ROMAN) else found)[i] = h
    found.update(accepted_sequence(candidates))
    return dict(sorted(found.items())), chapter_level


def _explicit(para: Para) -> Heading:
    """A Markdown heading: a known pattern, or a chapter titled with its text."""
    h = classify_heading(para.text)
    if h is None or h.kind in (HeadingKind.LETTER, HeadingKind.ROMAN):
        title = h.title if h and h.kind is HeadingKind.ROMAN else clean_title(para.text)
        return Heading(HeadingKind.CHAPTER, title)
    return h


def _levels(
    paras: list[Para], headings: dict[int, Heading], chapter_level: int
) -> tuple[dict[int, int], int]:
    """Raw depth of each heading (renumbered later) and the chapters' depth: Markdown
    levels where given (x2), a Part/Book/Volume one step above the chapters."""
    explicit_parts = [
        paras[i].level
        for i, h in headings.items()
        if paras[i].level and h.kind is HeadingKind.CONTAINER
    ]
    base = chapter_level or max(explicit_parts, default=0) + 1
    out: dict[int, int] = {}
    for i, h in headings.items():
        level = paras[i].level
        if h.kind is HeadingKind.CONTAINER:
            out[i] = 2 * level if level and level < base else 2 * base - 1
        else:
            out[i] = 2 * level if level else 2 * base
    return out, 2 * base


def _to_block(para: Para, square_notes: bool) -> Block:
    if para.kind is BlockKind.SECTION_BREAK:
        return Block(BlockKind.SECTION_BREAK)
    if para.level:
        return Block(BlockKind.HEADING, clean_title(para.text))
    return Block(para.kind, gutenberg.strip_note_markers(para.text, square_notes))


def _body_words(blocks: list[Block]) -> int:
    return sum(count_words(b.text) for b in blocks if b.kind is BlockKind.PARAGRAPH)


def _entries(raw: list[tuple[Heading, int, list[Block]]], untitled: str) -> list[Section]:
    """Sections of the headings that are not a contents list (rules of build_sections)."""

    def enough(k: int, n: int, blocks: list[Block]) -> bool:  # bar the last entry, 2 words
        return _body_words(blocks) >= (_MIN_BODY_WORDS if k < n - 1 else 1)

    raw = [
        r
        for k, r in enumerate(raw)
        if r[0].kind is HeadingKind.CONTAINER or enough(k, len(raw), r[2])
    ]
    out: list[Section] = []
    for k in range(len(raw) - 1, -1, -1):  # backwards: a part's chapters are known
        h, level, blocks = raw[k]
        has_child = bool(out) and out[0].level > level
        if h.kind is HeadingKind.CONTAINER and not has_child and not enough(k, len(raw), blocks):
            continue
        if h.kind is HeadingKind.CONTENTS and _body_words(blocks) <= _CONTENTS_MAX_WORDS:
            continue
        out.insert(
            0,
            Section(level, untitled if h.kind is HeadingKind.CONTENTS else h.title, tuple(blocks)),
        )
    return out


def build_sections(paras: list[Para], fallback_title: str) -> list[Section]:
    """The book's structure: ``paras`` split at heading lines into :class:`Section`s,
    levels renumbered from 1 (:func:`pipeline.structure.normalize`), in reading order.

    Levels: Part/Book/Volume headings (containers) are one level above the chapters;
    Markdown heading levels order explicit headings (``#`` part, ``##`` chapter), and a
    container at the chapters' own Markdown level is put one level above them. Markdown
    headings deeper than the chapters' level stay in the text as ``HEADING`` blocks.
    A section's blocks are its own text up to the next heading, without the heading.

    Dropped: a chapter heading with fewer than 2 words of text before the next heading
    (bar the last: 1), so a contents list that repeats every heading yields nothing; a
    part left without chapters or text; "Contents" with its list (kept, titled
    ``fallback_title``, only past 500 words); footnotes and their inline markers
    (:func:`pipeline.parse.gutenberg.footnote_paragraphs`). Untitled text before the
    first heading, less producer credits (:func:`pipeline.parse.gutenberg.credit_paragraphs`),
    becomes a "Preface" section only with at least 100 words (otherwise it is a title
    page). Without any heading the whole text is one section titled ``fallback_title``.
    """
    headings, chapter_level = _find_headings(paras)
    notes, square = gutenberg.footnote_paragraphs([p.text for p in paras], headings)
    headings = {i: h for i, h in headings.items() if i not in notes}
    levels, chapter_depth = _levels(paras, headings, chapter_level)
    bounds = [*headings, len(paras)]

    def blocks(indices: Iterable[int]) -> list[Block]:
        return [_to_block(paras[j], square) for j in indices if j not in notes]

    raw = [
        (headings[i], levels[i], blocks(range(i + 1, end))) for i, end in zip(bounds, bounds[1:])
    ]
    sections = _entries(raw, fallback_title)
    front = blocks(range(bounds[0]))  # notes dropped, then credits
    credits = gutenberg.credit_paragraphs([b.text for b in front])
    front = [b for n, b in enumerate(front) if n not in credits]
    if not sections:
        sections = [Section(1, fallback_title, tuple(front))]
    elif _body_words(front) >= _FRONT_MIN_WORDS:
        sections.insert(0, Section(chapter_depth, "Preface", tuple(front)))
    return list(structure.normalize(sections))
