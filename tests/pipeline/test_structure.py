"""Sections -> tracks (pipeline/structure.py): the default split level on the shapes of
book the issue names, parts announced in a preamble, titles of numbered parts, and the
author's merge/split edits."""

from __future__ import annotations

import pytest

from pipeline import structure
from pipeline.errors import LayoutError
from pipeline.models import Block, BlockKind, Section
from pipeline.structure import Layout, SectionInfo


def _s(level: int, title: str, words: int = 0) -> Section:
    text = " ".join(f"w{i % 9}" for i in range(words))
    return Section(level, title, (Block(BlockKind.PARAGRAPH, text),) if words else ())


def _info(*entries: tuple[int, str, int]) -> tuple[SectionInfo, ...]:
    return tuple(SectionInfo(level, title, words) for level, title, words in entries)


NOVEL_IN_PARTS = [
    _s(1, "Part 1. The Reminiscences of John H. Watson", 30),
    _s(2, "Chapter 1. Mr. Sherlock Holmes", 2800),
    _s(2, "Chapter 2. The Science of Deduction", 3500),
    _s(1, "Part 2. The Country of the Saints"),
    _s(2, "Chapter 1. On the Great Alkali Plain", 3000),
]


def test_a_novel_in_parts_splits_at_its_chapters_with_each_part_announced():
    info = structure.outline(NOVEL_IN_PARTS)
    assert structure.default_split_level(info) == 2
    chapters = structure.chapters(NOVEL_IN_PARTS)
    assert [c.title for c in chapters] == [
        "Chapter 1. Mr. Sherlock Holmes",
        "Chapter 2. The Science of Deduction",
        "Chapter 1. On the Great Alkali Plain",
    ]
    first, _, third = chapters
    assert [b.kind for b in first.preamble] == [BlockKind.HEADING, BlockKind.PARAGRAPH]
    assert first.preamble[0].text == "Part 1. The Reminiscences of John H. Watson"
    assert [b.text for b in third.preamble] == ["Part 2. The Country of the Saints"]
    assert all(b.kind is BlockKind.PARAGRAPH for c in chapters for b in c.blocks)
    assert [c.section for c in chapters] == [1, 2, 4]


def test_a_part_with_a_long_introduction_is_a_track_of_its_own():
    sections = [_s(1, "Book One", 400), _s(2, "I", 1000), _s(2, "II", 1000)]
    assert [c.title for c in structure.chapters(sections)] == ["Book One", "Chapter 1", "Chapter 2"]


def test_short_front_matter_does_not_stop_a_split_at_the_chapters():
    info = _info(
        (1, "Preface", 300), (1, "Introduction", 900),
        (1, "Part I", 0), (2, "Chapter 1", 4000), (2, "Chapter 2", 4000),
        (1, "Part II", 0), (2, "Chapter 3", 4000),
    )  # fmt: skip
    assert structure.default_split_level(info) == 2
    titles = [t.title for t in structure.tracks(info, structure.resolve_starts(info))]
    assert titles == ["Preface", "Introduction", "Chapter 1", "Chapter 2", "Chapter 3"]


def test_one_divided_story_among_many_keeps_the_stories_as_tracks():
    info = _info(
        (1, "The Monkey's Paw", 0), (2, "I.", 1500), (2, "II.", 1500), (2, "III.", 1200),
        *((1, f"Story {n}", 4000) for n in range(2, 9)),
    )  # fmt: skip
    assert structure.default_split_level(info) == 1
    at_two = structure.tracks(info, structure.starts_at_level(info, 2))
    assert [t.title for t in at_two[:3]] == [
        "The Monkey's Paw — Part I", "The Monkey's Paw — Part II", "The Monkey's Paw — Part III",
    ]  # fmt: skip


def test_titles_of_bare_numbers():
    info = _info((1, "XII.", 10), (1, "Volume 2", 0), (2, "3", 10), (1, "A Story", 0), (2, "IV", 5))
    assert [structure.track_title(info, i) for i in (0, 2, 4)] == [
        "Chapter 12", "Chapter 3", "A Story — Part IV",
    ]  # fmt: skip
    # a dictionary's letter sections: "I", "V" and "X" are letters there, not numbers
    letters = _info(*((1, chr(c), 50) for c in range(ord("A"), ord("Z") + 1)))
    assert structure.track_title(letters, 8) == "I"
    # printed titles are kept as printed, number and punctuation included
    assert structure.track_title(_info((1, "12. The Golden Key", 9)), 0) == "12. The Golden Key"


def test_the_preamble_does_not_repeat_a_story_title_the_part_title_carries():
    sections = [_s(1, "The Monkey's Paw"), _s(2, "I.", 100), _s(2, "II.", 100), _s(1, "Other", 100)]
    first = structure.chapters(sections, structure.starts_at_level(structure.outline(sections), 2))[
        0
    ]
    assert first.title == "The Monkey's Paw — Part I" and first.preamble == ()


def test_empty_tracks_are_dropped_and_a_flat_book_is_level_one():
    info = _info((1, "Title page", 0), (1, "One", 100), (1, "Two", 100))
    assert structure.default_split_level(info) == 1
    assert [t.title for t in structure.tracks(info, structure.resolve_starts(info))] == [
        "One",
        "Two",
    ]
    assert structure.default_split_level(()) == 1 and structure.tracks((), ()) == ()


def test_merge_and_split_edit_the_track_starts():
    info = structure.outline(NOVEL_IN_PARTS)
    starts = structure.resolve_starts(info)
    merged = structure.merge(info, starts, 2)  # chapter 2 of part 1 + part 2's chapter 1
    tracks = structure.tracks(info, merged)
    assert [(t.title, t.first, t.last) for t in tracks] == [
        ("Chapter 1. Mr. Sherlock Holmes", 1, 1),
        ("Chapter 2. The Science of Deduction", 2, 4),
    ]
    chapter = structure.chapters(NOVEL_IN_PARTS, merged)[1]
    assert [b.text for b in chapter.blocks if b.kind is BlockKind.HEADING] == [
        "Part 2. The Country of the Saints",
        "Chapter 1. On the Great Alkali Plain",
    ]
    resplit = structure.split(info, merged, 4)
    assert [t.title for t in structure.tracks(info, resplit)][
        -1
    ] == "Chapter 1. On the Great Alkali Plain"
    with pytest.raises(LayoutError, match="cannot merge track 3: the book has 3 tracks"):
        structure.merge(info, starts, 3)
    with pytest.raises(LayoutError, match="section 2 is not a sub-heading inside a track"):
        structure.split(info, starts, 2)


def test_a_layout_is_used_only_on_the_outline_it_was_made_for():
    info = structure.outline(NOVEL_IN_PARTS)
    layout = Layout(starts=(0, 1, 3), sections=len(info))
    assert Layout.from_dict(layout.to_dict()) == layout
    assert structure.resolve_starts(info, layout) == (0, 1, 3)
    stale = Layout(starts=(0, 1, 3), sections=len(info) + 2)
    assert structure.resolve_starts(info, stale) == structure.resolve_starts(info)
    assert structure.resolve_starts(info, Layout(split_level=1)) == (0, 3)
    assert structure.resolve_starts(info, Layout(split_level=9)) == (0, 1, 2, 3, 4)
    with pytest.raises(LayoutError, match="has 2 levels; choose a split level of 1..2 "):
        structure.check_level(info, 3)


def test_toc_tree_counts_words_under_each_entry():
    tree = structure.toc_tree(structure.outline(NOVEL_IN_PARTS))
    assert [(n["title"][:6], n["words"], len(n["children"])) for n in tree] == [
        ("Part 1", 30 + 2800 + 3500, 2),
        ("Part 2", 3000, 1),
    ]


def test_normalize_renumbers_levels_from_one():
    sections = [_s(2, "A", 1), _s(4, "B", 1), _s(2, "C", 1)]
    assert [s.level for s in structure.normalize(sections)] == [1, 2, 1]


def test_splitting_a_short_chapter_at_its_sub_heading_keeps_both_halves():
    info = _info((1, "The Quay", 900), (1, "The Boat", 150), (2, "The Storm", 500), (1, "End", 90))
    starts = structure.split(info, structure.resolve_starts(info), 2)
    assert [t.title for t in structure.tracks(info, starts)] == [
        "The Quay", "The Boat", "The Storm", "End",
    ]  # fmt: skip
    # an untitled-part-like section with a short text but no Part/Book/Volume title too
    assert (
        structure.tracks(_info((1, "Prelude", 30), (2, "One", 100)), (0, 1))[0].title == "Prelude"
    )
