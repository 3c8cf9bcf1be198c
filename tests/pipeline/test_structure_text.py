"""Sections of TXT/Markdown books (issue 13): parts announced in the next chapter's
preamble, producer credits and footnotes not read, titles in the book's own case.

Every fixture is a small synthetic text written here.
"""

from __future__ import annotations

import pytest

from pipeline.models import Block, BlockKind, Book
from pipeline.parse.gutenberg import credit_paragraphs, footnote_paragraphs, strip_note_markers
from pipeline.parse.headings import clean_title
from pipeline.parse.text import parse_text

BODY = "This is body text with enough words to count as a real chapter of a story."
PROSE = (
    "When I first set down these pages I had no thought of a reader, and the reader who "
    "finds them now must forgive the wandering manner in which they were written. "
)
PREFACE = (PROSE * 6).strip()  # 168 words
HEADER = "The Project Gutenberg EBook of A Test Book\n\nTitle: A Test Book\n\nAuthor: A. Writer"
START = "*** START OF THIS PROJECT GUTENBERG EBOOK A TEST BOOK ***"
END = "*** END OF THIS PROJECT GUTENBERG EBOOK A TEST BOOK ***\n\nLicence text here."
CREDITS = [
    "Transcribed from the 1915 Chatto & Windus edition by David Price, email ccx074@pglaf.org",
    "Produced by Jane Volunteer and the Online Distributed\nProofreading Team",
    "E-text prepared by Somebody Else",
    "This e-book was produced by the Example Press.",
    "Questions to editor@example.org please.",
    "[Transcriber's note: Obvious printer's errors have been corrected silently, the "
    "spelling of the original has been kept, and the inconsistent hyphenation of the "
    "first edition has been left as it was printed, except where noted below in the "
    "list of changes that follows this note at the end of the book. The illustrations "
    "have been moved to the paragraphs they illustrate.]",
]


def book(*parts: str, markdown: bool = False) -> Book:
    return parse_text("\n\n".join(parts).encode("utf-8"), markdown=markdown)


def all_text(b: Book) -> str:
    return "\n".join(blk.text for c in b.chapters for blk in (*c.preamble, *c.blocks))


# --- producer credits -----------------------------------------------------------------


def test_gutenberg_credits_are_not_a_preface() -> None:
    b = book(HEADER, START, *CREDITS, "A TEST BOOK", "by A. Writer",
             "CHAPTER I.", BODY, "CHAPTER II.", BODY, END)  # fmt: skip
    assert [c.title for c in b.chapters] == ["Chapter 1", "Chapter 2"]
    assert [s.title for s in b.sections] == ["Chapter 1", "Chapter 2"]
    text = all_text(b)
    for word in ("Transcribed", "Produced", "prepared", "Transcriber", "@", "e-book"):
        assert word not in text
    assert b.metadata.title == "A Test Book"


def test_real_preface_after_credits_is_kept() -> None:
    b = book(HEADER, START, CREDITS[0], CREDITS[1], PREFACE, "CHAPTER I.", BODY, "CHAPTER II.",
             BODY, END)  # fmt: skip
    assert [c.title for c in b.chapters] == ["Preface", "Chapter 1", "Chapter 2"]
    assert [blk.text for blk in b.chapters[0].blocks] == [PREFACE]
    b = book(HEADER, START, "PREFACE", PREFACE, "CHAPTER I.", BODY, END)  # headed preface
    assert [c.title for c in b.chapters] == ["Preface", "Chapter 1"]
    assert b.chapters[0].text == PREFACE


def test_credit_paragraphs_rule() -> None:
    texts = [*CREDITS, "A TEST BOOK", "Produced by Anon", PREFACE, "Prepared by her mother."]
    assert credit_paragraphs(texts) == {0, 1, 2, 3, 4, 5, 7}  # none once the prose begins
    assert credit_paragraphs([PREFACE + " Write to me at a@b.org."]) == set()  # long prose
    note = ["[Transcriber's Note:", "Spelling kept.", "Hyphens kept.]", "A TEST BOOK"]
    assert credit_paragraphs(note) == {0, 1, 2}


# --- footnotes ------------------------------------------------------------------------


def test_curly_footnotes_at_the_end_are_not_read() -> None:
    b = book(START, "CHAPTER I.", "It was a dark night.{1} The wind {2} blew.", BODY,
             "CHAPTER II.", BODY, "And so it ended, as all such tales do.{3}",
             "FOOTNOTES:", "{1} Dark: without a moon.", "{2} The wind from the north.",
             "A second paragraph of the second note.", "{3} Or so the author says.",
             END)  # fmt: skip
    assert [c.title for c in b.chapters] == ["Chapter 1", "Chapter 2"]
    text = all_text(b)
    for gone in ("FOOTNOTES", "without a moon", "from the north", "second note", "{", "}"):
        assert gone not in text
    assert b.chapters[0].blocks[0].text == "It was a dark night. The wind blew."
    assert b.chapters[-1].blocks[-1].text == "And so it ended, as all such tales do."


def test_footnotes_after_each_chapter_end_at_the_next_heading() -> None:
    b = book("CHAPTER I.", "A word with a note.{1}", BODY, "FOOTNOTES:",
             "{1} The note of chapter one.", "CHAPTER II.", BODY, "Last words here.")  # fmt: skip
    assert [[blk.text for blk in c.blocks] for c in b.chapters] == [
        ["A word with a note.", BODY],
        [BODY, "Last words here."],
    ]


def test_square_footnotes_and_bracketed_notes() -> None:
    b = book("CHAPTER I.", "The king[1] rode out [2] at dawn.", BODY,
             "[Footnote A: An old style note,", "running over two paragraphs.]", "CHAPTER II.",
             BODY, "Footnotes", "[1] Henry.", "[2] Or so.")  # fmt: skip
    assert [[blk.text for blk in c.blocks] for c in b.chapters] == [
        ["The king rode out at dawn.", BODY],
        [BODY],
    ]
    # without a notes section, bracketed numbers are text
    b = book("CHAPTER I.", "Item [1] of the list.", BODY, "CHAPTER II.", BODY)
    assert b.chapters[0].blocks[0].text == "Item [1] of the list."


def test_footnote_rules() -> None:
    texts = ["Text.{1}", "FOOTNOTES:", "{1} Note.", "more", "Chapter 2", "Body."]
    assert footnote_paragraphs(texts, [4]) == ({1, 2, 3}, False)
    assert footnote_paragraphs(["Notes:", "Just a list", "of things"], []) == (set(), False)
    assert strip_note_markers("a {1} b{22}.") == "a b."
    assert strip_note_markers("a [1] b", square=True) == "a b"
    assert strip_note_markers("a [1] b") == "a [1] b"


# --- parts announced as the next chapter's preamble -----------------------------------

EPIGRAPH = "(Being a reprint of the memoirs of a retired army doctor.)"


def _check_parts(b: Book) -> None:
    assert [c.title for c in b.chapters] == [
        "Chapter 1. The Start",
        "Chapter 2",
        "Chapter 3. The Return",
    ]
    assert [(blk.kind, blk.text) for blk in b.chapters[0].preamble] == [
        (BlockKind.HEADING, "Part 1"),
        (BlockKind.PARAGRAPH, EPIGRAPH),
    ]
    assert b.chapters[1].preamble == ()
    assert b.chapters[2].preamble == (Block(BlockKind.HEADING, "Part 2. The Country"),)
    for chapter in b.chapters:
        assert [blk.text for blk in chapter.blocks] == [BODY]  # no part heading in blocks
    assert [(s.level, s.title) for s in b.sections] == [
        (1, "Part 1"),
        (2, "Chapter 1. The Start"),
        (2, "Chapter 2"),
        (1, "Part 2. The Country"),
        (2, "Chapter 3. The Return"),
    ]
    assert b.sections[0].blocks == (Block(BlockKind.PARAGRAPH, EPIGRAPH),)
    assert [c.section for c in b.chapters] == [1, 2, 4]


def test_txt_parts_are_announced_before_their_first_chapter() -> None:
    _check_parts(book("PART I", EPIGRAPH, "CHAPTER I. THE START", BODY, "CHAPTER II", BODY,
                      "PART II. THE COUNTRY", "CHAPTER III. THE RETURN", BODY))  # fmt: skip


@pytest.mark.parametrize("part", ["#", "##"])  # "##": parts and chapters share a level
def test_markdown_parts_are_announced_before_their_first_chapter(part: str) -> None:
    md = book("# Title: T", f"{part} PART I", EPIGRAPH, "## CHAPTER I. THE START", BODY,
              "## CHAPTER II", BODY, f"{part} PART II - _The Country_",
              "## CHAPTER III. THE RETURN", BODY, markdown=True)  # fmt: skip
    _check_parts(md)


def test_markdown_titles_and_levels() -> None:
    b = book("# Book One", "## 12. THE GOLDEN KEY", BODY, "## The *Silver* door", BODY,
             "### A scene", BODY, "# Book Two", "## 13. AT THE END OF THE ROAD", BODY,
             markdown=True)  # fmt: skip
    assert [c.title for c in b.chapters] == [
        "12. The Golden Key",
        "The Silver door",
        "13. At the End of the Road",
    ]
    assert [(s.level, s.title) for s in b.sections] == [
        (1, "Book One"),
        (2, "12. The Golden Key"),
        (2, "The Silver door"),
        (1, "Book Two"),
        (2, "13. At the End of the Road"),
    ]
    assert b.chapters[1].blocks[1] == Block(BlockKind.HEADING, "A scene")


# --- titles as printed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "title"),
    [
        ("12. THE GOLDEN KEY", "12. The Golden Key"),
        ("XII. THE OLD MILL", "XII. The Old Mill"),
        ("THE END: A NOTE ON THE TEXT", "The End: A Note on the Text"),
        ("MR. AND MRS. BENNET", "Mr. and Mrs. Bennet"),
        ("12. the Golden key", "12. the Golden key"),  # mixed case: as printed
        ("  12.   The  Golden Key. ", "12. The Golden Key"),
    ],
)
def test_clean_title_keeps_the_books_case(printed: str, title: str) -> None:
    assert clean_title(printed) == title


def test_txt_heading_wrapped_onto_two_lines() -> None:
    b = book("CHAPTER III. THE ADVENTURE OF THE\nSPECKLED BAND", BODY, "CHAPTER IV.\nA Case",
             BODY)  # fmt: skip
    assert [c.title for c in b.chapters] == [
        "Chapter 3. The Adventure of the Speckled Band",
        "Chapter 4. A Case",
    ]
