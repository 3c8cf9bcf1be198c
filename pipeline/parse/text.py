"""Plain text and Markdown manuscripts -> :class:`pipeline.models.Book`.

Steps: decode the bytes (:func:`decode_text`), normalise line endings, read the Project
Gutenberg header for metadata and cut the PG header/licence, split into paragraphs
(TXT: blank-line separated, hard-wrapped lines joined; Markdown: headings, breaks and
inline markup handled), then find the book's sections (parts, chapters) with
:mod:`pipeline.parse.headings`; the tracks are made from them by
:mod:`pipeline.structure`.

Markdown metadata lives in headings such as ``# Title: X`` / ``## Author: Y`` /
``## Year: 1887`` (or YAML front matter); those headings are not chapters. A lone ``#``
heading that opens the file is the book title.
"""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

from pipeline import structure
from pipeline.errors import EmptyFileError, NoChaptersError, NotTextError
from pipeline.models import BlockKind, Book, BookMetadata, SourceFormat, count_words
from pipeline.parse.gutenberg import gutenberg_bounds, parse_header
from pipeline.parse.headings import HeadingKind, Para, build_sections, classify_heading

_BREAK_RE = re.compile(r"^\s*(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,}|(?:~\s*){3,}|(?:#\s*){3})$")
_VERSE_INDENT = 2  # TXT paragraphs whose every line is indented this much keep their lines
_EMPH_RE = (
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(?<![\w*])(\*)(?=\S)(.+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])(_)(?=\S)(.+?)(?<=\S)_(?![\w_])"),
)
_MD_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_MD_META_RE = re.compile(r"^(title|author|year|date|language|lang)\s*:\s*(\S.*?)\s*$", re.I)
_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
_LIST_RE = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+(?=\S)")
_LINK_DEF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")

# --- decoding ------------------------------------------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"), (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\x7fELF", "a program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.doc)"),
    (b"{\\rtf", "an RTF document"), (b"ID3", "an MP3 audio file"), (b"OggS", "an Ogg audio file"),
    (b"fLaC", "a FLAC audio file"), (b"RIFF", "a RIFF (WAV/AVI/WebP) file"),
)  # fmt: skip
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
)  # fmt: skip
_SNIFF_BYTES = 4096
_MAX_HIGH_BYTE_RATIO = 0.3  # more non-ASCII letters than this: not a Latin script, so
# ask charset-normalizer before assuming Windows-1252
_MAX_CONTROL_RATIO = 0.005  # more C0 control characters than this: binary
_EXPORT_HINT = "export the manuscript as TXT, Markdown, EPUB, DOCX or PDF"


def _not_text(what: str) -> NotTextError:
    return NotTextError(f"the file is not a text file (looks like {what}); {_EXPORT_HINT}")


def _utf16_without_bom(sample: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when NULs fill every other byte (ASCII-heavy text)."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0 : 2 * pairs : 2].count(0), sample[1 : 2 * pairs : 2].count(0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _decode_single_byte(data: bytes, warnings: list[str]) -> str:
    """Windows-1252 (what "ANSI" text is), else charset-normalizer's best guess."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    sample = data[: 1 << 16]
    high = sum(1 for b in sample if b >= 0x80)
    letters = sum(1 for b in sample if 65 <= b <= 90 or 97 <= b <= 122)
    if text is not None and high <= _MAX_HIGH_BYTE_RATIO * (high + letters):
        warnings.append("the text is not UTF-8; read it as Windows-1252")
        return text
    guess = from_bytes(data).best()
    if guess is not None:
        warnings.append(f"the text is not UTF-8; guessed its encoding as {guess.encoding}")
        return str(guess)
    if text is not None:
        warnings.append("the text is not UTF-8; read it as Windows-1252")
        return text
    raise NotTextError("the file's text encoding could not be recognised; save it as UTF-8 text")


def decode_text(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode manuscript bytes to text; returns ``(text, warnings)``.

    Order: binary magic (PNG, JPEG, ZIP, PDF...) -> :class:`NotTextError`; a BOM
    (UTF-32, UTF-8, UTF-16) is honoured; UTF-16 without BOM is recognised by its NUL
    pattern; any other NUL byte -> :class:`NotTextError`; then strict UTF-8, then
    Windows-1252, then charset-normalizer. Raises :class:`EmptyFileError` when the text
    is empty or whitespace only.
    """
    warnings: list[str] = []
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _not_text(what)
    bom = next(((b, enc) for b, enc in _BOMS if data.startswith(b)), None)
    encoding = bom[1] if bom else _utf16_without_bom(data[:_SNIFF_BYTES])
    body = data[len(bom[0]) :] if bom else data
    if encoding:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            text = body.decode(encoding, errors="replace")
            warnings.append(f"some bytes are not valid {encoding.upper()}; they were replaced")
    elif b"\x00" in data:
        raise _not_text("binary data: it contains NUL bytes")
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_single_byte(body, warnings)
    text = text.rstrip("\x1a")  # DOS end-of-file marker
    controls = sum(1 for c in text[: _SNIFF_BYTES * 4] if ord(c) < 32 and c not in "\t\n\r\f\v")
    if controls > _MAX_CONTROL_RATIO * min(len(text), _SNIFF_BYTES * 4):
        raise _not_text("binary data: it is full of control characters")
    if not text.strip():
        raise EmptyFileError("the file is empty or holds only whitespace; nothing to read")
    return text, tuple(warnings)


def parse_text(data: bytes, markdown: bool) -> Book:
    """Parse a TXT (``markdown=False``) or Markdown manuscript held in memory.

    Raises :class:`NotTextError` for binary content, :class:`EmptyFileError` when there
    is no text (or only whitespace / only Gutenberg boilerplate) and
    :class:`NoChaptersError` when nothing speakable is left.
    """
    text, warnings = decode_text(data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields = parse_header(lines)
    start, end = gutenberg_bounds(lines)
    lines = lines[start:end]
    if markdown:
        paras, md_fields = markdown_paragraphs(lines)
        fields = {**md_fields, **fields}
    else:
        paras = text_paragraphs(lines)
    if not any(count_words(p.text) for p in paras):
        raise EmptyFileError("the file has no readable text (only whitespace or boilerplate)")
    metadata = BookMetadata(
        title=fields.get("title"),
        author=fields.get("author"),
        language=fields.get("language"),
        year=fields.get("year"),
    )
    sections = build_sections(paras, metadata.title or "Text")
    chapters = structure.chapters(sections)
    if not any(c.words for c in chapters):
        raise NoChaptersError("found no chapter with speakable text in the file")
    fmt = SourceFormat.MARKDOWN if markdown else SourceFormat.TXT
    return Book(
        metadata=metadata,
        chapters=chapters,
        source_format=fmt,
        warnings=warnings,
        sections=tuple(sections),
    )


def strip_emphasis(text: str) -> str:
    """Remove ``**x**``, ``__x__``, ``*x*`` and ``_x_`` markers, keeping the words."""
    for pattern in _EMPH_RE:
        text = pattern.sub(r"\2", text)
    return text


def _blocks_of_lines(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines (blank = empty or whitespace only)."""
    runs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            runs[-1].append(line.rstrip())
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def text_paragraphs(lines: list[str]) -> list[Para]:
    """Plain-text paragraphs: blank-line separated, hard-wrapped lines joined with spaces.

    A paragraph whose lines are all indented (verse, quoted letters) keeps one line per
    line (joined with ``"\\n"``); ``* * *``-style lines are section breaks; ``_italic_``
    markers are removed.
    """
    paras: list[Para] = []
    for run in _blocks_of_lines(lines):
        if len(run) == 1 and _BREAK_RE.match(run[0]):
            paras.append(Para("", BlockKind.SECTION_BREAK))
            continue
        indented = len(run) > 1 and all(len(ln) - len(ln.lstrip()) >= _VERSE_INDENT for ln in run)
        cleaned = [" ".join(strip_emphasis(ln).split()) for ln in run]
        if indented or _is_heading_pair(run):
            paras.append(Para("\n".join(cleaned)))
        else:
            paras.append(Para(" ".join(cleaned)))
    return paras


def _is_heading_pair(run: list[str]) -> bool:
    """A heading line and a short title ("CHAPTER I." / "Loomings"), kept as two lines."""
    if len(run) != 2 or len(run[1].strip()) > 70:
        return False
    heading = classify_heading(run[0])
    return heading is not None and heading.kind in (HeadingKind.CHAPTER, HeadingKind.CONTAINER)


def _md_inline(text: str) -> str:
    """Markdown inline markup -> plain text (links keep their text, images go)."""
    escaped: list[str] = []

    def hold(m: re.Match[str]) -> str:
        escaped.append(m.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    text = _ESCAPE_RE.sub(hold, text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]", "", text)
    text = re.sub(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])", r"\1", text)
    text = re.sub(r"<(?:https?|mailto):[^>]*>|<!--.*?-->|</?[A-Za-z][^>]*>", "", text)
    text = re.sub(r"`+([^`]*)`+", r"\1", text)
    text = strip_emphasis(text)
    text = re.sub(r"\ue000(\d+)\ue001", lambda m: escaped[int(m.group(1))], text)
    return " ".join(text.split())


def _front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """YAML front matter (``---`` ... ``---``) fields and the index after it."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for i in range(1, min(len(lines), 60)):
        if lines[i].strip() in ("---", "..."):
            fields = {}
            for ln in lines[1:i]:
                if m := _MD_META_RE.match(ln.strip()):
                    fields[_meta_key(m.group(1))] = m.group(2).strip("\"'")
            return fields, i + 1
    return {}, 0


def _meta_key(key: str) -> str:
    key = key.lower()
    return {"date": "year", "lang": "language"}.get(key, key)


def markdown_paragraphs(lines: list[str]) -> tuple[list[Para], dict[str, str]]:
    """Markdown -> paragraphs and metadata fields.

    Headings become ``Para(level=n)`` unless they are metadata (``# Title: X``); ``***``,
    ``---`` and ``* * *`` are section breaks; code fences, images, link definitions and
    HTML comments are dropped; blockquote and list markers are stripped; a line ending
    in two spaces or a backslash keeps its line break.
    """
    fields, start = _front_matter(lines)
    paras: list[Para] = []
    buf: list[str] = []
    fence = False

    def flush() -> None:
        if buf:
            joined = "".join(ln + ("\n" if ln.endswith(("  ", "\\")) else " ") for ln in buf)
            parts = [_md_inline(p.rstrip("\\")) for p in joined.split("\n")]
            if text := "\n".join(p for p in parts if p):
                paras.append(Para(text))
            buf.clear()

    for line in lines[start:]:
        if _FENCE_RE.match(line):
            fence = not fence
            flush()
            continue
        if fence or _LINK_DEF_RE.match(line):
            continue
        line = re.sub(r"^\s{0,3}(?:>\s?)+", "", line)
        if not line.strip():
            flush()
        elif m := _MD_HEADING_RE.match(line):
            flush()
            _add_heading(paras, fields, _md_inline(m.group(2)), len(m.group(1)))
        elif re.match(r"^\s{0,3}(?:=+|-+)\s*$", line) and len(buf) == 1:
            text, level = buf[0], 1 if "=" in line else 2
            buf.clear()
            _add_heading(paras, fields, _md_inline(text), level)  # setext heading
        elif _BREAK_RE.match(line):
            flush()
            paras.append(Para("", BlockKind.SECTION_BREAK))
        elif _LIST_RE.match(line):
            flush()
            buf.append(_LIST_RE.sub("", line))
        else:
            buf.append(line.strip() + ("  " if line.endswith("  ") else ""))
    flush()
    return _title_heading(paras, fields), fields


def _add_heading(paras: list[Para], fields: dict[str, str], text: str, level: int) -> None:
    if m := _MD_META_RE.match(text):
        fields.setdefault(_meta_key(m.group(1)), m.group(2))
    elif text:
        paras.append(Para(text, level=level))


def _title_heading(paras: list[Para], fields: dict[str, str]) -> list[Para]:
    """Treat a lone level-1 heading that opens the document as the book title."""
    headings = [i for i, p in enumerate(paras) if p.level]
    ones = [i for i in headings if paras[i].level == 1]
    if len(ones) == 1 and headings[0] == ones[0] and "title" not in fields:
        fields["title"] = paras[ones[0]].text
        return paras[: ones[0]] + paras[ones[0] + 1 :]
    return paras
