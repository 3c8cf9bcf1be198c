"""EPUB parser: the real corpus (exact counts from corpus/MANIFEST.md) and tiny EPUBs built here."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import (
    CorruptEpubError,
    DrmProtectedError,
    MissingPackageDocumentError,
    NoChaptersError,
    NotAnEpubError,
)
from pipeline.models import BlockKind, Book, SourceFormat
from pipeline.parse import parse_file
from pipeline.parse.epub import parse_epub

BOILERPLATE = (
    "Project Gutenberg",
    "Table of Contents",
    "Standard Ebooks",
    "Uncopyright",
    "gutenberg.org",
)

# file, chapters, first title, last title, (min, max) words, title, author, language, cover mime
BOOKS = [
    ("moby-dick_idpf-epub3.epub", 138, "Etymology", "Epilogue", (208_000, 214_529), "Moby-Dick", "Herman Melville", "en-US", "image/jpeg"),
    ("frankenstein_pg84-epub2.epub", 28, "Letter 1", "Chapter 24", (74_000, 76_000), "Frankenstein; Or, The Modern Prometheus", "Mary Wollstonecraft Shelley", "en", "image/jpeg"),
    ("the-time-machine_standardebooks-epub3.epub", 13, "Chapter 1", "Epilogue", (32_000, 33_151), "The Time Machine", "H. G. Wells", "en-GB", "image/jpeg"),
    ("alice-in-wonderland_epubjs-epub3.epub", 10, "Down The Rabbit-Hole", "Alice's Evidence", (9_300, 9_812), "Alice's Adventures in Wonderland", "Lewis Carroll", "en-US", "image/jpeg"),
    ("the-waste-land_idpf-epub3.epub", 6, "I. The Burial of the Dead", 'Notes on "The Waste Land"', (4_400, 4_607), "The Waste Land", "T.S. Eliot", "en-US", "image/jpeg"),
]  # fmt: skip

_cache: dict[Path, Book] = {}


def _book(path: Path) -> Book:
    if path not in _cache:
        _cache[path] = parse_file(path)
    return _cache[path]


@pytest.mark.parametrize("name,count,first,last,words,title,author,lang,mime", BOOKS)
def test_corpus_epub(corpus, name, count, first, last, words, title, author, lang, mime):
    book = _book(corpus / "epub" / name)
    assert book.source_format is SourceFormat.EPUB
    assert len(book.chapters) == count
    assert [c.index for c in book.chapters] == list(range(1, count + 1))
    assert (book.chapters[0].title, book.chapters[-1].title) == (first, last)
    assert words[0] <= book.words <= words[1]
    assert (book.metadata.title, book.metadata.author, book.metadata.language) == (
        title,
        author,
        lang,
    )
    assert book.cover is not None and book.cover.mime == mime and len(book.cover.data) > 1000
    assert book.warnings == ()
    for chapter in book.chapters:
        assert chapter.words > 0
        assert not any(marker in chapter.text for marker in BOILERPLATE), chapter.title
        assert not chapter.text.lstrip().lower().startswith("contents")


def test_moby_dick_order_and_titles(corpus):
    titles = [c.title for c in _book(corpus / "epub" / "moby-dick_idpf-epub3.epub").chapters]
    assert titles[:3] == [
        "Etymology",
        "Extracts (Supplied by a Sub-Sub-Librarian)",
        "Chapter 1. Loomings",
    ]
    assert titles[137] == "Epilogue" and titles[136] == "Chapter 135. The Chase.—Third Day"
    assert not any("Transcriber" in t for t in titles)


def test_moby_dick_is_fast(corpus):
    import time

    start = time.perf_counter()
    parse_file(corpus / "epub" / "moby-dick_idpf-epub3.epub")
    assert time.perf_counter() - start < 5.0


def test_frankenstein_drops_gutenberg_and_contents(corpus):
    book = _book(corpus / "epub" / "frankenstein_pg84-epub2.epub")
    assert [c.title for c in book.chapters[:5]] == [
        "Letter 1",
        "Letter 2",
        "Letter 3",
        "Letter 4",
        "Chapter 1",
    ]
    assert "START OF THE PROJECT" not in "".join(c.text for c in book.chapters)
    assert book.chapters[0].text.startswith("To Mrs. Saville, England.")
    assert book.chapters[-1].text.endswith("lost in darkness and distance.")


def test_waste_land_splits_one_file_without_noterefs(corpus):
    book = _book(corpus / "epub" / "the-waste-land_idpf-epub3.epub")
    titles = [c.title for c in book.chapters]
    assert titles == [
        "I. The Burial of the Dead", "II. A Game of Chess", "III. The Fire Sermon",
        "IV. Death by Water", "V. What the Thunder Said", 'Notes on "The Waste Land"',
    ]  # fmt: skip
    first = book.chapters[0]
    assert first.blocks[0].text.split("\n")[:2] == [
        "April is the cruellest month, breeding",
        "Lilacs out of the dead land, mixing",
    ]
    # noteref "*" and line number "20" are not read inline
    assert "Out of this stony rubbish? Son of man,\nYou cannot say" in first.text
    assert "*" not in "".join(c.text for c in book.chapters[:5])
    assert "hyacinth girl" not in book.chapters[1].text  # chapters do not overlap
    assert book.chapters[5].text.startswith("Not only the title, but the plan")
    assert "Cf. Ezekiel 2:1." in book.chapters[5].text
    assert any(b.kind is BlockKind.HEADING for b in book.chapters[5].blocks)
    assert "T.S. Eliot" not in first.text  # the title page section is not read


def test_time_machine_endnote_not_inline(corpus):
    book = _book(corpus / "epub" / "the-time-machine_standardebooks-epub3.epub")
    assert [c.title for c in book.chapters[:2]] == ["Chapter 1", "Chapter 2"]
    eight = book.chapters[7]
    assert "sloped at all. The end I had come in" in eight.text
    assert "museum was built into the side of a hill" not in "".join(c.text for c in book.chapters)
    assert not any(
        c.title in ("Endnotes", "Colophon", "Imprint", "Uncopyright") for c in book.chapters
    )


def test_truncated_zip_is_corrupt(corpus):
    with pytest.raises(
        CorruptEpubError, match=r"corrupt or truncated \(ZIP end-of-central-directory not found\)"
    ):
        parse_file(corpus / "bad" / "moby-dick_truncated-half.epub")


def test_zip_that_is_not_an_epub(corpus):
    with pytest.raises(NotAnEpubError, match="ZIP archive but not an EPUB") as err:
        parse_file(corpus / "bad" / "not-an-epub_html-bundle.epub")
    assert "\n" not in str(err.value)


def test_missing_opf_names_the_path(corpus):
    with pytest.raises(
        MissingPackageDocumentError, match=r"package document \(OPF\) 'EPUB/wasteland.opf'"
    ):
        parse_file(corpus / "bad" / "the-waste-land_missing-opf.epub")


def test_deflated_mimetype_is_accepted_with_warning(corpus):
    good = _book(corpus / "epub" / "the-waste-land_idpf-epub3.epub")
    odd = parse_file(corpus / "bad" / "the-waste-land_mimetype-deflated-not-first.epub")
    assert [(c.title, c.words) for c in odd.chapters] == [(c.title, c.words) for c in good.chapters]
    assert odd.chapters == good.chapters
    assert len(odd.warnings) == 1 and "mimetype" in odd.warnings[0]


def test_empty_epub(corpus):
    from pipeline.errors import EmptyFileError

    with pytest.raises(EmptyFileError, match="empty"):
        parse_file(corpus / "bad" / "empty.epub")


# ---- tiny EPUBs built in the test -------------------------------------------------

CONTAINER = b"""<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>x</title><style>p{{}}</style></head><body>{body}</body></html>'
    )


def _zip(files: dict[str, bytes | str], mimetype: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if mimetype:
            zf.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        zf.writestr("META-INF/container.xml", CONTAINER)
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _epub2() -> bytes:
    opf = """<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tiny Two</dc:title><dc:creator>A. Writer</dc:creator>
<dc:language>fr</dc:language><meta name="cover" content="img"/></metadata>
<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
<item id="img" href="c.png" media-type="image/png"/>
<item id="a" href="a.html" media-type="application/xhtml+xml"/><item id="b" href="b.html" media-type="application/xhtml+xml"/>
<item id="c" href="c.html" media-type="application/xhtml+xml"/></manifest>
<spine toc="ncx"><itemref idref="a"/><itemref idref="b"/><itemref idref="c"/></spine></package>"""
    ncx = """<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>
<navPoint id="p1"><navLabel><text>CHAPTER ONE</text></navLabel><content src="a.html"/></navPoint>
<navPoint id="p2"><navLabel><text>Chapter Two</text></navLabel><content src="c.html"/></navPoint></navMap></ncx>"""
    return _zip({
        "OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx, "OEBPS/c.png": PNG,
        "OEBPS/a.html": _xhtml('<h1>CHAPTER ONE</h1><p>First   words\nhere.<sup><a href="#fn1">1</a></sup></p><hr/><p>After the break.</p>'),
        "OEBPS/b.html": _xhtml("<p>Continued without a TOC entry.</p>"),
        "OEBPS/c.html": _xhtml("<h1>Chapter Two</h1><h2>A part</h2><p>Line one<br/>line two</p><script>var x;</script>"),
    })  # fmt: skip


def test_tiny_epub2():
    book = parse_epub(_epub2())
    assert [c.title for c in book.chapters] == ["Chapter One", "Chapter Two"]
    one, two = book.chapters
    assert [(b.kind, b.text) for b in one.blocks] == [
        (BlockKind.PARAGRAPH, "First words here."),
        (BlockKind.SECTION_BREAK, ""),
        (BlockKind.PARAGRAPH, "After the break."),
        (BlockKind.PARAGRAPH, "Continued without a TOC entry."),
    ]
    assert [(b.kind, b.text) for b in two.blocks] == [
        (BlockKind.HEADING, "A part"),
        (BlockKind.PARAGRAPH, "Line one\nline two"),
    ]
    assert (book.metadata.title, book.metadata.author, book.metadata.language) == (
        "Tiny Two",
        "A. Writer",
        "fr",
    )
    assert book.cover is not None and book.cover.mime == "image/png"
    assert book.warnings == ()


def _epub3(extra: dict[str, str] | None = None, mimetype: bool = True) -> bytes:
    opf = """<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tiny Three</dc:title><dc:language>en</dc:language></metadata>
<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="t" href="text.xhtml" media-type="application/xhtml+xml"/><item id="n" href="notes.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="t"/><itemref idref="n"/><itemref idref="nav" linear="no"/></spine></package>"""
    nav = _xhtml('<nav epub:type="toc"><ol><li><a href="text.xhtml#p1">One</a></li><li><a href="text.xhtml#p2">Two</a></li>'
                 '<li><a href="notes.xhtml">Notes</a></li></ol></nav>')  # fmt: skip
    text = _xhtml(
        '<section epub:type="titlepage"><h1>Tiny Three</h1></section>'
        '<section id="p1"><h2>One</h2><p>Alpha beta.<a epub:type="noteref" href="notes.xhtml#n1">1</a></p></section>'
        '<section id="p2"><h2>Two</h2><div class="linegroup"><div>Gamma</div><div>Delta<span class="lnum">5</span></div></div>'
        '<aside epub:type="footnote" id="f"><p>An aside note.</p></aside></section>'
    )
    notes = _xhtml(
        '<section epub:type="endnotes"><ol><li id="n1"><p>The note text.</p></li></ol></section>'
    )
    return _zip({"OEBPS/content.opf": opf, "OEBPS/nav.xhtml": nav, "OEBPS/text.xhtml": text,
                 "OEBPS/notes.xhtml": notes, **(extra or {})}, mimetype)  # fmt: skip


def test_tiny_epub3_fragments_notes_and_verse():
    book = parse_epub(_epub3())
    assert [(c.title, c.text) for c in book.chapters] == [
        ("One", "Alpha beta."),
        ("Two", "Gamma\nDelta"),
    ]
    assert book.cover is None


def test_tiny_epub3_missing_mimetype_warns():
    book = parse_epub(_epub3(mimetype=False))
    assert len(book.chapters) == 2 and "mimetype" in book.warnings[0]


def test_drm_is_refused_but_font_obfuscation_is_not():
    enc = """<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
<enc:EncryptedData><enc:EncryptionMethod Algorithm="{alg}"/><enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>"""
    font = enc.format(alg="http://www.idpf.org/2008/embedding", uri="OEBPS/f.otf")
    assert len(parse_epub(_epub3({"META-INF/encryption.xml": font})).chapters) == 2
    drm = enc.format(alg="http://www.w3.org/2001/04/xmlenc#aes128-cbc", uri="OEBPS/text.xhtml")
    with pytest.raises(DrmProtectedError, match="DRM"):
        parse_epub(_epub3({"META-INF/encryption.xml": drm}))


def test_no_text_is_no_chapters():
    data = _zip({"OEBPS/content.opf": """<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/>
<manifest><item id="a" href="a.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="a"/></spine></package>""",
                 "OEBPS/a.xhtml": _xhtml('<img src="x.png" alt=""/>')})  # fmt: skip
    with pytest.raises(NoChaptersError):
        parse_epub(data)


def test_not_a_zip_and_garbage_entries():
    with pytest.raises(NotAnEpubError):
        parse_epub(b"hello, not a zip")
    with pytest.raises(CorruptEpubError):
        parse_epub(_epub2()[:200])
