"""The same book as DOCX and as EPUB gives the same tracks, title and author (issue 13).

The DOCX is made here from the corpus Frankenstein EPUB's own (PG HTML) documents the way
LibreOffice's ``soffice --convert-to docx`` maps HTML: ``h1``..``h6`` -> "Heading N",
``p``/text ``div`` -> "Body Text" (``center`` classes centred), ``pre`` -> "Preformatted
Text" lines, ``hr`` -> a "Horizontal Line" paragraph, tables (the contents) -> a table
(not a paragraph); core title from ``<title>``, no author. The emulation is checked
against a real LibreOffice DOCX (the corpus Devil's Dictionary, made from PG HTML).
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from lxml import etree, html

from pipeline.parse import parse_file
from pipeline.parse.docx import parse_docx

BLOCKS = {"p", "div", "pre", "hr", "table", "h1", "h2", "h3", "h4", "h5", "h6"}


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _text(el) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


def _emit(d, el) -> None:
    name = _local(el)
    if name == "table":
        d.add_table(rows=1, cols=1).cell(0, 0).text = _text(el)
    elif name == "hr":
        d.add_paragraph("", style="Horizontal Line")
    elif name == "pre":
        for line in "".join(el.itertext()).split("\n"):
            d.add_paragraph(line.rstrip(), style="Preformatted Text")
    elif re.fullmatch(r"h[1-6]", name):
        d.add_paragraph(_text(el), style=f"Heading {name[1]}")
    elif name == "p" or not any(_local(c) in BLOCKS for c in el):
        if text := _text(el):
            para = d.add_paragraph(text, style="Body Text")
            if "center" in (el.get("class") or ""):
                para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    else:
        for child in el:
            _emit(d, child)


def _libreoffice_docx(pages: list, title: str) -> bytes:
    """HTML documents (parsed roots), in order, as LibreOffice would write them to DOCX."""
    d = docx.Document()
    d.styles.add_style("Preformatted Text", WD_STYLE_TYPE.PARAGRAPH)
    d.styles.add_style("Horizontal Line", WD_STYLE_TYPE.PARAGRAPH)
    d.core_properties.title = title
    d.core_properties.author = ""
    for page in pages:
        body = next((el for el in page if _local(el) == "body"), None)
        for child in body if body is not None else ():
            _emit(d, child)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _epub_as_docx(epub_path) -> bytes:
    """The EPUB's spine documents as one LibreOffice DOCX; core title from ``<title>``."""
    with zipfile.ZipFile(epub_path) as zf:
        opf = etree.fromstring(zf.read("OEBPS/content.opf"))
        ns = {"o": "http://www.idpf.org/2007/opf"}
        hrefs = {i.get("id"): i.get("href") for i in opf.iterfind(".//o:manifest/o:item", ns)}
        spine = [hrefs[r.get("idref")] for r in opf.iterfind(".//o:spine/o:itemref", ns)]
        pages = [etree.fromstring(zf.read(f"OEBPS/{href}")) for href in spine]
    title = pages[1].find(".//{http://www.w3.org/1999/xhtml}title")
    return _libreoffice_docx(pages, _text(title))  # "Frankenstein | Project Gutenberg"


@pytest.fixture(scope="module")
def frankenstein_epub(corpus):
    return corpus / "epub" / "frankenstein_pg84-epub2.epub"


def test_frankenstein_libreoffice_docx_matches_epub(frankenstein_epub):
    from_epub = parse_file(frankenstein_epub)
    book = parse_docx(_epub_as_docx(frankenstein_epub))
    titles = [c.title for c in book.chapters]
    assert titles == [c.title for c in from_epub.chapters]
    assert titles[0] == "Letter 1" and titles[-1] == "Chapter 24" and len(titles) == 28
    meta = (book.metadata.title, book.metadata.author)
    assert meta == (from_epub.metadata.title, from_epub.metadata.author)
    assert meta == ("Frankenstein; Or, The Modern Prometheus", "Mary Wollstonecraft Shelley")
    heard = "\n".join(b.text for c in book.chapters for b in (*c.preamble, *c.blocks))
    assert "Project Gutenberg" not in heard and "Godwin" not in heard
    assert book.chapters[0].text.startswith("To Mrs. Saville, England.")
    assert abs(book.words - from_epub.words) <= from_epub.words * 0.01


def test_emulation_matches_real_libreoffice_docx(corpus):
    """The emulation above, on the PG HTML the corpus Devil's Dictionary DOCX was made
    from by LibreOffice 7.4 (MANIFEST), gives what the real DOCX gives."""
    with zipfile.ZipFile(corpus / "bad" / "not-an-epub_html-bundle.epub") as zf:
        root = html.fromstring(zf.read("972-h.htm"))
    emulated = parse_docx(_libreoffice_docx([root], root.findtext(".//title").strip()))
    real = parse_file(corpus / "docx" / "the-devils-dictionary_pg972_libreoffice.docx")
    assert [c.title for c in emulated.chapters] == [c.title for c in real.chapters]
    assert (emulated.metadata.title, emulated.metadata.author) == (
        real.metadata.title,
        real.metadata.author,
    )
    assert emulated.words == real.words
