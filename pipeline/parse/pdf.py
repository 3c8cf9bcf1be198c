"""PDF manuscripts -> :class:`pipeline.models.Book`, read with pypdfium2 (PDFium).

Steps: extract each page's text lines with their positions; drop page furniture
(running headers/footers repeated at the top or bottom of many pages, bare page
numbers); cut the Project Gutenberg header and licence; rebuild paragraphs from the
layout (a larger line gap, an indented first line, or a line that ends early -- the next
line's first word would have fitted -- ends a paragraph); mend words hyphenated across
lines and pages; then find the sections with :mod:`pipeline.parse.headings` and make the
tracks with :mod:`pipeline.structure`, as for TXT.

Metadata: the PG header (``Title:``/``Author:``/``Language:``) when there is one, since
it names the book's author, else the PDF info dictionary (which often names whoever
made the PDF: the P&P PDF's ``/Author`` is "Chuck").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pypdfium2 as pdfium

from pipeline import structure
from pipeline.errors import CorruptPdfError, NoChaptersError, NoTextLayerError
from pipeline.models import WORD_RE, Book, BookMetadata, SourceFormat, count_words
from pipeline.parse.gutenberg import gutenberg_bounds, parse_header
from pipeline.parse.headings import HeadingKind, Para, build_sections, classify_heading

_PASSWORD_ERROR = 4  # PDFium FPDF_ERR_PASSWORD
_EDGE_LINES = 2  # lines at the top and bottom of a page checked for furniture
_FURNITURE_MIN_PAGES = 3
_FURNITURE_PAGE_SHARE = 0.3  # furniture repeats on at least this share of pages
_PAGE_NUMBER_RE = re.compile(r"^\W*(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s+of\s+\d+)?\W*$", re.I)
_GAP_FACTOR = 1.4  # a line pitch this much above the usual one starts a paragraph
_INDENT_PT = 4.0  # a first line indented this much more than the last one starts a paragraph
_FIT_SLACK_PT = 3.0
_HYPHEN_BREAK = "\x02"  # PDFium's mark for a hyphen at a line end; also our join marker
_COMPOUND_LEFT = frozenset(
    "self well ill half good ever never over under after fore long full all great high "
    "low new old one two three four five six seven eight nine ten twenty thirty forty "
    "fifty sixty seventy eighty ninety first second third".split()
)
_MIN_WORDS_PER_PAGE = 5  # fewer words than this on average: a scan with stray text
_BLANK_PAGE_WARN_SHARE = 0.1


@dataclass(frozen=True)
class _Line:
    """One text line of a page with its box in PDF points (origin bottom left)."""

    text: str
    page: int
    left: float
    right: float
    bottom: float
    top: float


def parse_pdf(data: bytes) -> Book:
    """Parse a PDF manuscript held in memory.

    Raises :class:`CorruptPdfError` (damaged, truncated or password-encrypted),
    :class:`NoTextLayerError` (a scan without text: needs OCR) and
    :class:`NoChaptersError` (nothing speakable left).
    """
    pages, info, warnings = _read_pages(data)
    words = sum(count_words(ln.text) for page in pages for ln in page)
    if words == 0 or (len(pages) >= 3 and words < _MIN_WORDS_PER_PAGE * len(pages)):
        raise NoTextLayerError(
            "the PDF has no text layer (it looks like scanned images); run OCR on it first "
            "(for example with ocrmypdf) and try again"
        )
    blank = sum(1 for page in pages if not page)
    if len(pages) >= 10 and blank > _BLANK_PAGE_WARN_SHARE * len(pages):
        warnings.append(f"{blank} of {len(pages)} pages have no text (scanned images?); skipped")
    lines = [ln for page in _drop_furniture(pages) for ln in page]
    texts = [ln.text for ln in lines]
    fields = parse_header(texts)
    start, end = gutenberg_bounds(texts)
    paras = _paragraphs(lines[start:end], pages)
    metadata = _metadata(fields, info)
    sections = build_sections(paras, metadata.title or "Text")
    chapters = structure.chapters(sections)
    if not any(c.words for c in chapters):
        raise NoChaptersError("found no chapter with speakable text in the PDF")
    return Book(
        metadata, chapters, SourceFormat.PDF, warnings=tuple(warnings), sections=tuple(sections)
    )


def _read_pages(data: bytes) -> tuple[list[list[_Line]], dict[str, str], list[str]]:
    """Text lines of every page, the info dictionary and warnings about unreadable pages."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
            raise CorruptPdfError(
                "the PDF is encrypted with a password; save an unprotected copy and try again"
            ) from None
        raise CorruptPdfError(
            "the PDF is damaged or truncated and cannot be opened; download or export it again"
        ) from None
    warnings: list[str] = []
    pages: list[list[_Line]] = []
    try:
        meta = pdf.get_metadata_dict(skip_empty=True)
        info = {k: v for k, v in meta.items() if isinstance(v, str)}
        for n in range(len(pdf)):
            try:
                pages.append(_page_lines(pdf[n], n))
            except pdfium.PdfiumError:
                pages.append([])
                warnings.append(f"page {n + 1} could not be read; the result is partial")
    finally:
        pdf.close()
    return pages, info, warnings


def _page_lines(page: pdfium.PdfPage, n: int) -> list[_Line]:
    """Lines of one page in PDFium's reading order, each with its bounding box.

    PDFium joins a line that ends in a hyphen to the next one with U+FFFE (``\\x02``
    in bounded text); such a line is split there and given back its ``-``.
    """
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count > 0 else ""
        exact = len(text) == count  # one str char per PDFium char: boxes can be looked up
        lines: list[_Line] = []
        pos = 0
        for m in re.finditer(r"\r?\n|[\ufffe\x02]|$", text):
            raw = text[pos : m.start()].rstrip("\r ")
            lead = len(raw) - len(raw.lstrip())
            if raw.strip():
                hyphen = "-" if m.group() in ("\ufffe", "\x02") else ""
                box = _line_box(textpage, pos + lead, pos + len(raw) - 1) if exact else (0, 0, 0, 0)
                lines.append(_Line(" ".join(raw.split()) + hyphen, n, *box))
            pos = m.end()
        return lines
    finally:
        textpage.close()
        page.close()


def _line_box(textpage: pdfium.PdfTextPage, first: int, last: int) -> tuple[float, ...]:
    """(left, right, bottom, top) of the characters ``first``..``last`` of a line."""
    left = textpage.get_charbox(first)[0]
    right = textpage.get_charbox(last)[2]
    _, bottom, _, top = textpage.get_charbox(first, loose=True)
    return left, right, bottom, top


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _drop_furniture(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Remove page numbers and running headers/footers from the edges of each page."""
    edges = Counter(
        key
        for page in pages
        for key in {_furniture_key(ln.text) for ln in page[:_EDGE_LINES] + page[-_EDGE_LINES:]}
    )
    threshold = max(_FURNITURE_MIN_PAGES, _FURNITURE_PAGE_SHARE * sum(1 for p in pages if p))
    repeated = {k for k, n in edges.items() if n >= threshold}

    def furniture(ln: _Line) -> bool:
        if _PAGE_NUMBER_RE.match(ln.text) and not ln.text.isupper():
            return True
        return _furniture_key(ln.text) in repeated and classify_heading(ln.text) is None

    cleaned = []
    for page in pages:
        last = len(page) - _EDGE_LINES
        cleaned.append(
            [
                ln
                for i, ln in enumerate(page)
                if not ((i < _EDGE_LINES or i >= last) and furniture(ln))
            ]
        )
    return cleaned


def _percentile(values: list[float], share: float, default: float) -> float:
    if not values:
        return default
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))]


def _layout(pages: list[list[_Line]]) -> tuple[float, dict[int, tuple[float, float]]]:
    """The usual line pitch of the document and each page's (left, right) text margins."""
    pitches = [
        round(a.bottom - b.bottom, 1)
        for page in pages
        for a, b in zip(page, page[1:])
        if 0 < a.bottom - b.bottom < 3 * (a.top - a.bottom)
    ]
    pitch = Counter(pitches).most_common(1)[0][0] if pitches else 0.0
    margins = {
        n: (
            _percentile([ln.left for ln in page], 0.1, 0.0),
            _percentile([ln.right for ln in page], 0.9, 0.0),
        )
        for n, page in enumerate(pages)
    }
    return pitch, margins


def _starts_paragraph(prev: _Line, cur: _Line, pitch: float, margins: dict) -> bool:
    """Layout test: does ``cur`` start a new paragraph after ``prev``?"""
    if classify_heading(prev.text) or classify_heading(cur.text):
        return True
    left, right = margins[cur.page]
    if cur.page == prev.page:
        step = prev.bottom - cur.bottom
        if step <= 0 or (pitch and step > _GAP_FACTOR * pitch):
            return True
        if cur.left > prev.left + _INDENT_PT and cur.left > left + _INDENT_PT:
            return True
    elif cur.left > left + _INDENT_PT:
        return True
    if prev.text.endswith(("-", _HYPHEN_BREAK)):
        return False
    first_word = cur.text.split(" ", 1)[0]
    char_width = (cur.right - cur.left) / max(1, len(cur.text))
    prev_right = margins[prev.page][1]
    return prev.right + (len(first_word) + 1) * char_width < prev_right - _FIT_SLACK_PT


def _title_lines(lines: list[_Line], i: int, margins: dict) -> list[_Line]:
    """Lines after heading line ``i`` that continue its title (at most two).

    A title that wraps ("CHAPTER III. THE ADVENTURE OF THE" / "SPECKLED BAND"), or a
    title on its own line under a bare label, continues on lines directly under it (a
    step of at most 1.6 line heights) on the same page, at the same size (height within
    15%), that are not headings themselves and are short (at most 70 characters, ending
    well before the right margin), with the heading's case (both in capitals or both
    not) and no sentence end unless in capitals. One of these must hold too: both are in
    capitals, both are centred, or the heading's title breaks off (no final stop).
    """
    head = lines[i]
    found = classify_heading(head.text)
    if found is None or found.kind not in (HeadingKind.CHAPTER, HeadingKind.CONTAINER):
        return []
    height = head.top - head.bottom
    left, right = margins[head.page]
    middle = (left + right) / 2

    def centred(ln: _Line) -> bool:
        return abs((ln.left + ln.right) / 2 - middle) <= max(6.0, 0.03 * (right - left))

    def caps(text: str) -> bool:
        return not re.search(r"[a-zà-ɏ]", text)

    out: list[_Line] = []
    prev = head
    for cur in lines[i + 1 : i + 3]:
        step = prev.bottom - cur.bottom
        char = (cur.right - cur.left) / max(1, len(cur.text))
        fits = (
            cur.page == head.page
            and 0 < step <= 1.6 * max(height, 1.0)
            and abs((cur.top - cur.bottom) - height) <= 0.15 * height
            and classify_heading(cur.text) is None
            and len(cur.text) <= 70
            and cur.right < right - 3 * char
            and caps(cur.text) == caps(head.text)
            and (caps(cur.text) or not re.search(r"[.!?;:,\"”]$", cur.text))
        )
        unfinished = "." in found.title and not re.search(r"[.!?:]$", head.text)
        if not fits or not (caps(cur.text) or (centred(head) and centred(cur)) or unfinished):
            break
        out.append(cur)
        prev = cur
    return out


def _heading_text(head: str, rest: list[str]) -> str:
    """One heading paragraph: a wrapped title joined into one line; a title under a bare
    label ("CHAPTER III." / "THE SPECKLED BAND") on a second line (see headings)."""
    found = classify_heading(head)
    if not rest or found is None:
        return head
    return f"{head} {' '.join(rest)}" if "." in found.title else f"{head}\n{' '.join(rest)}"


def _paragraphs(lines: list[_Line], pages: list[list[_Line]]) -> list[Para]:
    """Group lines into paragraphs (a heading with its title lines is one) and mend
    hyphenated words."""
    pitch, margins = _layout(pages)
    groups: list[list[str]] = []
    i, after_heading = 0, False
    while i < len(lines):
        ln = lines[i]
        if title := _title_lines(lines, i, margins):
            groups.append([_heading_text(ln.text, [t.text for t in title])])
            i, after_heading = i + 1 + len(title), True
            continue
        if i == 0 or after_heading or _starts_paragraph(lines[i - 1], ln, pitch, margins):
            groups.append([ln.text])
        else:
            groups.append(groups.pop() + [ln.text])
        i, after_heading = i + 1, False
    texts = []
    for group in groups:
        text = group[0]
        for nxt in group[1:]:
            if re.search(r"[A-Za-zÀ-ɏ]-$", text) and nxt[:1].isalpha():
                text = text[:-1] + _HYPHEN_BREAK + nxt
            else:
                text = text.rstrip(_HYPHEN_BREAK) + " " + nxt
        texts.append(text.replace("\xad", ""))
    return [Para(t) for t in _mend_hyphens(texts)]


def _mend_hyphens(texts: list[str]) -> list[str]:
    """Resolve hyphens at line ends (``\\x02``): a break ("some-thing" -> "something")
    or a real compound ("dining-parlour").

    The document's own vocabulary decides: the hyphenated or the joined form seen
    elsewhere wins; a capital after the hyphen or a compound-prefix first part ("self",
    "half"...) keeps it. Otherwise the document's style decides: when most decided
    cases were real compounds (a word processor that does not hyphenate), the hyphen
    stays; when most were breaks (a typeset book), lower-case parts are joined.
    """
    pieces = re.compile(rf"([\w’']+){_HYPHEN_BREAK}([\w’']+)")
    plain = pieces.sub(" ", "\n".join(texts))
    vocab = Counter(m.group().lower() for m in WORD_RE.finditer(plain.replace(_HYPHEN_BREAK, " ")))

    def known(left: str, right: str) -> bool | None:
        lo, ro = left.lower(), right.lower()
        if vocab[f"{lo}-{ro}"]:
            return True
        if vocab[lo + ro]:
            return False
        return True if lo in _COMPOUND_LEFT or not right[:1].islower() else None

    found = [known(m.group(1), m.group(2)) for t in texts for m in pieces.finditer(t)]
    keep_by_default = found.count(True) >= found.count(False)

    def decide(m: re.Match[str]) -> str:
        keep = known(m.group(1), m.group(2))
        keep = keep_by_default if keep is None else keep
        return f"{m.group(1)}-{m.group(2)}" if keep else m.group(1) + m.group(2)

    return [pieces.sub(decide, t).replace(_HYPHEN_BREAK, "-") for t in texts]


def _metadata(fields: dict[str, str], info: dict[str, str]) -> BookMetadata:
    """Title/author/language: the PG header first, the PDF info dictionary second."""
    title = fields.get("title") or _clean_info_title(info.get("Title", ""))
    author = fields.get("author") or info.get("Author", "").strip() or None
    if title and author and title.lower().endswith(f", by {author.lower()}"):
        title = title[: -len(f", by {author}")]
    return BookMetadata(title=title or None, author=author, language=fields.get("language"))


def _clean_info_title(title: str) -> str:
    """Drop "Microsoft Word - " prefixes and file extensions from an info-dict title."""
    title = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", title.strip())
    title = re.sub(r"\.(?:docx?|odt|rtf|txt|pdf)$", "", title, flags=re.I)
    return re.sub(r",\s*by\s+.+$", "", title).strip()
