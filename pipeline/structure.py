"""A book's structure -> the tracks a listener hears, at a level the author can choose.

Every parser reads the whole structure of a manuscript as a flat list of
:class:`~pipeline.models.Section` (table-of-contents entries or headings, each with a
``level``: 1 is the top) and this module turns it into tracks (:class:`Chapter`):

* **Split level.** At level ``N`` every section at level ``N`` or above starts a track;
  deeper sections are read inside it, each announced by its title as a sub-heading. The
  default (:func:`default_split_level`) is the level that splits the whole book most
  consistently: starting at the top, go one level deeper while at least half of the
  entries at the current level, counted both by number and by words, have entries under
  them. A novel in parts goes down to its chapters; a story collection in which one story
  has numbered parts stays at the stories; a nav whose numbered selections sit at level 3
  and only a few of them hold sub-tales stops at level 3.
* **Parts are announced, not read as tracks.** A section that starts a track, is
  followed by a deeper one and holds no text, or fewer than :data:`FOLD_MAX_WORDS`
  words under a Part/Book/Volume title (a "Part 1" heading with a short epigraph), opens
  the next track instead: its title and text become that track's ``preamble``, read
  before the track's own title. Any other short section stays a track of its own, so an
  author who splits a chapter at its sub-heading gets both halves.
* **Titles as printed.** A track's title is its section's title. A bare number ("I.",
  "2") at the top of the book is read "Chapter N"; under another entry it is titled
  "<parent> — Part I" (a story's numbered parts), or "Chapter N" when the parent is a
  Part/Book/Volume heading. Never a generic "Chapter N" where the book prints a title.
* **The author's edits** (:class:`Layout`): a split level, or an explicit list of the
  sections that start tracks, made by merging adjacent tracks (:func:`merge`) and
  splitting one at a sub-heading (:func:`split`). Sections are addressed by their index
  in ``Book.sections``, so a layout is stored as plain numbers with the book.

Everything here works on :class:`SectionInfo` (level, title, words), so the web app can
show and edit the tracks from the stored outline without parsing the manuscript again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.annotate.roman import roman_value
from pipeline.errors import LayoutError
from pipeline.models import Block, BlockKind, Book, Chapter, Section

FOLD_MAX_WORDS = 200  # a part's own text up to this many words is its next track's preamble
_NUMERAL_RE = re.compile(r"^(?:(?P<digits>\d{1,4})|(?P<roman>[IVXLCDM]{1,8}))\.?$")
_CONTAINER_RE = re.compile(r"^(?:part|book|volume|vol\.|section|act)\b", re.I)


@dataclass(frozen=True)
class SectionInfo:
    """What the track layout needs of a section: its level, title and own word count."""

    level: int
    title: str
    words: int


@dataclass(frozen=True)
class Track:
    """A track made of sections ``lead..last`` (inclusive). Sections ``lead..first-1`` are
    its preamble (a part's heading); ``first`` gives its title; ``words`` counts the
    body (preamble excluded)."""

    lead: int
    first: int
    last: int
    title: str
    words: int


@dataclass(frozen=True)
class Layout:
    """The author's choice of tracks, stored with the book.

    ``starts`` (section indices that start a track) wins over ``split_level``; both
    ``None`` is the default level. ``sections`` is the number of sections the choice was
    made on: a layout for another count (the manuscript was parsed differently) is
    ignored by :func:`resolve_starts`.
    """

    split_level: int | None = None
    starts: tuple[int, ...] | None = None
    sections: int = 0

    def to_dict(self) -> dict:
        """JSON-ready form (what the book row and the CLI store)."""
        return {
            "split_level": self.split_level,
            "starts": list(self.starts) if self.starts is not None else None,
            "sections": self.sections,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Layout:
        """Inverse of :meth:`to_dict`; ``None`` or ``{}`` is the default layout."""
        data = data or {}
        starts = data.get("starts")
        return cls(
            split_level=data.get("split_level"),
            starts=tuple(int(s) for s in starts) if starts is not None else None,
            sections=int(data.get("sections") or 0),
        )


def outline(sections: Sequence[Section]) -> tuple[SectionInfo, ...]:
    """The :class:`SectionInfo` of each section, in order."""
    return tuple(SectionInfo(s.level, s.title, s.words) for s in sections)


def normalize(sections: Sequence[Section]) -> tuple[Section, ...]:
    """Sections with levels renumbered 1..k in the order of the distinct levels used
    (heading levels 2 and 4 become 1 and 2), so level 1 is always the top."""
    ranks = {lvl: n for n, lvl in enumerate(sorted({s.level for s in sections}), 1)}
    return tuple(replace(s, level=ranks[s.level]) for s in sections)


def max_level(info: Sequence[SectionInfo]) -> int:
    """The deepest level in the outline (0 when empty)."""
    return max((s.level for s in info), default=0)


def _subtree_end(info: Sequence[SectionInfo], i: int) -> int:
    """Index after the last descendant of section ``i``."""
    end = i + 1
    while end < len(info) and info[end].level > info[i].level:
        end += 1
    return end


def default_split_level(info: Sequence[SectionInfo]) -> int:
    """The split level that divides the whole book most consistently (module doc rule):
    from the top, one level deeper while at least half of the current level's entries,
    by count and by words (with everything under them), have entries under them.
    Returns 1 for an empty or flat outline."""
    level = 1
    while level < max_level(info):
        entries = [i for i, s in enumerate(info) if s.level == level]
        ends = {i: _subtree_end(info, i) for i in entries}
        words = {i: sum(s.words for s in info[i : ends[i]]) for i in entries}
        divided = [i for i in entries if ends[i] > i + 1]
        total_words = sum(words.values())
        by_count = 2 * len(divided) >= len(entries) > 0
        by_words = 2 * sum(words[i] for i in divided) >= total_words
        if not (by_count and by_words):
            break
        level += 1
    return level


def check_level(info: Sequence[SectionInfo], level: int) -> None:
    """Raise :class:`LayoutError` unless ``level`` is one of the outline's levels."""
    deepest = max(1, max_level(info))
    if not 1 <= level <= deepest:
        choice = "1" if deepest == 1 else f"1..{deepest}"
        raise LayoutError(
            f"the book's table of contents has {deepest} level{'s' if deepest > 1 else ''}; "
            f"choose a split level of {choice} (got {level})"
        )


def starts_at_level(info: Sequence[SectionInfo], level: int) -> tuple[int, ...]:
    """Sections that start a track at split level ``level`` (the first always does)."""
    return tuple(i for i, s in enumerate(info) if i == 0 or s.level <= level)


def resolve_starts(info: Sequence[SectionInfo], layout: Layout | None = None) -> tuple[int, ...]:
    """The track starts a layout asks for: its own ``starts`` when they were made on this
    outline, else its ``split_level`` (clamped to the outline's depth), else the default."""
    layout = layout or Layout()
    if layout.starts is not None and layout.sections == len(info):
        return tuple(sorted({0, *(s for s in layout.starts if 0 <= s < len(info))}))
    level = layout.split_level or default_split_level(info)
    return starts_at_level(info, max(1, min(level, max_level(info) or 1)))


def _numeral(title: str, letters_are_letters: bool) -> str | None:
    """The number a bare-numeral title prints ("XII." -> "XII"), else ``None``."""
    m = _NUMERAL_RE.match(title.strip())
    if not m or (m["roman"] and (letters_are_letters or roman_value(m["roman"]) is None)):
        return None
    return m["digits"] or m["roman"]


def _parent(info: Sequence[SectionInfo], i: int) -> int | None:
    return next((j for j in range(i - 1, -1, -1) if info[j].level < info[i].level), None)


def track_title(info: Sequence[SectionInfo], i: int) -> str:
    """The title of a track that starts at section ``i`` (module doc: titles as printed)."""
    title = info[i].title.strip()
    singles = {s.title.strip().rstrip(".") for s in info}
    letters = any(len(t) == 1 and t.isalpha() and roman_value(t) is None for t in singles)
    number = _numeral(title, letters)
    if number is None:
        return title
    parent = _parent(info, i)
    if parent is None or _CONTAINER_RE.match(info[parent].title):
        value = int(number) if number.isdigit() else roman_value(number)
        return f"Chapter {value}"
    return f"{info[parent].title.strip()} — Part {number}"


def tracks(info: Sequence[SectionInfo], starts: Sequence[int]) -> tuple[Track, ...]:
    """The tracks that ``starts`` makes of the outline (module doc: parts fold into the
    next track's preamble; a track without any words is dropped)."""
    if not info:
        return ()
    bounds = sorted({0, *(s for s in starts if 0 <= s < len(info))}) + [len(info)]
    out: list[Track] = []
    lead: int | None = None
    for begin, end in zip(bounds, bounds[1:], strict=False):
        words = sum(s.words for s in info[begin:end])
        nxt = end if end < len(info) else None
        heads = end - begin == 1 and nxt is not None and info[nxt].level > info[begin].level
        short_part = words < FOLD_MAX_WORDS and _CONTAINER_RE.match(info[begin].title)
        if heads and (words == 0 or short_part):
            lead = begin if lead is None else lead
            continue
        if words == 0:
            lead = None
            continue
        out.append(Track(begin if lead is None else lead, begin, end - 1, "", words))
        lead = None
    titles = [track_title(info, t.first) for t in out]
    return tuple(replace(t, title=title) for t, title in zip(out, titles, strict=True))


def chapters(
    sections: Sequence[Section], starts: Sequence[int] | None = None
) -> tuple[Chapter, ...]:
    """The tracks of ``sections`` as chapters (``starts``: default split level when
    ``None``). Deeper sections inside a track are read as a ``HEADING`` block with their
    title, then their text; a section's title equal to the track title is not repeated."""
    info = outline(sections)
    if starts is None:
        starts = resolve_starts(info)
    out: list[Chapter] = []
    for n, t in enumerate(tracks(info, starts), 1):
        preamble = [
            b
            for s in sections[t.lead : t.first]
            for b in (s.blocks if t.title.startswith(f"{s.title.strip()} — ") else _with_heading(s))
        ]
        blocks = list(sections[t.first].blocks)
        for s in sections[t.first + 1 : t.last + 1]:
            blocks.extend(_with_heading(s))
        out.append(Chapter(n, t.title or f"Chapter {n}", _tidy(blocks), _tidy(preamble), t.first))
    return tuple(out)


def _with_heading(section: Section) -> list[Block]:
    head = [Block(BlockKind.HEADING, section.title)] if section.title.strip() else []
    return head + list(section.blocks)


def _tidy(blocks: list[Block]) -> tuple[Block, ...]:
    """Drop section breaks at either end and repeated ones."""
    out: list[Block] = []
    for b in blocks:
        if b.kind is BlockKind.SECTION_BREAK and (
            not out or out[-1].kind is BlockKind.SECTION_BREAK
        ):
            continue
        out.append(b)
    while out and out[-1].kind is BlockKind.SECTION_BREAK:
        out.pop()
    return tuple(out)


def apply_layout(book: Book, layout: Layout | None) -> Book:
    """``book`` with its chapters made at the author's layout (default when ``None``).
    A book without sections (made before sections existed) is returned unchanged."""
    if not book.sections:
        return book
    starts = resolve_starts(outline(book.sections), layout)
    return replace(book, chapters=chapters(book.sections, starts))


def merge(info: Sequence[SectionInfo], starts: Sequence[int], track: int) -> tuple[int, ...]:
    """Starts with track ``track`` (1-based, as numbered by :func:`tracks`) joined to the
    one after it. Raises :class:`LayoutError` when there is no such pair."""
    made = tracks(info, starts)
    if not 1 <= track < len(made):
        raise LayoutError(f"cannot merge track {track}: the book has {len(made)} tracks")
    nxt = made[track]
    return tuple(s for s in sorted(set(starts)) if not nxt.lead <= s <= nxt.first)


def split(info: Sequence[SectionInfo], starts: Sequence[int], section: int) -> tuple[int, ...]:
    """Starts with a new track beginning at sub-heading ``section`` (an index into the
    outline). Raises :class:`LayoutError` when it is not a sub-heading inside a track."""
    made = tracks(info, starts)
    if not any(t.first < section <= t.last for t in made):
        raise LayoutError(
            f"section {section} is not a sub-heading inside a track; nothing to split"
        )
    return tuple(sorted({*starts, section}))


def toc_tree(info: Sequence[SectionInfo]) -> list[dict]:
    """The outline as a tree: ``[{title, level, words, children}]``, where ``words``
    counts the entry with everything under it."""
    root: list[dict] = []
    stack: list[dict] = []
    for s in info:
        node = {"title": s.title, "level": s.level, "words": s.words, "children": []}
        while stack and stack[-1]["level"] >= s.level:
            stack.pop()
        for ancestor in stack:
            ancestor["words"] += s.words
        (stack[-1]["children"] if stack else root).append(node)
        stack.append(node)
    return root
