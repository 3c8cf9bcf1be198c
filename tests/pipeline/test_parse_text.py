"""Plain-text and Markdown parsing: decoding, Gutenberg stripping, headings, Markdown.

Corpus targets (MANIFEST "body" word counts minus the heading lines and title page the
parser leaves out): P&P 121,893 body -> ~121,760; The Devil's Dictionary 60,470 ->
~60,430; A Study in Scarlet 43,409 -> ~43,300; The Yellow Wallpaper ~6,100.
"""

from __future__ import annotations

import pytest

from pipeline.errors import EmptyFileError, NotTextError
from pipeline.models import BlockKind, Book, SourceFormat
from pipeline.parse import parse_bytes, parse_file
from pipeline.parse.gutenberg import is_boilerplate_text, strip_gutenberg
from pipeline.parse.headings import classify_heading, clean_title
from pipeline.parse.text import decode_text, parse_text

PP_TXT = "text/pride-and-prejudice_pg1342_utf8-bom-crlf.txt"
PP_1252 = "bad/pride-and-prejudice_windows-1252.txt"
DEVIL = "text/the-devils-dictionary_pg972.txt"
SCARLET = "text/a-study-in-scarlet.md"
WALLPAPER = "bad/the-yellow-wallpaper_utf16le-bom.md"


def near(value: int, target: int, share: float = 0.05) -> bool:
    return abs(value - target) <= share * target


def no_boilerplate(book: Book) -> None:
    for chapter in book.chapters:
        text = chapter.text
        assert "Gutenberg" not in text and "www.gutenberg.org" not in text, chapter.title
        assert not is_boilerplate_text(text), chapter.title
        assert "\ufffd" not in text and "\x00" not in text and "\r" not in text


# --- corpus -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pp(corpus) -> Book:
    return parse_file(corpus / PP_TXT)


def test_pride_and_prejudice_txt(pp: Book) -> None:
    assert pp.source_format is SourceFormat.TXT
    assert [c.title for c in pp.chapters] == [f"Chapter {n}" for n in range(1, 62)]
    assert [c.index for c in pp.chapters] == list(range(1, 62))
    assert near(pp.words, 121_760)
    assert pp.metadata.title == "Pride and Prejudice"
    assert pp.metadata.author == "Jane Austen"
    assert pp.metadata.language == "en"
    first = pp.chapters[0].blocks[0].text
    assert first.startswith(
        "It is a truth universally acknowledged, that a single man in possession of"
    )
    assert "\n" not in first  # hard-wrapped lines joined
    assert "“My dear Mr. Bennet,” said his lady" in pp.chapters[0].text  # curly quotes kept
    assert "_" not in pp.chapters[0].text  # _You_ emphasis markers removed
    assert pp.chapters[-1].text.endswith("had been the means of uniting them.")
    no_boilerplate(pp)


def test_windows_1252_copy_matches_utf8(corpus, pp: Book) -> None:
    book = parse_file(corpus / PP_1252)
    assert book.chapters == pp.chapters
    assert book.metadata == pp.metadata
    assert any("Windows-1252" in w for w in book.warnings)


def test_devils_dictionary_preface_and_letters(corpus) -> None:
    book = parse_file(corpus / DEVIL)
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert [c.title for c in book.chapters] == ["Author's Preface", *letters]
    assert book.chapters[0].text.startswith("The Devil's Dictionary was begun in a weekly paper")
    assert book.chapters[1].text.startswith("ABASEMENT, n. A decent and customary mental")
    assert book.chapters[-1].text.startswith("ZANY, n.")
    assert near(book.words, 60_430)
    assert (book.metadata.title, book.metadata.author) == (
        "The Devil's Dictionary",
        "Ambrose Bierce",
    )
    # indented verse keeps its line breaks
    assert (
        "Poor Isabella's Dead, whose abdication\nSet all tongues wagging" in book.chapters[1].text
    )
    no_boilerplate(book)


def test_study_in_scarlet_markdown(corpus) -> None:
    book = parse_file(corpus / SCARLET)
    titles = [c.title for c in book.chapters]
    assert len(titles) == 14
    assert titles[0] == "Chapter 1. Mr. Sherlock Holmes"
    assert titles[1] == "Chapter 2. The Science of Deduction"
    assert titles[7] == "Chapter 1. On the Great Alkali Plain"
    assert titles[12] == "Chapter 6. A Continuation of the Reminiscences of John Watson, M.D."
    assert titles[-1] == "Chapter 7. The Conclusion"
    # Part headings (and Part 1's epigraph) are announced before the part's first chapter
    assert [(b.kind, b.text[:33]) for b in book.chapters[0].preamble] == [
        (BlockKind.HEADING, "Part 1"),
        (BlockKind.PARAGRAPH, "(Being a reprint from the reminis"),
    ]
    assert book.chapters[0].blocks[0].text.startswith("IN the year 1878 I took my degree")
    assert [b.text for b in book.chapters[7].preamble] == ["Part 2. The Country of the Saints"]
    assert book.chapters[7].blocks[0].kind is BlockKind.PARAGRAPH
    assert all(not c.preamble for k, c in enumerate(book.chapters) if k not in (0, 7))
    assert [(s.level, s.title) for s in book.sections if s.level == 1] == [
        (1, "Part 1"),
        (1, "Part 2. The Country of the Saints"),
    ]
    assert len(book.sections) == 16
    assert book.metadata.title == "A Study in Scarlet"
    assert book.metadata.author == "Arthur Conan Doyle"
    assert book.metadata.year == "1887"
    assert book.source_format is SourceFormat.MARKDOWN
    assert near(book.words, 43_300)
    text = "\n".join(c.text for c in book.chapters)
    assert "_" not in text and "*" not in text and "#" not in text
    assert book.chapters[-1].text.endswith("Ipse domi simul ac nummos contemplor in arca.'\"")


def test_yellow_wallpaper_utf16_markdown(corpus) -> None:
    book = parse_file(corpus / WALLPAPER)
    assert [c.title for c in book.chapters] == ["The Yellow Wallpaper"]
    assert book.metadata.author == "Charlotte Perkins Gilman"
    assert near(book.words, 6_100)
    text = book.chapters[0].text
    assert "—" in text and "\x00" not in text and "\ufeff" not in text
    assert text.startswith("It is very seldom that mere ordinary people like John and myself")
    assert book.chapters[0].blocks[0].kind is BlockKind.PARAGRAPH  # leading rule dropped


def test_png_named_txt_is_rejected(corpus) -> None:
    with pytest.raises(NotTextError, match=r"not a text file \(looks like a PNG image\)"):
        parse_file(corpus / "bad/binary-png-named-as.txt")


def test_empty_txt_is_rejected(corpus) -> None:
    with pytest.raises(EmptyFileError, match="empty"):
        parse_file(corpus / "bad/empty.txt")


# --- decoding (self-built) ----------------------------------------------------------

SAMPLE = "Chapter 1\r\n\r\n“Café—naïve,” she said. It’s fine.\r\n"


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"),
        b"\xff\xfe" + SAMPLE.encode("utf-16-le"),
        b"\xfe\xff" + SAMPLE.encode("utf-16-be"),
        SAMPLE.encode("utf-16-le"),  # no BOM: found by the NUL pattern
        SAMPLE.encode("utf-16-be"),
        SAMPLE.encode("utf-32"),  # Python writes a BOM
        SAMPLE.encode("cp1252"),
    ],
)
def test_decodings_agree(data: bytes) -> None:
    text, _ = decode_text(data)
    assert text.replace("\r\n", "\n") == SAMPLE.replace("\r\n", "\n")


def test_cp1252_fallback_warns() -> None:
    text, warnings = decode_text("“quoted” – dash".encode("cp1252"))
    assert text == "“quoted” – dash"
    assert warnings == ("the text is not UTF-8; read it as Windows-1252",)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "JPEG image"),
        (b"GIF89a" + b"\x00" * 10, "GIF image"),
        (b"PK\x03\x04" + b"\x00" * 20, "ZIP archive"),
        (b"%PDF-1.4\n", "PDF document"),
        (b"hello\x00\x01\x02\x03world\x00", "NUL bytes"),
    ],
)
def test_binary_is_not_text(data: bytes, what: str) -> None:
    with pytest.raises(NotTextError, match=what):
        parse_text(data, markdown=False)


@pytest.mark.parametrize(
    "data", [b"", b"   \r\n\t\n ", b"\xef\xbb\xbf\n\n", "  \n".encode("utf-16")]
)
def test_empty_or_whitespace(data: bytes) -> None:
    with pytest.raises(EmptyFileError):
        parse_text(data, markdown=False)


def test_only_gutenberg_boilerplate_is_empty() -> None:
    data = b"Header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nLicence"
    with pytest.raises(EmptyFileError):
        parse_text(data, markdown=False)


# --- structure (self-built) ---------------------------------------------------------

BODY = "This is body text with enough words to count as a real chapter of a story."


def txt(*parts: str, sep: str = "\n\n") -> bytes:
    return sep.join(parts).encode("utf-8")


def test_no_headings_is_one_chapter() -> None:
    book = parse_text(txt(BODY, BODY), markdown=False)
    assert [(c.title, len(c.blocks)) for c in book.chapters] == [("Text", 2)]
    book = parse_text(txt("Title: My Story", "Author: Me", BODY), markdown=False)
    assert [c.title for c in book.chapters] == ["My Story"]
    assert book.metadata.author == "Me"


def test_cr_line_endings_and_wrapping() -> None:
    book = parse_text(b"CHAPTER I.\r\rOne line\rwrapped here.\r\rNext para.", markdown=False)
    assert book.chapters[0].title == "Chapter 1"
    assert [b.text for b in book.chapters[0].blocks] == ["One line wrapped here.", "Next para."]


def test_heading_variants_and_contents_list() -> None:
    data = txt(
        "Contents", "Prologue", "Chapter One", "CHAPTER II. THE NEXT DAY", "Epilogue",
        "PROLOGUE", BODY, "Chapter One", BODY, "CHAPTER II. THE NEXT DAY", BODY,
        "* * *", BODY, "EPILOGUE", BODY,
    )  # fmt: skip
    book = parse_text(data, markdown=False)
    assert [c.title for c in book.chapters] == [
        "Prologue",
        "Chapter One",
        "Chapter 2. The Next Day",
        "Epilogue",
    ]
    assert [b.kind for b in book.chapters[2].blocks] == [
        BlockKind.PARAGRAPH,
        BlockKind.SECTION_BREAK,
        BlockKind.PARAGRAPH,
    ]


def test_parts_fold_into_their_first_chapter() -> None:
    data = txt("BOOK I", "Chapter 1", BODY, "Chapter 2", BODY, "BOOK II", "Chapter 3", BODY)
    book = parse_text(data, markdown=False)
    assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert [(b.kind, b.text) for b in book.chapters[2].preamble] == [(BlockKind.HEADING, "Book 2")]
    assert [b.text for b in book.chapters[2].blocks] == [BODY]
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "Book 1"), (2, "Chapter 1"), (2, "Chapter 2"), (1, "Book 2"), (2, "Chapter 3"),
    ]  # fmt: skip
    # Parts with no chapters inside are the chapters
    book = parse_text(txt("PART I", BODY, "PART II", BODY), markdown=False)
    assert [c.title for c in book.chapters] == ["Part 1", "Part 2"]


def test_roman_numeral_and_letter_runs() -> None:
    book = parse_text(txt("I.", BODY, "II.", BODY, "III.", BODY), markdown=False)
    assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    book = parse_text(txt("A", BODY, "B", BODY, "D", BODY), markdown=False)
    assert [c.title for c in book.chapters] == ["A", "B", "D"]
    lone = parse_text(txt(BODY, "I", BODY, "X", BODY), markdown=False)  # no run: body text
    assert [c.title for c in lone.chapters] == ["Text"]


def test_front_matter_and_heading_pairs() -> None:
    long_front = " ".join([BODY] * 8)
    book = parse_text(
        txt("MY BOOK", "by Someone", long_front, "CHAPTER I.\nLoomings", BODY), markdown=False
    )
    assert [c.title for c in book.chapters] == ["Preface", "Chapter 1. Loomings"]
    book = parse_text(txt("MY BOOK", "by Someone", "CHAPTER I.", BODY), markdown=False)
    assert [c.title for c in book.chapters] == ["Chapter 1"]  # short title page dropped


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("CHAPTER 2 - THE SCIENCE OF DEDUCTION", "Chapter 2. The Science of Deduction"),
        ("CHAPTER I. MR. SHERLOCK HOLMES.", "Chapter 1. Mr. Sherlock Holmes"),
        ("Letter 4", "Letter 4"),
        ("BOOK I", "Book 1"),
        ("PART II", "Part 2"),
        ("Chapter Twenty", "Chapter Twenty"),
        ("  Chapter 12.  ", "Chapter 12"),
        ("AUTHOR'S PREFACE", "Author's Preface"),
    ],
)
def test_heading_titles(line: str, title: str) -> None:
    heading = classify_heading(line)
    assert heading is not None and heading.title == title


@pytest.mark.parametrize(
    "line", ["Chapter and verse were quoted at length by the vicar.", "The end", "I said so."]
)
def test_not_headings(line: str) -> None:
    assert classify_heading(line) is None


def test_clean_title_keeps_initials_and_numerals() -> None:
    assert clean_title("THE REIGN OF HENRY VIII") == "The Reign of Henry VIII"
    assert clean_title("_The Country of the Saints_") == "The Country of the Saints"


def test_gutenberg_strip_wrapped_marker() -> None:
    lines = [
        "Title: X",
        "*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN; OR,",
        "THE MODERN PROMETHEUS ***",
        "Text",
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***",
        "licence",
    ]
    assert strip_gutenberg(lines) == ["Text"]


# --- Markdown (self-built) ----------------------------------------------------------

MARKDOWN = """---
title: Front Matter Title
author: Jane Doe
---

# Part One

## Chapter 1: The _Start_

Some **bold** and *italic* and _under_ text with a [link](http://x.org) and
![an image](pic.png) an image, `code` and snake_case_name kept.

> A quoted line
> continues here.

```
code block that must not be read
```

***

### A Sub-Heading

- item one
- item two

## Chapter 2

Last words.
"""


def test_markdown_features() -> None:
    book = parse_text(MARKDOWN.encode("utf-8"), markdown=True)
    assert (book.metadata.title, book.metadata.author) == ("Front Matter Title", "Jane Doe")
    assert [c.title for c in book.chapters] == ["Chapter 1. The Start", "Chapter 2"]
    assert [(b.kind, b.text) for b in book.chapters[0].preamble] == [
        (BlockKind.HEADING, "Part One")
    ]
    blocks = book.chapters[0].blocks
    assert blocks[0].text == (
        "Some bold and italic and under text with a link and an image, code and snake_case_name kept."
    )
    assert blocks[1].text == "A quoted line continues here."
    assert blocks[2].kind is BlockKind.SECTION_BREAK
    assert (blocks[3].kind, blocks[3].text) == (BlockKind.HEADING, "A Sub-Heading")
    assert [b.text for b in blocks[4:]] == ["item one", "item two"]
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "Part One"),
        (2, "Chapter 1. The Start"),
        (2, "Chapter 2"),
    ]
    assert "code block" not in book.chapters[0].text


def test_markdown_title_heading_and_setext() -> None:
    data = b"# The Title\n\nChapter 1\n---------\n\nBody one here.\n\nChapter 2\n---------\n\nBody two here."
    book = parse_text(data, markdown=True)
    assert book.metadata.title == "The Title"
    assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2"]


def test_parse_bytes_routes_markdown_by_name() -> None:
    book = parse_bytes("# Title: T\n\nHello _there_ world.".encode("utf-16"), "story.md")
    assert book.source_format is SourceFormat.MARKDOWN
    assert [(c.title, c.text) for c in book.chapters] == [("T", "Hello there world.")]
