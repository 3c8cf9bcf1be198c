"""DOCX parser: the two corpus DOCX files (MANIFEST.md) and small documents built here."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest

from pipeline.errors import CorruptDocxError
from pipeline.models import BlockKind, SourceFormat
from pipeline.parse import parse_file
from pipeline.parse.docx import parse_docx

JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00"
    + bytes(range(1, 65))
    + b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00\xff\xc4\x00\x14\x00\x01"
    + b"\x00" * 15
    + b"\x03\xff\xc4\x00\x14\x10\x01"
    + b"\x00" * 16
    + b"\xff\xda\x00\x08\x01\x01\x00\x00?\x00\xd2\xcf \xff\xd9"
)


@pytest.fixture(scope="module")
def frankenstein(corpus):
    return parse_file(corpus / "docx" / "frankenstein_pg84_pandoc.docx")


@pytest.fixture(scope="module")
def devils(corpus):
    return parse_file(corpus / "docx" / "the-devils-dictionary_pg972_libreoffice.docx")


def test_frankenstein_docx(frankenstein):
    book = frankenstein
    assert book.source_format is SourceFormat.DOCX
    titles = [c.title for c in book.chapters]
    assert len(titles) == 28
    assert titles[:5] == ["Letter 1", "Letter 2", "Letter 3", "Letter 4", "Chapter 1"]
    assert titles[-1] == "Chapter 24"
    assert 74_000 <= book.words <= 76_000  # 78,297 in the MANIFEST, ~3,000 of them PG licence
    assert book.metadata.title == "Frankenstein; Or, The Modern Prometheus"
    assert book.metadata.author == "Mary Wollstonecraft Shelley"
    assert book.metadata.language == "en-US"
    assert (
        book.cover is not None
        and book.cover.mime == "image/jpeg"
        and book.cover.data[:3] == b"\xff\xd8\xff"
    )
    text = "\n".join(c.text for c in book.chapters)
    assert "Project Gutenberg" not in text and "CONTENTS" not in text
    assert book.chapters[0].text.startswith("To Mrs. Saville, England.")
    assert book.chapters[-1].text.endswith("lost in darkness and distance.")


def test_devils_dictionary_docx(devils):
    book = devils
    titles = [c.title for c in book.chapters]
    assert titles == ["Author's Preface"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert 59_000 <= book.words <= 61_500  # TXT body: 60,470
    assert (book.metadata.title, book.metadata.author, book.metadata.language) == (
        "The Devil's Dictionary", "Ambrose Bierce", "en-US",
    )  # fmt: skip
    assert book.cover is None
    text = "\n".join(c.text for c in book.chapters)
    assert "Project Gutenberg" not in text and "CONTENTS" not in text
    assert book.chapters[0].text.startswith(
        "The Devil's Dictionary was begun in a weekly paper in 1881"
    )
    assert book.chapters[1].text.startswith("ABASEMENT, n.")
    # preformatted verse lines stay together, one block per stanza
    verse = next(
        b.text for b in book.chapters[1].blocks if b.text.startswith("Poor Isabella's Dead")
    )
    assert verse.split("\n")[:2] == [
        "Poor Isabella's Dead, whose abdication",
        "Set all tongues wagging in the Spanish nation.",
    ]


def _docx_bytes(build) -> bytes:
    document = docx.Document()
    build(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_small_docx_headings_breaks_and_cover():
    def build(d):
        d.core_properties.title = "Small Book"
        d.core_properties.author = "Ann Author"
        d.core_properties.language = "en-GB"
        d.add_picture(io.BytesIO(JPEG))
        d.add_paragraph("Small Book", style="Title")
        d.add_paragraph("Contents", style="TOC Heading") if "TOC Heading" in [
            s.name for s in d.styles
        ] else None
        d.add_heading("Chapter One", level=1)
        d.add_paragraph("It   was a dark\nand stormy night.")
        d.add_heading("A scene", level=2)
        d.add_paragraph("More text.")
        d.add_heading("Chapter Two", level=1)
        d.add_paragraph("The end.")

    book = parse_docx(_docx_bytes(build))
    assert [c.title for c in book.chapters] == ["Chapter One", "Chapter Two"]
    assert [(b.kind, b.text) for b in book.chapters[0].blocks] == [
        (BlockKind.PARAGRAPH, "It was a dark\nand stormy night."),
        (BlockKind.HEADING, "A scene"),
        (BlockKind.PARAGRAPH, "More text."),
    ]
    assert (book.metadata.title, book.metadata.author, book.metadata.language) == (
        "Small Book",
        "Ann Author",
        "en-GB",
    )
    assert book.cover is not None and book.cover.mime == "image/jpeg"


def test_small_docx_gutenberg_and_title_fallback():
    def build(d):
        d.add_paragraph("My Title", style="Title")
        d.add_paragraph("*** START OF THE PROJECT GUTENBERG EBOOK MY TITLE ***")
        d.add_heading("I", level=2)
        d.add_paragraph("Roman one.")
        d.add_heading("II", level=2)
        d.add_paragraph("Roman two.")
        d.add_paragraph("*** END OF THE PROJECT GUTENBERG EBOOK MY TITLE ***")
        d.add_paragraph("Licence words.")

    book = parse_docx(_docx_bytes(build))
    assert book.metadata.title == "My Title"
    assert [(c.title, c.text) for c in book.chapters] == [
        ("Chapter 1", "Roman one."),
        ("Chapter 2", "Roman two."),
    ]
    assert book.cover is None


def test_corrupt_docx():
    with pytest.raises(CorruptDocxError, match="DOCX cannot be read"):
        parse_docx(b"PK\x03\x04 truncated")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(CorruptDocxError, match="word/document.xml is missing") as err:
        parse_docx(buf.getvalue())
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
