"""DOCX -> :class:`~pipeline.models.Book`, with python-docx.

Each heading paragraph (style "Heading N", or an outline level) gives a
:class:`~pipeline.models.Section` at level N with the text up to the next heading;
:mod:`pipeline.structure` makes the tracks. Before that:

* **Boilerplate**: the PG header (up to ``*** START``) and everything from ``*** END`` /
  the licence on are cut (:mod:`pipeline.parse.gutenberg`).
* **Title page**: at the top, before the first heading with body text under it or the
  contents, the paragraphs printing the title ("Title" style, or a heading / centred line
  repeating the book's title), the byline ("by", "By Ann Author", the name after a lone
  "by") and credit lines ("Illustrated by ...") are not read. Metadata: core properties,
  else the PG header's ``Title:`` / ``Author:`` lines, else this page.
* **Furniture and notes**: a heading such as "Contents", "Licence" or "FOOTNOTES:" drops
  itself and all up to the next heading of its level or above (a "FOOTNOTES:" paragraph
  followed by notes: up to the next heading); so do TOC-styled paragraphs and short ones
  repeating a later heading (a contents list). Inline note markers (``{1}``, ``[1]``) are
  removed. A "Title" paragraph is never a section.
* **Levels**: sections before the first top-level one are raised to the top (a preface
  before "A".."Z"); a level below the top used by one heading only is no division of the
  book: that heading is a sub-heading in its section. Text before the first heading is an
  "Introduction" only if it has 100 words or more.

Horizontal rules become section breaks; consecutive preformatted paragraphs (verse) one
block of lines. ALL-CAPS titles are title-cased, Roman numerals kept ("CHAPTER IV. THE
STORM" -> "Chapter IV. The Storm").
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, replace

from pipeline import structure
from pipeline.errors import CorruptDocxError, NoChaptersError
from pipeline.models import Block, BlockKind, Book, BookMetadata, Cover, Section, SourceFormat
from pipeline.parse import gutenberg
from pipeline.parse.html import clean_title, collapse

HEADING_RE = re.compile(r"^(?:heading|berschrift|titre)\s*(\d)$", re.I)
TOC_STYLE_RE = re.compile(r"toc|contents", re.I)
PRE_STYLE_RE = re.compile(r"preformatted|html ?pre|source ?code|plain ?text|verse|poem", re.I)
HR_MARKERS = ('o:hr="t"', "HorizontalLine", "Horizontal Line")
FURNITURE_RE = re.compile(
    r"^(?:(?:table of )?contents|title ?page|copyright|licen[cs]e|index|.*project gutenberg.*)$",
    re.I,
)
NOTES_RE = re.compile(r"^(?:foot|end)?notes?$", re.I)  # a notes section's heading
NOTE_LINE_RE = re.compile(r"^\s*(?:\{\d{1,3}\}|\[\d{1,3}\]|\d{1,3}\.\s)")  # "{1} The note."
MARKER_RE = re.compile(r"\s?(?:\{\d{1,3}\}|\[\d{1,3}\])")  # "word{1}" / "word [1]" in text
BYLINE_RE = re.compile(  # "by", "By Ann Author", "Illustrated by ...", "Author of ..."
    r"^(?:by\b|(?:with |and )?(?:an? )?(?:illustrat|translat|edit|produc|prepar|introduc|"
    r"pictures|drawings|frontispiece)[\w\s,]{0,40}?\bby\b|author of\b|with illustrations\b)",
    re.I,
)
PG_TITLE_RE = re.compile(r"^the project gutenberg e-?book,? of\s+|\s*\|\s*project gutenberg$", re.I)
TITLE_LEVEL = 0  # the "Title" style: not a section
MIN_INTRO_WORDS = 100
TITLE_PAGE_MAX_WORDS = 25  # a longer plain paragraph ends the title page


@dataclass(frozen=True)
class _Para:
    level: int | None  # heading level (0 = Title), None for body text
    text: str
    kind: str  # "text", "pre", "hr", "toc"
    centred: bool = False


def parse_docx(data: bytes) -> Book:
    """Parse DOCX bytes into a :class:`Book` whose ``sections`` are its headings (level N
    for "Heading N", normalized so 1 is the top) and whose chapters are their tracks at
    the default split level (module doc: what is dropped, where metadata comes from).

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
    body = _strip_boilerplate(paras)
    metadata = _metadata(document, paras)
    end, page_title, page_author = _title_page(body, metadata.title, metadata.author)
    title = metadata.title or page_title or next((p.text for p in paras if p.level == 0), None)
    metadata = replace(metadata, title=title, author=metadata.author or page_author)
    sections = structure.normalize(_levels(_sections(body[end:])))
    chapters = structure.chapters(sections)
    if not chapters:
        raise NoChaptersError(
            "the DOCX has no text to read (no paragraphs after headings); check its content"
        )
    return Book(metadata, chapters, SourceFormat.DOCX, cover=_cover(document), sections=sections)


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
        level = TITLE_LEVEL if (style.name or "").strip().lower() == "title" else 1
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
    return _Para(level if text else None, text, "text", _centred(paragraph))


def _centred(paragraph) -> bool:
    """Whether the paragraph, or the first style in its chain that says, centres it."""
    align = paragraph.paragraph_format.alignment
    style = paragraph.style
    while align is None and style is not None:
        align, style = style.paragraph_format.alignment, style.base_style
    return align is not None and int(align) == 1  # WD_ALIGN_PARAGRAPH.CENTER


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


def _title_page(
    paras: list[_Para], title: str | None, author: str | None
) -> tuple[int, str | None, str | None]:
    """``(end, title, author)`` of the title page at the top of ``paras`` (module doc):
    ``paras[:end]`` is not read (``end`` is 0 without one); ``title`` is its Title-styled
    paragraph or first heading, ``author`` its byline, each ``None`` when not printed.

    It is looked for before the first heading with body text under it, the first
    contents entry or furniture heading, and the first long plain paragraph; it ends
    after the last title, byline or credit line there."""
    heads = {_norm(p.text) for p in paras if p.level}
    body = [  # text a reader reads: no heading, centred line, contents line or rule
        p.level is None and p.kind in ("text", "pre") and bool(p.text) and not p.centred
        and (len(p.text) >= 80 or _norm(p.text) not in heads)
        for p in paras
    ]  # fmt: skip
    region, under = len(paras), False  # under: body text since the last heading seen
    for i in range(len(paras) - 1, -1, -1):  # from the end: the first stop wins
        p = paras[i]
        if p.kind == "toc" or (p.level and FURNITURE_RE.match(_plain(p.text))):
            region = i
        elif p.level and under:
            region = i + 1 if re.match(r"by\b", p.text, re.I) else i
        elif body[i] and len(p.text.split()) > TITLE_PAGE_MAX_WORDS:
            region = i
        under = body[i] or (under and p.level is None)
    key = _norm(title or "")
    last_by = max((j for j in range(region) if BYLINE_RE.match(paras[j].text)), default=-1)
    found_title, found_author, end, prev = None, None, 0, ""
    for i, p in enumerate(paras[:region]):
        norm, lone_by = _norm(p.text), prev == "by"
        if not norm:
            continue
        prev = norm
        if p.level == 0 or (key and len(norm) >= 4 and (norm in key or key in norm)):
            found_title = found_title or p.text
        elif lone_by or BYLINE_RE.match(p.text) or (author and norm == _norm(author)):
            byline = p.text if lone_by else re.sub(r"^by\s+", "", p.text, flags=re.I)
            if lone_by or (p.text.lower().startswith("by") and _norm(byline) != "by"):
                found_author = found_author or _case(byline)
        elif not (found_title or key) and p.level is not None and i < last_by:
            found_title = p.text  # the first heading above a byline
        else:
            continue
        end = i + 1
    return end, found_title and _case(found_title), found_author


def _sections(paras: list[_Para]) -> list[Section]:
    """The headings of ``paras`` as sections, each with its text up to the next heading;
    furniture, notes and contents lines dropped (module doc)."""
    later = {_norm(p.text): i for i, p in enumerate(paras) if p.level}
    heads: list[tuple[int, str]] = [(0, "")]  # (level, title); level 0: text before any
    bodies: list[list[Block]] = [[]]
    skip: int | None = None  # inside furniture/notes: until a heading at this level or above
    in_verse = False  # the last block holds preformatted lines still being collected
    for i, p in enumerate(paras):
        plain = _plain(p.text)
        if p.level:
            if skip is not None and p.level > skip:
                continue
            skip = None
            if FURNITURE_RE.match(plain) or NOTES_RE.match(plain):
                skip = p.level
            else:
                heads.append((p.level, _case(_unmark(p.text))))
                bodies.append([])
            in_verse = False
            continue
        blocks = bodies[-1]
        if p.kind == "text" and NOTES_RE.match(plain):
            if NOTE_LINE_RE.match(next((q.text for q in paras[i + 1 :] if q.text), "")):
                skip = skip or 10  # a "FOOTNOTES:" paragraph: notes run to the next heading
        if skip is not None or p.level == TITLE_LEVEL or p.kind == "toc":
            continue
        if p.kind == "text" and later.get(_norm(p.text), -1) > i and len(p.text) < 80:
            continue  # a contents line: repeats a heading that comes later
        if p.kind == "hr":
            blocks.append(Block(BlockKind.SECTION_BREAK))
        elif p.kind == "pre" and p.text and in_verse:
            blocks[-1] = Block(BlockKind.PARAGRAPH, f"{blocks[-1].text}\n{_unmark(p.text)}")
        elif p.text:
            blocks.append(Block(BlockKind.PARAGRAPH, _unmark(p.text)))
        in_verse = p.kind == "pre" and bool(p.text)
    sections = [Section(lvl, t, tuple(b)) for (lvl, t), b in zip(heads, bodies, strict=True)]
    intro, sections = sections[0], sections[1:]
    if intro.words >= MIN_INTRO_WORDS:
        level = sections[0].level if sections else 1
        sections.insert(0, replace(intro, level=level, title="Introduction"))
    return sections


def _levels(sections: list[Section]) -> list[Section]:
    """Sections before the first top-level one raised to the top; a level below the top
    used by one heading only folded into the section before it as a sub-heading."""
    if not sections:
        return sections
    top = min(s.level for s in sections)
    first = next(i for i, s in enumerate(sections) if s.level == top)
    if first:
        shift = min(s.level for s in sections[:first]) - top
        sections = [replace(s, level=s.level - shift) for s in sections[:first]] + sections[first:]
    counts = Counter(s.level for s in sections)
    out: list[Section] = []
    for s in sections:
        if out and s.level > top and counts[s.level] == 1:
            head = (Block(BlockKind.HEADING, s.title),) if s.title else ()
            out[-1] = replace(out[-1], blocks=out[-1].blocks + head + s.blocks)
        else:
            out.append(s)
    return out


def _unmark(text: str) -> str:
    """``text`` without inline note markers ("word{1}", "word [2]")."""
    return MARKER_RE.sub("", text)


def _case(text: str) -> str:
    """A title as printed, tidied by :func:`pipeline.parse.html.clean_title` (leading
    ALL-CAPS words title-cased, Roman numerals kept); empty text stays empty."""
    return clean_title(text, 0, False) if collapse(text).strip(" .:;,") else ""


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text)).strip()


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _metadata(document, paras: list[_Para]) -> BookMetadata:
    """Core properties first, then the PG header's ``Title:``/``Author:``/``Language:``.
    A core title "X, by Y" gives X and Y; one made from PG's HTML ``<title>`` ("The Project
    Gutenberg eBook of X", "X | Project Gutenberg") gives way to the header's title."""
    props = document.core_properties
    header = gutenberg.parse_header([line for p in paras for line in p.text.split("\n")])
    core = (props.title or "").strip()
    title = PG_TITLE_RE.sub("", core).strip() or None
    author = (props.author or "").strip() or None
    if title and (m := re.match(r"^(.+?),?\s+by\s+(.+)$", title, re.I)):
        title, author = m.group(1).strip(), author or m.group(2).strip()
    if header.get("title") and (not title or "project gutenberg" in core.lower()):
        title = header["title"]
    lang = (props.language or "").strip() or _default_language(document) or header.get("language")
    return BookMetadata(title=title, author=author or header.get("author"), language=lang)


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
