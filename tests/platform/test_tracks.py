"""``audiobook_app.tracks``: rows, texts and the page's view of a book's tracks, from
small books parsed here (no database)."""

from __future__ import annotations

import json
from dataclasses import replace

from audiobook_app import tracks
from pipeline import structure
from pipeline.parse import parse_bytes
from tests.platform.harness import STORY
from tests.platform.test_book_layout import DEFAULT_TITLES, harbour_epub


def test_a_book_without_sections_is_laid_out_from_its_chapters():
    book = replace(parse_bytes(STORY.encode(), "lighthouse.txt"), sections=())  # older parsers
    outline = tracks.outline_rows(tracks.book_sections(book))
    assert [(s["level"], s["title"]) for s in outline] == [
        (1, "Chapter 1"),
        (1, "Chapter 2"),
        (1, "Chapter 3"),
    ]
    same, rows = tracks.lay_out(book, {})
    assert [(c.index, c.title, c.text) for c in same.chapters] == [
        (c.index, c.title, c.text) for c in book.chapters
    ]
    merged = {"starts": [0, 1], "sections": 3}  # chapters 2 and 3 as one
    made, rows = tracks.lay_out(book, merged, rows, outline)
    assert [(r["index"], r["title"], r["first"], r["last"]) for r in rows] == [
        (1, "Chapter 1", 0, 0),
        (2, "Chapter 2", 1, 2),
    ]
    assert made.chapters[1].text.endswith(
        "Chapter 3\n\nBy spring the girl could trim the wick herself."
    )
    texts = tracks.track_texts(tracks.section_texts(tracks.book_sections(book)), rows)
    assert texts[2] == made.chapters[1].text


def test_titles_survive_an_edit_only_where_the_sections_did():
    book = parse_bytes(harbour_epub(), "harbour.epub")
    info = structure.outline(book.sections)
    rows = tracks.track_rows(info, structure.resolve_starts(info))
    assert [r["title"] for r in rows] == DEFAULT_TITLES
    renamed = [{**r, "title": f"My {r['title']}", "chosen": r["index"] != 1} for r in rows]
    starts = structure.merge(info, structure.resolve_starts(info), 3)  # Light + Return
    after = tracks.track_rows(info, starts, renamed)
    assert [r["title"] for r in after] == ["My The Quay", "My The Boat", "The Light"]
    page = tracks.carry_choices(renamed, after)
    assert [(r["title"], r["chosen"]) for r in page] == [
        ("My The Quay", False),
        ("My The Boat", True),
        ("The Light", True),
    ]
    old = [{"index": 1, "title": "Renamed", "words": 3}]  # a row stored before outlines
    assert tracks.track_rows(info, structure.resolve_starts(info), old)[0]["title"] == "Renamed"


def test_the_page_view_of_levels_and_sub_headings():
    book = parse_bytes(harbour_epub(), "harbour.epub")
    outline = tracks.outline_rows(book.sections)
    view = tracks.layout_view(outline, {})
    assert [(c.value, c.label) for c in view.levels] == [
        ("1", "Level 1 (e.g. “Part One”)"),
        ("2", "Level 2 (e.g. “The Quay”) · default"),
        ("3", "Level 3 (e.g. “The Storm”)"),
    ]
    assert (view.editable, view.level, view.default_level, view.edited) == (True, "2", "2", False)
    assert not tracks.layout_view([], {}).editable  # a book read before outlines
    assert tracks.layout_view(outline, {"split_level": 9}).level == "3"
    assert tracks.layout_view(outline, {"starts": [0, 1], "sections": 8}).edited
    assert not tracks.layout_view(outline, {"starts": [0, 1], "sections": 7}).edited
    assert tracks.layout_view([{"level": 1, "title": "One", "words": 5}], {}).levels == []
    boat = {"index": 2, "first": 2, "last": 4}
    assert tracks.sub_headings(outline, boat) == [
        {"section": 3, "title": "The Storm", "depth": 1},
        {"section": 4, "title": "The Calm", "depth": 1},
    ]
    assert tracks.sub_headings(outline, {"index": 1, "title": "old row"}) == []


def test_texts_stored_per_chapter_before_outlines_are_still_read():
    old = json.dumps([{"index": 1, "title": "One", "text": "Alpha."}]).encode()
    assert tracks.track_texts(old, [{"index": 1, "title": "One"}]) == {1: "Alpha."}
