"""Chapter-heading patterns and title cleaning shared by the TXT, Markdown and PDF parsers.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pipeline.models import Block, BlockKind, Chapter, count_words

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
    """Title-case one word of an all-capital heading (keeps M.D., Roman numerals)."""
    core = word.strip("\"'“”‘’(),;:!?")
    initials = re.fullmatch(r"(?:[A-Z]\.)+[A-Z]?", core)
    if len(core) > 1 and (initials or roman_to_int(core)):
        return word
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    return re.sub(r"[a-zà-ɏ]", lambda m: m.group().upper(), lower, count=1)


def clean_title(text: str) -> str:
    """Tidy heading text for reading aloud.

    Strips Markdown emphasis (``_x_``, ``*x*``), collapses whitespace, drops trailing
    full stops / colons, and title-cases text written all in capitals
    ("THE SCIENCE OF DEDUCTION" -> "The Science of Deduction").
    """
    text = re.sub(r"(?<!\w)[_*]+|[_*]+(?!\w)", "", text)
    text = " ".join(text.split()).rstrip(" :;,-–—")
    if not re.search(r"(?:^|\s)(?:[A-Z]\.){2,}$", text):
        text = text.rstrip(" .")
    if text and not re.search(r"[a-zà-ɏ]", text):
        text = " ".join(_case_word(w, i == 0) for i, w in enumerate(text.split()))
    return text


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
        return Heading(HeadingKind.CHAPTER, _with_sub(m.group("word").capitalize(), m.group("sub")))
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


# --- structure: paragraphs -> chapters ------------------------------------------------

_FOLD_MAX_WORDS = 200  # a Part's own text before its first chapter stays with that chapter
_FRONT_MIN_WORDS = 100  # shorter untitled text before the first heading is a title page
_CONTENTS_MAX_WORDS = 500  # text under "Contents" longer than this is not a contents list
_MIN_BODY_WORDS = 2  # a heading with less body than this (bar the last) is a contents entry
_PRODUCED_BY_RE = re.compile(r"^(?:produced by|e-?text prepared by|transcribed by)\b", re.I)


@dataclass(frozen=True)
class Para:
    """A paragraph handed to :func:`build_chapters` by a format parser.

    ``level`` is the Markdown heading level (1-6) of an explicit heading, 0 otherwise;
    plain single-line paragraphs are tested against the heading patterns.
    """

    text: str
    kind: BlockKind = BlockKind.PARAGRAPH
    level: int = 0


def _find_headings(paras: list[Para]) -> dict[int, Heading]:
    """Positions of ``paras`` that are headings, with their cleaned titles."""
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
        lines = para.text.split("\n")
        h: Heading | None = classify_heading(lines[0])
        labelled = h is not None and h.kind in (HeadingKind.CHAPTER, HeadingKind.CONTAINER)
        if h is not None and labelled and len(lines) == 2:
            if "." not in h.title and len(lines[1]) <= 70 and not re.search(r"[,;!?]$", lines[1]):
                h = Heading(h.kind, _with_sub(h.title, lines[1]))  # "CHAPTER I.\nLoomings"
            else:
                h = None
        elif len(lines) > 1:
            h = None
        if h is None:
            continue
        (candidates if h.kind in (HeadingKind.LETTER, HeadingKind.ROMAN) else found)[i] = h
    found.update(accepted_sequence(candidates))
    return dict(sorted(found.items()))


def _explicit(para: Para) -> Heading:
    """A Markdown heading: a known pattern, or a chapter titled with its text."""
    h = classify_heading(para.text)
    if h is None or h.kind in (HeadingKind.LETTER, HeadingKind.ROMAN):
        title = h.title if h and h.kind is HeadingKind.ROMAN else clean_title(para.text)
        return Heading(HeadingKind.CHAPTER, title)
    return h


def _to_block(para: Para) -> Block:
    if para.kind is BlockKind.SECTION_BREAK:
        return Block(BlockKind.SECTION_BREAK)
    if para.level:
        return Block(BlockKind.HEADING, clean_title(para.text))
    return Block(para.kind, para.text)


def _body_words(blocks: list[Block]) -> int:
    return sum(count_words(b.text) for b in blocks if b.kind is BlockKind.PARAGRAPH)


def _tidy(blocks: list[Block]) -> tuple[Block, ...]:
    """Drop section breaks at either end and repeated ones."""
    out: list[Block] = []
    for b in blocks:
        is_break = b.kind is BlockKind.SECTION_BREAK
        if is_break and (not out or out[-1].kind is BlockKind.SECTION_BREAK):
            continue
        out.append(b)
    while out and out[-1].kind is BlockKind.SECTION_BREAK:
        out.pop()
    return tuple(out)


def build_chapters(paras: list[Para], fallback_title: str) -> tuple[Chapter, ...]:
    """Split paragraphs into chapters at heading lines.

    Rules: a heading needs at least a few words of body text before the next heading,
    so a contents list that repeats every heading yields no chapters, and "Contents"
    with its list is dropped. A Part/Book/Volume heading followed (within a short
    introduction) by a chapter heading is not a chapter: it and its introduction open
    that first chapter as a ``HEADING`` block, so titles stay "Chapter 1. ...".
    Untitled text before the first heading becomes a "Preface" chapter only when it
    has at least 100 words (otherwise it is a title page: dropped). Without any heading,
    the whole text is one chapter titled ``fallback_title``.
    """
    headings = _find_headings(paras)
    order = list(headings)
    front: list[Block] = []
    chapters: list[tuple[str, list[Block]]] = []
    target, prefix = front, []
    for k, i in enumerate(order):
        body = paras[(order[k - 1] + 1 if k else 0) : i]
        target.extend(_to_block(p) for p in body)
        h = headings[i]
        following = order[k + 1] if k + 1 < len(order) else len(paras)
        next_h = headings.get(following)
        gap_words = sum(count_words(p.text) for p in paras[i + 1 : following])
        folds = next_h is not None and next_h.kind is not HeadingKind.CONTAINER
        if h.kind is HeadingKind.CONTAINER and folds and gap_words < _FOLD_MAX_WORDS:
            prefix = [Block(BlockKind.HEADING, h.title)]
            target = prefix
            continue
        blocks = prefix if target is prefix else []
        chapters.append(("" if h.kind is HeadingKind.CONTENTS else h.title, blocks))
        target, prefix = blocks, []
    tail = paras[order[-1] + 1 :] if order else paras
    target.extend(_to_block(p) for p in tail)
    last = len(chapters) - 1
    result = [
        (t, b)
        for k, (t, b) in enumerate(chapters)
        if _body_words(b) >= (_MIN_BODY_WORDS if k < last else 1)
    ]
    result = [(t, b) for t, b in result if t or _body_words(b) > _CONTENTS_MAX_WORDS]
    front = [b for b in front if not _PRODUCED_BY_RE.match(b.text)]
    if not result:
        result = [(fallback_title, front)]
    elif _body_words(front) >= _FRONT_MIN_WORDS:
        result.insert(0, ("Preface", front))
    return tuple(
        Chapter(index=n, title=t or fallback_title, blocks=_tidy(b))
        for n, (t, b) in enumerate(result, 1)
    )
