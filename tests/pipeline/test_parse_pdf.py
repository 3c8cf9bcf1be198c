"""PDF parsing with pypdfium2: layout to paragraphs, furniture, hyphens, chapters, errors.

Self-built PDFs are written by hand (:func:`make_pdf`: Courier text, one line per entry,
``""`` for a paragraph gap), so every format path is covered without the corpus.
"""

from __future__ import annotations

import re
import textwrap
import time

import pytest

from pipeline.errors import CorruptPdfError, NoTextLayerError
from pipeline.models import Book, SourceFormat
from pipeline.parse import parse_bytes, parse_file
from pipeline.parse.gutenberg import is_boilerplate_text
from pipeline.parse.pdf import parse_pdf

PP_PDF = "pdf/pride-and-prejudice_pg1342_msword2007.pdf"
PP_TXT = "text/pride-and-prejudice_pg1342_utf8-bom-crlf.txt"
FRANK_PDF = "pdf/frankenstein_pg84_libreoffice.pdf"


Line = str | tuple[str, float, bool]


def make_pdf(
    pages: list[list[Line]], *, info: dict[str, str] | None = None, encrypt: bool = False
) -> bytes:
    """A minimal PDF: each page's lines in 11pt Courier, 14pt apart; "" adds a 7pt gap.

    A line given as ``(text, size, centred)`` is set in Courier of that size (its line
    1.3 sizes high), centred on the page when ``centred``, else at the left margin.

    ``encrypt`` adds a standard-security ``/Encrypt`` dictionary whose user password is
    not empty, so readers ask for a password.
    """
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    pages_id = add(b"")
    kids = []
    for lines in pages:
        ops = [b"BT"]
        y = 720.0
        for line in lines:
            if not line:
                y -= 7
                continue
            text, size, centred = (line, 11.0, False) if isinstance(line, str) else line
            x = (612 - 0.6 * size * len(text)) / 2 if centred else 72
            esc = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(b"/F1 %.1f Tf 1 0 0 1 %.2f %.2f Tm" % (size, x, y))
            ops.append(b"(" + esc.encode("cp1252") + b") Tj")
            y -= 14 if isinstance(line, str) else 1.3 * size
        stream = b"\n".join([*ops, b"ET"])
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_id, font, content)
        ))  # fmt: skip
    kid_refs = b" ".join(b"%d 0 R" % k for k in kids)
    objs[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kid_refs, len(kids))
    trailer = b"/Root %d 0 R" % add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    if info:
        fields = " ".join(f"/{k} ({v})" for k, v in info.items()).encode("latin-1")
        trailer += b" /Info %d 0 R" % add(b"<< " + fields + b" >>")
    if encrypt:
        enc = add(
            b"<< /Filter /Standard /V 1 /R 2 /O <"
            + b"ab" * 32
            + b"> /U <"
            + b"cd" * 32
            + b"> /P -4 >>"
        )
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (enc, b"01" * 16, b"01" * 16)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, trailer, xref)
    return bytes(out)


PARA = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "Nobody in the house had noticed, and nobody in the street would have cared."
)


def wrap(text: str) -> list[str]:
    return textwrap.wrap(text, 60)


def all_lines(book: Book) -> list[str]:
    return [line for c in book.chapters for b in c.blocks for line in b.text.split("\n")]


# --- self-built ---------------------------------------------------------------------


def tiny_book() -> bytes:
    """Three pages with a running header, page numbers, two chapters and hyphen breaks."""
    page1 = ["MY LITTLE BOOK", "Chapter 1", "", *wrap(PARA), "", *wrap(PARA), "",
             "The well-known something of the matter, as it were, being told,", "we went home. And then some-",
             "", "1"]  # fmt: skip
    page2 = ["MY LITTLE BOOK", "thing else happened to the well-", "known family that lived there.", "",
             *wrap(PARA), "", "2"]  # fmt: skip
    page3 = ["MY LITTLE BOOK", "Chapter 2", "", *wrap(PARA), "", "3"]
    return make_pdf([page1, page2, page3], info={"Title": "Tiny Book", "Author": "A. Writer"})


def test_tiny_pdf_structure_and_metadata() -> None:
    book = parse_pdf(tiny_book())
    assert book.source_format is SourceFormat.PDF
    assert (book.metadata.title, book.metadata.author) == ("Tiny Book", "A. Writer")
    assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2"]
    texts = [b.text for b in book.chapters[0].blocks]
    assert texts[:2] == [PARA, PARA]
    assert texts[2] == (
        "The well-known something of the matter, as it were, being told, we went home. "
        "And then something else happened to the well-known family that lived there."
    )
    assert [b.text for b in book.chapters[1].blocks] == [PARA]
    lines = all_lines(book)
    assert "MY LITTLE BOOK" not in " ".join(lines)  # running header removed
    assert not any(re.fullmatch(r"\W*\d+\W*", line) for line in lines)  # page numbers removed


def test_parse_bytes_routes_pdf() -> None:
    assert parse_bytes(tiny_book(), "tiny.pdf").chapters[0].title == "Chapter 1"


def test_no_headings_pdf_is_one_chapter_titled_by_info() -> None:
    book = parse_pdf(make_pdf([wrap(PARA)], info={"Title": "Microsoft Word - notes.docx"}))
    assert [(c.title, c.text) for c in book.chapters] == [("notes", PARA)]


def test_pdf_without_text_needs_ocr() -> None:
    with pytest.raises(NoTextLayerError, match="OCR"):
        parse_pdf(make_pdf([[], []]))


def test_encrypted_pdf_is_rejected() -> None:
    with pytest.raises(CorruptPdfError, match="encrypted with a password"):
        parse_pdf(make_pdf([wrap(PARA)], encrypt=True))


@pytest.mark.parametrize("data", [b"%PDF-1.4\nnot really a pdf", tiny_book()[:300]])
def test_damaged_pdf_is_rejected(data: bytes) -> None:
    with pytest.raises(CorruptPdfError, match="damaged or truncated"):
        parse_pdf(data)


def test_two_line_chapter_titles_are_joined() -> None:
    """A title wrapped onto a second line (left-aligned, or centred and larger) is one
    heading; a short first line of text under a heading is not taken into the title."""
    ends = [  # distinct last lines: repeated page edges would be dropped as furniture
        "The band was speckled, and the night was long and cold. We slept at last, "
        "when the lamp went out.",
        "The lip was twisted, and the opium den was very dark. We left it at dawn "
        "by the river stairs.",
        "The ship sailed north, and the ice closed in around her. We wrote letters "
        "home to our sister.",
        "The case was solved, and the typewriter told us all. We dined well at the "
        "inn that evening.",
    ]
    page1 = [("CHAPTER I.", 16, True), ("THE ADVENTURE OF THE", 16, True),
             ("SPECKLED BAND", 16, True), "", *wrap(PARA), "", *wrap(ends[0])]  # fmt: skip
    page2 = ["CHAPTER II. THE MAN WITH THE", "TWISTED LIP", "", *wrap(PARA), "", *wrap(ends[1])]
    page3 = ["Chapter 3", "To Mrs. Saville, England.", "", *wrap(PARA), "", *wrap(ends[2])]
    page4 = [("CHAPTER IV. A CASE OF", 16, True), ("IDENTITY", 16, True), "", *wrap(PARA),
             "", *wrap(ends[3])]  # fmt: skip
    book = parse_pdf(make_pdf([page1, page2, page3, page4]))
    assert [c.title for c in book.chapters] == [
        "Chapter 1. The Adventure of the Speckled Band",
        "Chapter 2. The Man with the Twisted Lip",
        "Chapter 3",
        "Chapter 4. A Case of Identity",
    ]
    assert [[b.text for b in c.blocks] for c in book.chapters] == [
        [PARA, ends[0]],
        [PARA, ends[1]],
        ["To Mrs. Saville, England.", PARA, ends[2]],
        [PARA, ends[3]],
    ]
    assert [(s.level, s.title) for s in book.sections] == [(1, c.title) for c in book.chapters]


# --- corpus -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pp_pdf(corpus) -> Book:
    return parse_file(corpus / PP_PDF)


def test_pride_and_prejudice_pdf(pp_pdf: Book) -> None:
    assert [c.title for c in pp_pdf.chapters] == [f"Chapter {n}" for n in range(1, 62)]
    assert pp_pdf.metadata.title == "Pride and Prejudice"
    assert pp_pdf.metadata.author == "Jane Austen"  # PG header, not the info dict's "Chuck"
    assert pp_pdf.metadata.language == "en"
    assert abs(pp_pdf.words - 121_760) <= 0.05 * 121_760
    assert pp_pdf.chapters[0].blocks[0].text == (
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife."
    )
    assert pp_pdf.chapters[-1].text.endswith("had been the means of uniting them.")
    for chapter in pp_pdf.chapters:
        assert "Gutenberg" not in chapter.text and not is_boilerplate_text(chapter.text)


def test_pride_and_prejudice_pdf_matches_txt(corpus, pp_pdf: Book) -> None:
    txt = parse_file(corpus / PP_TXT)
    assert [c.title for c in pp_pdf.chapters] == [c.title for c in txt.chapters]
    assert abs(pp_pdf.words - txt.words) <= 0.03 * txt.words
    for a, b in zip(txt.chapters, pp_pdf.chapters, strict=True):
        assert abs(a.words - b.words) <= max(10, 0.03 * a.words), a.title
        assert abs(len(a.blocks) - len(b.blocks)) <= 3, a.title  # paragraphs rebuilt


def test_pdf_lines_and_pages_are_joined(pp_pdf: Book) -> None:
    text = "\n".join(c.text for c in pp_pdf.chapters)
    # paragraphs continued across page breaks (last word of a page + first of the next)
    for joined in (
        "perfect symmetry in her form, he was forced",
        "at the request of her younger sisters",
    ):
        assert joined in text
    # hyphens at line ends: real compounds keep the hyphen, nothing is left split
    for word in ("dining-parlour", "good-naturedly", "over-rated", "self-denial", "grown-up"):
        assert word in text
    assert not re.search(r"[a-z]- [a-z]", text)
    assert "\x02" not in text and "\ufffe" not in text and "\xad" not in text
    assert not any(re.fullmatch(r"\W*\d+\W*", line) for line in all_lines(pp_pdf))


def test_pdf_parse_time(corpus) -> None:
    start = time.perf_counter()
    parse_file(corpus / PP_PDF)
    assert time.perf_counter() - start < 15  # about 2 s on a laptop core


def test_frankenstein_pdf(corpus) -> None:
    book = parse_file(corpus / FRANK_PDF)
    expected = [f"Letter {n}" for n in range(1, 5)] + [f"Chapter {n}" for n in range(1, 25)]
    assert [c.title for c in book.chapters] == expected
    assert book.metadata.title == "Frankenstein; Or, The Modern Prometheus"
    assert book.metadata.author == "Mary Wollstonecraft Shelley"
    assert abs(book.words - 75_000) <= 0.05 * 75_000  # 78,306 minus PG header and licence
    assert [b.text for b in book.chapters[0].blocks[:2]] == [
        "To Mrs. Saville, England.",
        "St. Petersburgh, Dec. 11th, 17—.",
    ]
    text = "\n".join(c.text for c in book.chapters)
    assert "I never saw a more interesting creature" in text  # across a page break
    assert "Gutenberg" not in text and "\x02" not in text
    assert book.chapters[-1].text.endswith("lost in darkness and distance.")


def test_scanned_pdf_needs_ocr(corpus) -> None:
    with pytest.raises(NoTextLayerError, match="no text layer.*OCR"):
        parse_file(corpus / "bad/pride-and-prejudice_scanned-image-only_p1-6.pdf")


def test_truncated_pdf_is_rejected(corpus) -> None:
    start = time.perf_counter()
    with pytest.raises(CorruptPdfError, match="damaged or truncated"):
        parse_file(corpus / "bad/pride-and-prejudice_truncated.pdf")
    assert time.perf_counter() - start < 5
