"""DOCX structure (issue 13): documents built here the way LibreOffice converts a Project
Gutenberg HTML edition (``soffice --convert-to docx``): the PG header in "Preformatted
Text" paragraphs, a title page in Heading 1/Heading 2/centred paragraphs, an in-document
contents list, "FOOTNOTES:" with ``{1}`` notes, empty core-properties author."""

from __future__ import annotations

import io

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH

from pipeline.models import BlockKind
from pipeline.parse.docx import parse_docx

LOREM = (
    "The keeper climbed the narrow stair each evening and trimmed the wick while the gulls "
    "wheeled about the gallery and the sea went grey beneath them. "
)
HEADER = [
    "The Project Gutenberg eBook of The Lantern Keeper, by Margaret Holloway",
    "",
    "This eBook is for the use of anyone anywhere at no cost and with",
    "almost no restrictions whatsoever.",
    "",
    "Title: The Lantern Keeper",
    "",
    "Author: Margaret Holloway",
    "",
    "Language: English",
    "",
    "*** START OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***",
]


def _document(title: str = "", author: str = "") -> docx.document.Document:
    d = docx.Document()
    d.core_properties.title = title
    d.core_properties.author = author  # python-docx fills in "python-docx"; LibreOffice: none
    d.styles.add_style("Preformatted Text", WD_STYLE_TYPE.PARAGRAPH)
    return d


def _centred(d, text: str, style: str = "Body Text") -> None:
    d.add_paragraph(text, style=style).alignment = WD_ALIGN_PARAGRAPH.CENTER


def _bytes(d) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _lantern_keeper(header: bool, core_title: str = "") -> bytes:
    """A PG HTML book as LibreOffice makes it: header, title page, contents, three
    chapters (the first with two sub-headings), FOOTNOTES as a heading and as a
    paragraph, end marker and licence."""
    d = _document(title=core_title)
    for line in HEADER if header else []:
        d.add_paragraph(line, style="Preformatted Text")
    d.add_paragraph("Produced by A. Volunteer", style="Preformatted Text")
    _centred(d, "THE LANTERN KEEPER", "Heading 1")
    d.add_paragraph("", style="Body Text")  # LibreOffice puts empty paragraphs between
    _centred(d, "by", "Heading 2")
    d.add_paragraph("", style="Body Text")
    _centred(d, "MARGARET HOLLOWAY", "Heading 2")
    _centred(d, "Illustrated by John Pennant")
    d.add_paragraph("", style="Body Text")
    d.add_paragraph("CONTENTS", style="Heading 2")
    for line in ("CHAPTER I. THE LAMP", "CHAPTER II. THE STORM", "CHAPTER III. MORNING"):
        d.add_paragraph(line, style="Body Text")
    d.add_paragraph("CHAPTER I. THE LAMP", style="Heading 2")
    d.add_paragraph("The lamp had burned for forty years.{1} " + LOREM * 3, style="Body Text")
    d.add_paragraph("THE LAMP ROOM", style="Heading 3")
    d.add_paragraph(LOREM * 2, style="Body Text")
    d.add_paragraph("THE WICK", style="Heading 3")
    d.add_paragraph("The wick was cotton [2] and salt. " + LOREM, style="Body Text")
    d.add_paragraph("CHAPTER II. THE STORM", style="Heading 2")
    d.add_paragraph("The storm came from the west.{3} " + LOREM * 4, style="Body Text")
    d.add_paragraph("FOOTNOTES:", style="Heading 3")
    d.add_paragraph("{1} Lamps of this kind burned whale oil.", style="Body Text")
    d.add_paragraph("[2] Cotton wicks were woven by hand.", style="Body Text")
    d.add_paragraph("{3} The storm of the year before.", style="Body Text")
    d.add_paragraph("CHAPTER III. MORNING", style="Heading 2")
    d.add_paragraph("Morning was calm.[4] " + LOREM * 3, style="Body Text")
    d.add_paragraph("FOOTNOTES:", style="Body Text")
    d.add_paragraph("", style="Body Text")
    d.add_paragraph("[4] Calm after a storm is common on that coast.", style="Body Text")
    if header:
        d.add_paragraph(
            "*** END OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***",
            style="Preformatted Text",
        )
        d.add_paragraph("THE FULL PROJECT GUTENBERG LICENSE", style="Heading 2")
        d.add_paragraph("Licence words.", style="Body Text")
    return _bytes(d)


CHAPTERS = ["Chapter I. The Lamp", "Chapter II. The Storm", "Chapter III. Morning"]


@pytest.mark.parametrize(
    "header, core_title",
    [
        (True, ""),  # metadata from the PG header
        (False, ""),  # from the title page alone
        (False, "The Project Gutenberg eBook of The Lantern Keeper, by Margaret Holloway"),
    ],
)
def test_libreoffice_pg_html_title_page_notes_and_levels(header, core_title):
    book = parse_docx(_lantern_keeper(header, core_title))
    assert [c.title for c in book.chapters] == CHAPTERS
    # header / core title, else the title page ("THE LANTERN KEEPER", "by", "MARGARET ...")
    assert (book.metadata.title, book.metadata.author) == (
        "The Lantern Keeper",
        "Margaret Holloway",
    )
    # the title page is neither a track nor read anywhere
    heard = "\n".join(b.text for c in book.chapters for b in (*c.preamble, *c.blocks) if b.text)
    for gone in ("LANTERN KEEPER", "Lantern Keeper", "HOLLOWAY", "Illustrated", "Produced by"):
        assert gone not in heard
    # notes not read, markers gone, contents list and licence not read
    for gone in ("FOOTNOTES", "whale oil", "woven by hand", "year before", "common on that"):
        assert gone not in heard
    for marker in ("{1}", "[2]", "{3}", "[4]", "{", "["):
        assert marker not in heard
    assert "CONTENTS" not in heard and "Licence" not in heard
    assert book.chapters[0].text.startswith("The lamp had burned for forty years. The keeper")
    assert "The wick was cotton and salt." in book.chapters[0].text
    assert book.chapters[2].blocks[-1].text.endswith("sea went grey beneath them.")
    # sections with levels: chapters at 1, their sub-headings at 2; one track per chapter
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "Chapter I. The Lamp"),
        (2, "The Lamp Room"),
        (2, "The Wick"),
        (1, "Chapter II. The Storm"),
        (1, "Chapter III. Morning"),
    ]
    assert [(b.kind, b.text) for b in book.chapters[0].blocks if b.kind is BlockKind.HEADING] == [
        (BlockKind.HEADING, "The Lamp Room"),
        (BlockKind.HEADING, "The Wick"),
    ]


def test_title_style_and_by_line_title_page_with_parts():
    """Title + "By ..." title page; Heading 1 parts over Heading 2 chapters: the chapters
    are the tracks, each part announced in its first chapter's preamble."""
    d = _document()
    d.add_paragraph("A Tale in Parts", style="Title")
    _centred(d, "By Ann Example")
    d.add_paragraph("PART I", style="Heading 1")
    for n in (1, 2):
        d.add_paragraph(f"Chapter {n}", style="Heading 2")
        d.add_paragraph(f"Text of chapter {n}. " + LOREM, style="Body Text")
    d.add_paragraph("PART II", style="Heading 1")
    d.add_paragraph("Some short epigraph.", style="Body Text")
    d.add_paragraph("Chapter 3", style="Heading 2")
    d.add_paragraph("Text of chapter 3. " + LOREM, style="Body Text")

    book = parse_docx(_bytes(d))
    assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert (book.metadata.title, book.metadata.author) == ("A Tale in Parts", "Ann Example")
    assert [(b.kind, b.text) for b in book.chapters[0].preamble] == [(BlockKind.HEADING, "Part I")]
    assert book.chapters[1].preamble == ()
    assert [(b.kind, b.text) for b in book.chapters[2].preamble] == [
        (BlockKind.HEADING, "Part II"),
        (BlockKind.PARAGRAPH, "Some short epigraph."),
    ]
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "Part I"), (2, "Chapter 1"), (2, "Chapter 2"), (1, "Part II"), (2, "Chapter 3"),
    ]  # fmt: skip
    assert book.chapters[0].text.startswith("Text of chapter 1.")


def test_story_collection_with_numbered_parts_is_one_track_per_story():
    d = _document()
    _centred(d, "TALES OF THE COAST", "Heading 1")
    _centred(d, "by", "Heading 2")
    _centred(d, "ANN EXAMPLE", "Heading 2")
    d.add_paragraph("THE MILL", style="Heading 1")
    d.add_paragraph("The mill story. " + LOREM * 4, style="Body Text")
    d.add_paragraph("THE BRIDGE", style="Heading 1")
    d.add_paragraph("I.", style="Heading 2")
    d.add_paragraph("The bridge, first part. " + LOREM, style="Body Text")
    d.add_paragraph("II.", style="Heading 2")
    d.add_paragraph("The bridge, second part. " + LOREM, style="Body Text")
    d.add_paragraph("THE FERRY", style="Heading 1")
    d.add_paragraph("The ferry story. " + LOREM * 4, style="Body Text")

    book = parse_docx(_bytes(d))
    assert [c.title for c in book.chapters] == ["The Mill", "The Bridge", "The Ferry"]
    assert (book.metadata.title, book.metadata.author) == ("Tales of the Coast", "Ann Example")
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "The Mill"), (1, "The Bridge"), (2, "I"), (2, "II"), (1, "The Ferry"),
    ]  # fmt: skip
    bridge = book.chapters[1]
    assert [b.text for b in bridge.blocks if b.kind is BlockKind.HEADING] == ["I", "II"]
    assert bridge.blocks[1].text.startswith("The bridge, first part.")
    assert all("Tales of the Coast" not in c.text for c in book.chapters)


def test_first_heading_with_text_is_not_a_title_page():
    """No title page: a document that starts with its first chapter keeps it."""
    d = _document(title="Plain")
    d.add_paragraph("Plain", style="Heading 1")
    d.add_paragraph("The plain story. " + LOREM, style="Body Text")
    d.add_paragraph("Second", style="Heading 1")
    d.add_paragraph("More. " + LOREM, style="Body Text")
    book = parse_docx(_bytes(d))
    assert [c.title for c in book.chapters] == ["Plain", "Second"]
    assert book.metadata.author is None


def test_title_page_then_introduction_heading():
    """A heading right after the byline that has text under it is read ("Introduction"
    is no credit line); a Title paragraph later in the document is not a section."""
    d = _document()
    _centred(d, "THE LANTERN KEEPER", "Heading 1")
    _centred(d, "By Margaret Holloway", "Heading 2")
    d.add_paragraph("INTRODUCTION", style="Heading 2")
    d.add_paragraph("Why this book. " + LOREM, style="Body Text")
    d.add_paragraph("CHAPTER 1", style="Heading 2")
    d.add_paragraph("One. " + LOREM, style="Body Text")
    d.add_paragraph("The Lantern Keeper", style="Title")
    d.add_paragraph("CHAPTER 2", style="Heading 2")
    d.add_paragraph("Two. " + LOREM, style="Body Text")
    book = parse_docx(_bytes(d))
    assert [c.title for c in book.chapters] == ["Introduction", "Chapter 1", "Chapter 2"]
    assert (book.metadata.title, book.metadata.author) == (
        "The Lantern Keeper",
        "Margaret Holloway",
    )
    assert "Lantern" not in "\n".join(c.text for c in book.chapters)
