"""DOCX -> :class:`~pipeline.models.Book`, with python-docx.

Chapters come from heading paragraphs (style "Heading N" / "Title", or an outline
level). The chapter level is the shallowest heading level used at least twice once
Project Gutenberg boilerplate and furniture (contents, licence) are gone: Frankenstein's
pandoc DOCX has one Heading 1 (the title) and 30 Heading 2 (Letters, Chapters, byline,
"CONTENTS") -> level 2; The Devil's Dictionary has 27 Heading 1 (title + A..Z) -> level 1.
A shallower heading also starts a new segment. A segment titled with the book's own
title (a title page) takes the last heading before its first paragraph as its title
instead ("Author's Preface"), so The Devil's Dictionary gives Preface + A..Z = 27, the
same units a reader of its TXT edition would hear. Segments without paragraph text
(bylines, title pages) are dropped; text before the first heading becomes an
"Introduction" only if it has 100 words or more.

Dropped: PG header / licence (:mod:`pipeline.parse.gutenberg` markers), TOC-styled
paragraphs (``TOC 1``, LibreOffice ``Text Body.toc``) and short paragraphs repeating a
later heading (an in-document contents list). Horizontal-rule paragraphs become section
breaks; consecutive preformatted paragraphs (verse) become one block of lines.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from pipeline.errors import CorruptDocxError, NoChaptersError
from pipeline.models import Block, BlockKind, Book, BookMetadata, Chapter, Cover, SourceFormat
from pipeline.parse import gutenberg
from pipeline.parse.html import clean_title, collapse, numerals_are_chapters

HEADING_RE = re.compile(r"^(?:heading|berschrift|titre)\s*(\d)$", re.I)
TOC_STYLE_RE = re.compile(r"toc|contents", re.I)
PRE_STYLE_RE = re.compile(r"preformatted|html ?pre|source ?code|plain ?text|verse|poem", re.I)
HR_MARKERS = ('o:hr="t"', "HorizontalLine", "Horizontal Line")
FURNITURE_RE = re.compile(
    r"^(?:(?:table of )?contents|title ?page|copyright|licen[cs]e|index|.*project gutenberg.*)$",
    re.I,
)
TITLE_LEVEL = 0  # the "Title" style: shallower than Heading 1
MIN_INTRO_WORDS = 100


@dataclass(frozen=True)
class _Para:
    level: int | None  # heading level (0 = Title), None for body text
    text: str
    kind: str  # "text", "pre", "hr", "toc"


def parse_docx(data: bytes) -> Book:
    """Parse DOCX bytes into a :class:`Book` of heading-delimited chapters.

    Raises :class:`CorruptDocxError` when the file is not a readable Office Open XML
    document (bad ZIP, missing ``word/document.xml``), :class:`NoChaptersError` when no
    text is left after boilerplate removal.
    """
    import docx  # python-docx; imported here so the EPUB/TXT paths do not pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if not any(n.lower() == "word/document.xml" for n in zf.namelist()):
                raise CorruptDocxError(
                    "the DOCX cannot be read (word/document.xml is missing: it is a ZIP but not "
                    "a Word document); open and re-save it in Word or LibreOffice"
                )
        document = docx.Document(io.BytesIO(data))
        paras = [_classify(p) for p in document.paragraphs]
    except (zipfile.BadZipFile, KeyError, ValueError, AttributeError, OSError) as exc:
        raise CorruptDocxError(
            f"the DOCX cannot be read ({_reason(exc)}); open and re-save it in Word or LibreOffice"
        ) from None
    except Exception as exc:  # python-docx / lxml raise their own types for broken parts
        if type(exc).__module__.split(".")[0] not in ("docx", "lxml"):
            raise
        raise CorruptDocxError(
            f"the DOCX cannot be read ({_reason(exc)}); open and re-save it in Word or LibreOffice"
        ) from None
    metadata = _metadata(document, paras)
    chapters = _chapters(_strip_boilerplate(paras), metadata.title or "")
    if not chapters:
        raise NoChaptersError(
            "the DOCX has no text to read (no paragraphs after headings); check its content"
        )
    return Book(metadata, tuple(chapters), SourceFormat.DOCX, cover=_cover(document))


def _reason(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile) or "zip" in str(exc).lower():
        return "not a valid ZIP package: corrupt or truncated"
    if isinstance(exc, KeyError) or "document" in str(exc).lower():
        return "word/document.xml is missing"
    return "damaged document XML"


def _classify(paragraph) -> _Para:
    style = paragraph.style
    names = f"{style.name or ''} {style.style_id or ''}" if style is not None else ""
    text = collapse(paragraph.text.replace("\n", "\x00"))
    level = None
    if re.search(r"\btitle\b", names, re.I) and not re.search(r"sub", names, re.I):
        level = TITLE_LEVEL
    elif match := HEADING_RE.match((style.name or "").strip() if style is not None else ""):
        level = int(match.group(1))
    elif (outline := paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")) and outline[0].isdigit():
        level = int(outline[0]) + 1 if int(outline[0]) < 9 else None
    if TOC_STYLE_RE.search(names):
        return _Para(None, text, "toc")
    if not text and any(m in paragraph._p.xml for m in HR_MARKERS):
        return _Para(None, "", "hr")
    raw_lines = paragraph.text.split("\n")
    if level is None and PRE_STYLE_RE.search(names):
        return _Para(None, "\n".join(line.strip() for line in raw_lines).strip("\n"), "pre")
    return _Para(level if text else None, text, "text")


def _strip_boilerplate(paras: list[_Para]) -> list[_Para]:
    """Cut the PG header (up to ``*** START``) and everything from ``*** END`` / licence on."""

    def hits(p: _Para, *patterns: re.Pattern[str]) -> bool:
        return any(pat.search(line) for line in p.text.split("\n") for pat in patterns)

    start = max((i for i, p in enumerate(paras) if hits(p, gutenberg.START_RE)), default=-1)
    end = next(
        (
            i
            for i in range(start + 1, len(paras))
            if hits(paras[i], gutenberg.END_RE, gutenberg.LICENSE_RE)
        ),
        len(paras),
    )
    return paras[start + 1 : end]


def _chapters(paras: list[_Para], book_title: str) -> list[Chapter]:
    headings = [p for p in paras if p.level is not None and not FURNITURE_RE.match(_plain(p.text))]
    counts = {
        lvl: sum(1 for p in headings if p.level == lvl) for lvl in {p.level for p in headings}
    }
    level = min((lvl for lvl, n in counts.items() if n >= 2), default=min(counts, default=None))  # type: ignore[type-var]
    later = {_norm(p.text): i for i, p in enumerate(paras) if p.level is not None}
    segments: list[tuple[str, list[Block]]] = [("", [])]
    in_verse = False  # the last block holds preformatted lines still being collected
    for i, p in enumerate(paras):
        if p.level is not None and level is not None and p.level <= level:
            segments.append((p.text, []))
            in_verse = False
            continue
        blocks = segments[-1][1]
        if p.kind == "toc" or (
            p.kind == "text" and later.get(_norm(p.text), -1) > i and len(p.text) < 80
        ):
            continue  # a contents line: repeats a heading that comes later
        if p.kind == "hr":
            blocks.append(Block(BlockKind.SECTION_BREAK))
        elif p.kind == "pre" and p.text and in_verse:
            blocks[-1] = Block(BlockKind.PARAGRAPH, f"{blocks[-1].text}\n{p.text}")
        elif p.text:
            kind = BlockKind.HEADING if p.level is not None else BlockKind.PARAGRAPH
            blocks.append(Block(kind, p.text))
        in_verse = p.kind == "pre" and bool(p.text)
    numerals = numerals_are_chapters([t for t, _ in segments])
    chapters: list[Chapter] = []
    for n, (label, blocks) in enumerate(segments):
        if not chapters and len(_norm(label)) >= 4 and _norm(book_title).startswith(_norm(label)):
            label, blocks = _title_page(blocks)
        body = _trim(blocks)
        words = sum(len(b.text.split()) for b in body if b.kind is BlockKind.PARAGRAPH)
        if n == 0 and not label:
            label = "Introduction" if words >= MIN_INTRO_WORDS else ""
        if not label or not words or FURNITURE_RE.match(_plain(label)):
            continue
        chapters.append(
            Chapter(len(chapters) + 1, clean_title(label, len(chapters) + 1, numerals), tuple(body))
        )
    return chapters


def _title_page(blocks: list[Block]) -> tuple[str, list[Block]]:
    """For a title-page segment: the last heading before the first paragraph, and the rest."""
    first = next((i for i, b in enumerate(blocks) if b.kind is BlockKind.PARAGRAPH), len(blocks))
    head = max((i for i in range(first) if blocks[i].kind is BlockKind.HEADING), default=None)
    return ("", []) if head is None else (blocks[head].text, blocks[head + 1 :])


def _trim(blocks: list[Block]) -> list[Block]:
    while blocks and blocks[0].kind is BlockKind.SECTION_BREAK:
        blocks = blocks[1:]
    while blocks and blocks[-1].kind is BlockKind.SECTION_BREAK:
        blocks = blocks[:-1]
    return [b for i, b in enumerate(blocks) if b.kind is not BlockKind.SECTION_BREAK
            or blocks[i - 1].kind is not BlockKind.SECTION_BREAK]  # fmt: skip


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text)).strip()


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _metadata(document, paras: list[_Para]) -> BookMetadata:
    props = document.core_properties
    title = (props.title or "").strip() or next(
        (p.text for p in paras if p.level == TITLE_LEVEL), None
    )
    author = (props.author or "").strip() or None
    if title and not author and (m := re.match(r"^(.+?),?\s+by\s+(.+)$", title, re.I)):
        title, author = m.group(1).strip(), m.group(2).strip()
    lang = (props.language or "").strip() or _default_language(document)
    return BookMetadata(title=title, author=author, language=lang)


def _default_language(document) -> str | None:
    """The document-wide language (``w:docDefaults`` in styles.xml), if declared."""
    try:
        values = document.styles.element.xpath("./w:docDefaults//w:lang/@w:val")
    except (AttributeError, ValueError):
        return None
    return str(values[0]) if values else None


def _cover(document) -> Cover | None:
    """The first inline image, if it comes before the first body paragraph with text."""
    ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"
    for paragraph in document.paragraphs:
        blips = paragraph._p.xpath(".//a:blip")
        if blips:
            part = document.part.related_parts.get(blips[0].get(ns))
            mime = getattr(part, "content_type", "")
            if part is not None and mime in ("image/jpeg", "image/png") and part.blob:
                return Cover(part.blob, mime)
            return None
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        if paragraph.text.strip() and not re.search(r"title|author|subtitle|date", style, re.I):
            return None
    return None
