"""Typed hand-offs between the pipeline stages.

Every stage takes and returns these frozen dataclasses; nothing else crosses a stage
boundary. Text is plain Unicode (no markup); audio never appears here (it lives in the
segment store on disk, see ``pipeline.store``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# The word regex the corpus MANIFEST counts with; used for every word count we report.
WORD_RE = re.compile(r"[A-Za-z0-9À-ɏ]+(?:['’-][A-Za-z0-9À-ɏ]+)*")


def count_words(text: str) -> int:
    """Number of words in ``text`` (matches of :data:`WORD_RE`, as the corpus MANIFEST)."""
    return sum(1 for _ in WORD_RE.finditer(text))


class SourceFormat(StrEnum):
    """Manuscript formats the parse stage reads."""

    EPUB = "epub"
    DOCX = "docx"
    PDF = "pdf"
    TXT = "txt"
    MARKDOWN = "md"


class BlockKind(StrEnum):
    """Kinds of text block inside a chapter, each with its own pause rule."""

    PARAGRAPH = "paragraph"
    HEADING = "heading"  # a sub-heading inside a chapter (not the chapter title)
    SECTION_BREAK = "section_break"  # scene break (*** or <hr>); text is ""


@dataclass(frozen=True)
class Block:
    """One paragraph-level unit of a chapter: plain text, whitespace collapsed.

    ``text`` never contains footnote markers, markup or page furniture. Verse lines of
    one stanza are joined with ``"\\n"``; everything else is one line.

    The voices stage (:mod:`pipeline.casting`) cuts a paragraph with cast dialogue into
    runs: ``speaker`` is the role that reads the block (``None``: the narrator) and
    ``joined`` marks a run that continues the paragraph of the block before it (a
    sentence pause between them, not a paragraph pause).
    """

    kind: BlockKind
    text: str = ""
    speaker: str | None = None
    joined: bool = False


@dataclass(frozen=True)
class Chapter:
    """A track a listener hears: the title (read aloud) and the body blocks after it.

    ``index`` counts from 1 in reading order. ``title`` is human-readable ("Chapter 1",
    "Letter 1", "Etymology"); the heading line itself is not repeated in ``blocks``.
    ``preamble`` is read *before* the title: the heading (and short introduction) of the
    part, book or volume this track opens ("Part 1", then "Chapter 1. ..."). ``section``
    is the index in ``Book.sections`` of the section the track starts with (0 when the
    book has no sections).
    """

    index: int
    title: str
    blocks: tuple[Block, ...]
    preamble: tuple[Block, ...] = ()
    section: int = 0

    @property
    def text(self) -> str:
        """The body as plain text, blocks separated by blank lines."""
        return "\n\n".join(b.text for b in self.blocks if b.text)

    @property
    def words(self) -> int:
        """Words in the body (title excluded), counted with :data:`WORD_RE`."""
        return count_words(self.text)


@dataclass(frozen=True)
class Section:
    """One entry of a book's structure (a table-of-contents entry or a heading) and the
    text under it up to the next entry, at any depth.

    ``level`` is the depth from 1 (top: a part, or a chapter in a flat book). ``title`` is
    as the book prints it, cleaned of markup ("12. The Golden Key", "I.", "Part 1"); empty
    when the entry has none. ``blocks`` is the section's own text, up to the next section
    of any level, without its heading line. A section's children are the sections after
    it with a greater level, up to the next one at its level or above. Tracks are made
    from sections by :mod:`pipeline.structure`.
    """

    level: int
    title: str
    blocks: tuple[Block, ...] = ()

    @property
    def words(self) -> int:
        """Words in this section's own blocks (children excluded), by :data:`WORD_RE`."""
        return sum(count_words(b.text) for b in self.blocks if b.kind is BlockKind.PARAGRAPH)


@dataclass(frozen=True)
class Cover:
    """Cover image bytes and their MIME type (``image/jpeg`` or ``image/png``)."""

    data: bytes
    mime: str


@dataclass(frozen=True)
class BookMetadata:
    """Bibliographic metadata found in the manuscript or given by the author; ``None``
    where absent.

    ``language`` is a BCP 47 tag ("en", "en-US") when the file declares one.
    ``series`` is the name of the series the book belongs to and ``series_part`` its
    number in it, as text ("2", "2.5"); ``description`` is a plain-text blurb (the
    Audiobookshelf export writes it to ``desc.txt``).
    """

    title: str | None = None
    author: str | None = None
    language: str | None = None
    publisher: str | None = None
    year: str | None = None
    series: str | None = None
    series_part: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Book:
    """Result of the parse stage: everything a listener should hear, in order.

    ``chapters`` holds only what should be read aloud: no cover pages, tables of
    contents, licences, colophons or imprints. They are the tracks at the default split
    level of ``sections`` (the whole structure, every level; see
    :mod:`pipeline.structure`), or at the author's choice once applied with
    :func:`pipeline.structure.apply_layout`. ``warnings`` are non-fatal findings
    (e.g. "mimetype entry is compressed") worth showing the user.
    """

    metadata: BookMetadata
    chapters: tuple[Chapter, ...]
    source_format: SourceFormat
    cover: Cover | None = None
    warnings: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()

    @property
    def words(self) -> int:
        """Words in all chapters' bodies."""
        return sum(c.words for c in self.chapters)


@dataclass(frozen=True)
class ChapterAnalysis:
    """Per-chapter counts; durations in seconds at the narrator's measured pace."""

    index: int
    title: str
    words: int
    characters: int
    estimated_duration_s: float


@dataclass(frozen=True)
class BookAnalysis:
    """Result of the analyze stage (see ``pipeline.analyze``)."""

    title: str
    author: str | None
    language: str
    words: int
    characters: int
    estimated_duration_s: float
    chapters: tuple[ChapterAnalysis, ...]
    # who speaks the book's attributed quotations, most lines first (pipeline.dialogue)
    speakers: tuple[Speaker, ...] = ()


@dataclass(frozen=True)
class Speaker:
    """A character who speaks in the book: ``name`` as the cast names them, ``lines`` the
    quotations attributed to them, ``aliases`` the other forms of the name merged into it."""

    name: str
    lines: int
    aliases: tuple[str, ...] = ()


class SegmentKind(StrEnum):
    """What a segment reads: the spoken chapter title, or body text."""

    TITLE = "title"
    BODY = "body"


@dataclass(frozen=True)
class Segment:
    """One TTS call's worth of speakable text, with the pause that follows it.

    ``id`` is stable: a hash of (text, voice, engine, synthesis settings), so the same
    text with the same voice and settings maps to the same stored audio on every run.
    ``index`` counts from 0 within the chapter. ``pause_after_ms`` is the silence
    (room tone) assembly inserts after this segment's audio.
    """

    id: str
    chapter_index: int
    index: int
    kind: SegmentKind
    text: str
    voice: str
    engine: str
    pause_after_ms: int


@dataclass(frozen=True)
class ChapterPlan:
    """A chapter ready for synthesis and assembly: title, word count and segments."""

    index: int
    title: str
    words: int
    segments: tuple[Segment, ...] = field(default=())


def plan_to_dict(plan: ChapterPlan) -> dict:
    """A :class:`ChapterPlan` as JSON-ready data (how workers hand plans to each other)."""
    return {
        "index": plan.index,
        "title": plan.title,
        "words": plan.words,
        "segments": [{**seg.__dict__, "kind": str(seg.kind)} for seg in plan.segments],
    }


def plan_from_dict(data: dict) -> ChapterPlan:
    """Inverse of :func:`plan_to_dict`. Raises KeyError/TypeError on malformed data."""
    segments = tuple(Segment(**{**s, "kind": SegmentKind(s["kind"])}) for s in data["segments"])
    return ChapterPlan(data["index"], data["title"], data["words"], segments)
