"""A book's tracks as the platform stores and shows them: the outline, the track rows,
the texts for the preview, the page's layout view. Pure functions, no database or Reflex.

The ``inspect`` job stores a book's *outline* (``Book.outline``: ``[{level, title,
words}]``, one per section of :mod:`pipeline.structure`) and the text of every section
(``chapters.json``: ``{"sections": [{title, text}]}``), so the web app can re-make the
tracks at any layout and preview any of them without parsing the manuscript again.
``Book.chapters`` holds the tracks at the current layout as *rows* ``{index, title,
words, first, last}``: ``index`` from 1 as the job numbers its chapters, ``first..last``
the sections (indices into the outline) the track is read from.

A book without sections (a ``Book`` made before parsers gave them) is laid out from its
chapters, each taken as one top-level section (:func:`book_sections`): its chapters can
be merged, and split again where they were.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipeline import structure
from pipeline.models import Book as ParsedBook
from pipeline.models import Section
from pipeline.structure import Layout, SectionInfo


@dataclass(frozen=True)
class LevelChoice:
    """One entry of the page's "Split at level" select: ``value`` is the level as text."""

    value: str
    label: str


@dataclass(frozen=True)
class LayoutView:
    """What the page's layout controls show: whether the book can be re-divided at all
    (``editable``: it has an outline), the levels to split at (empty when the book has
    one level only), the level in force, the default one, and whether tracks were
    merged or split by hand (``edited``)."""

    editable: bool = False
    levels: list[LevelChoice] = field(default_factory=list)
    level: str = ""
    default_level: str = ""
    edited: bool = False


def book_sections(book: ParsedBook) -> tuple[Section, ...]:
    """The sections tracks are made from: the parser's, or else one level-1 section per
    chapter (title and blocks as parsed)."""
    if book.sections:
        return book.sections
    return tuple(Section(1, c.title, c.blocks) for c in book.chapters)


def outline_rows(sections: Sequence[Section]) -> list[dict]:
    """``[{level, title, words}]`` per section, as ``Book.outline`` stores it."""
    return [
        {"level": s.level, "title": s.title, "words": s.words} for s in structure.outline(sections)
    ]


def outline_info(rows: Sequence[dict]) -> tuple[SectionInfo, ...]:
    """Inverse of :func:`outline_rows`."""
    return tuple(SectionInfo(int(r["level"]), str(r["title"]), int(r["words"])) for r in rows)


def section_texts(sections: Sequence[Section]) -> bytes:
    """The stored preview texts (``chapters.json``): ``{"sections": [{title, text}]}``,
    a section's text being its blocks' texts separated by blank lines."""
    items = [
        {"title": s.title, "text": "\n\n".join(b.text for b in s.blocks if b.text)}
        for s in sections
    ]
    return json.dumps({"sections": items}).encode()


def track_texts(stored: bytes, rows: Sequence[dict]) -> dict[int, str]:
    """Track index -> the text a listener hears after the track's title: its first
    section's text, then each later section's title and text. ``stored`` is what
    :func:`section_texts` wrote; the older per-chapter form ``[{index, title, text}]``
    is read as it is."""
    doc = json.loads(stored)
    if isinstance(doc, list):
        return {c["index"]: c["text"] for c in doc}
    sections = doc["sections"]
    out: dict[int, str] = {}
    for row in rows:
        first, last = row.get("first"), row.get("last")
        if first is None or last is None or last >= len(sections):
            continue
        parts = [sections[first]["text"]]
        for s in sections[first + 1 : last + 1]:
            parts += [s["title"].strip(), s["text"]]
        out[row["index"]] = "\n\n".join(p for p in parts if p)
    return out


def track_rows(
    info: Sequence[SectionInfo], starts: Sequence[int], previous: Sequence[dict] = ()
) -> list[dict]:
    """The rows of the tracks ``starts`` makes of the outline. A title in ``previous``
    (the rows before an edit) is kept for a track made of the same sections; a track
    whose sections changed gets its title from the book again (the author's rename of
    it is dropped). Rows without ``first`` (stored before outlines) match by index."""
    kept = {_sections_key(r): r["title"] for r in previous if r.get("title")}
    rows = []
    for n, t in enumerate(structure.tracks(info, starts), 1):
        row = {"index": n, "title": t.title, "words": t.words, "first": t.first, "last": t.last}
        rows.append({**row, "title": kept.get(_sections_key(row), t.title)})
    if previous and all("first" not in r for r in previous):
        by_index = {r["index"]: r["title"] for r in previous if r.get("title")}
        rows = [{**r, "title": by_index.get(r["index"], r["title"])} for r in rows]
    return rows


def _sections_key(row: dict) -> tuple:
    return (row.get("first"), row.get("last"))


def lay_out(
    book: ParsedBook, layout: dict | None, rows: Sequence[dict] = (), outline: Sequence[dict] = ()
) -> tuple[ParsedBook, list[dict]]:
    """The parsed ``book`` with its chapters made at the stored ``layout`` and titled as
    the stored ``rows`` name them (the author's renames), plus the rows of those
    chapters. Stored rows made on another outline (the manuscript parses differently
    now) are ignored, as :func:`pipeline.structure.resolve_starts` ignores the layout."""
    sections = book_sections(book)
    info = structure.outline(sections)
    chosen = Layout.from_dict(layout)
    made = structure.apply_layout(replace(book, sections=sections), chosen)
    fits = not outline or len(outline) == len(info)
    new_rows = track_rows(info, structure.resolve_starts(info, chosen), rows if fits else ())
    titles = {r["index"]: r["title"] for r in new_rows}
    chapters = tuple(replace(c, title=titles.get(c.index, c.title)) for c in made.chapters)
    return replace(made, chapters=chapters), new_rows


def carry_choices(old: Sequence[dict], new: Sequence[dict]) -> list[dict]:
    """The page's rows after an edit: each new row keeps the old row's title (even one
    typed but not saved yet) and tick when it is made of the same sections, else its
    book title, ticked."""
    before = {_sections_key(r): r for r in old}
    out = []
    for row in new:
        same = before.get(_sections_key(row))
        title = same["title"] if same else row["title"]
        out.append({**row, "title": title, "chosen": same["chosen"] if same else True})
    return out


def sub_headings(outline: Sequence[dict], row: dict) -> list[dict]:
    """The sections read inside a track after its first one (where it can be split):
    ``[{section, title, depth}]``, ``depth`` counting levels below the track's first."""
    first, last = row.get("first"), row.get("last")
    if first is None or last is None or last >= len(outline):
        return []
    top = outline[first]["level"]
    return [
        {
            "section": i,
            "title": outline[i]["title"].strip() or "(untitled)",
            "depth": max(0, outline[i]["level"] - top),
        }
        for i in range(first + 1, last + 1)
    ]


def layout_view(outline: Sequence[dict], layout: dict | None) -> LayoutView:
    """The layout controls' view of a book (see :class:`LayoutView`)."""
    info = outline_info(outline)
    deepest = structure.max_level(info)
    if not info:
        return LayoutView()
    chosen = Layout.from_dict(layout)
    default = structure.default_split_level(info)
    level = max(1, min(chosen.split_level or default, deepest))
    edited = chosen.starts is not None and chosen.sections == len(info)
    levels = [LevelChoice(str(n), _level_label(info, n, default)) for n in range(1, deepest + 1)]
    return LayoutView(True, levels if deepest > 1 else [], str(level), str(default), edited)


def _level_label(info: Sequence[SectionInfo], level: int, default: int) -> str:
    example = next((s.title.strip() for s in info if s.level == level and s.title.strip()), "")
    label = f"Level {level}" + (f" (e.g. “{example}”)" if example else "")
    return label + (" · default" if level == default else "")
