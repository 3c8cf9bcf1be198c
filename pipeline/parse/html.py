"""XHTML -> :class:`~pipeline.models.Block` events, shared by the EPUB parser.

:func:`extract_events` walks one (X)HTML content document and yields, in reading order,
the blocks a listener should hear plus :class:`Anchor` markers where a table-of-contents
fragment (``#ch1``) starts, so a caller can split one document into several chapters.

What is never read aloud (rules from the EPUB 3 Structural Semantics Vocabulary and
common ebook-maker conventions):

* ``<head>``, ``<script>``, ``<style>``, images, SVG, MathML, figures and captions;
* elements whose ``epub:type`` (or DPUB-ARIA ``role``) marks them as cover, title page,
  table of contents, landmarks, page list, imprint, colophon, copyright page, index,
  footnotes / endnotes / rearnotes (unless the caller keeps a notes section that the
  table of contents lists as a chapter of its own, like Eliot's "Notes on The Waste Land");
* note references (``epub:type="noteref"``, ``<sup><a href="#n1">1</a></sup>``), page
  numbers and verse line numbers (``class="pagenum"``, ``"lnum"``...);
* Project Gutenberg boilerplate wrappers (``class="pg-boilerplate"``).

Headings (``h1``-``h6``) become :attr:`BlockKind.HEADING`, ``<hr>`` a
:attr:`BlockKind.SECTION_BREAK`, everything else a paragraph. ``<br>`` and verse line
containers (``class="linegroup"``, ``"stanza"``, ``"poem"``, ``"verse"``) keep their line
structure as ``"\\n"`` inside one block. Whitespace is collapsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from pipeline.models import Block, BlockKind

EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
SKIP_TAGS = frozenset(
    "head script style noscript template img svg math figure figcaption picture video "
    "audio object embed iframe canvas map area button input select textarea nav".split()
)
BLOCK_TAGS = frozenset(
    "p div section article aside header footer main blockquote li ol ul dl dt dd pre "
    "table thead tbody tfoot tr td th caption address h1 h2 h3 h4 h5 h6 hr body center "
    "details summary hgroup".split()
)
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# epub:type / role values whose whole subtree is not for listeners.
SKIP_TYPES = frozenset(
    "cover titlepage title-page halftitlepage toc landmarks page-list loi lot lov imprint "
    "colophon copyright-page index noteref pagebreak doc-noteref doc-pagebreak doc-toc "
    "doc-cover doc-colophon doc-index doc-pagelist".split()
)
NOTE_TYPES = frozenset(
    "footnote footnotes endnote endnotes rearnote rearnotes note notes doc-footnote "
    "doc-endnote doc-endnotes doc-footnotes".split()
)
SKIP_CLASS_RE = re.compile(
    r"\b(?:pg-boilerplate|pagenum|pageno|page-?number|lnum|linenum|line-?number|noteref|"
    r"footnote-?ref|fnref|x-ebookmaker-cover)\b",
    re.I,
)
VERSE_CLASS_RE = re.compile(r"\b(?:linegroup|line-group|stanza|poem|verse|lg)\b", re.I)
NOTE_MARK_RE = re.compile(r"^\s*[\[(]?(?:\d{1,4}|[*†‡§¶]+|[ivxlc]{1,6}|[a-z])[\])]?\s*$", re.I)
INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
SPACE_RE = re.compile(r"\s+")
LINE_BREAK = "\x00"  # placeholder for <br> while whitespace is collapsed


@dataclass(frozen=True)
class Anchor:
    """Marks where the element with ``id`` (a TOC fragment target) starts."""

    id: str


Event = Block | Anchor


def parse_document(data: bytes) -> etree._Element:
    """Parse an XHTML (or tag-soup HTML) document; raises ``ValueError`` if unreadable."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        pass  # not well-formed XML (e.g. &nbsp; without a DTD): read it as HTML instead
    try:
        return lxml_html.document_fromstring(data)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError(f"unreadable XHTML: {exc}") from None


def localname(el: etree._Element) -> str:
    """Tag name without namespace, lower-cased ("" for comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def semantic_types(el: etree._Element) -> set[str]:
    """The element's ``epub:type`` and ``role`` tokens, without vocabulary prefixes."""
    raw = " ".join(v for v in (el.get(EPUB_TYPE), el.get("epub:type"), el.get("role")) if v)
    return {t.rsplit(":", 1)[-1].lower() for t in raw.split()}


def collapse(text: str) -> str:
    """Collapse whitespace (keeping ``LINE_BREAK`` as line ends) into clean lines."""
    text = INVISIBLE_RE.sub("", text)
    lines = (SPACE_RE.sub(" ", part).strip() for part in text.split(LINE_BREAK))
    return "\n".join(line for line in lines if line)


def _is_noteref(el: etree._Element, name: str) -> bool:
    """A footnote marker: ``<a href="#n1">1</a>`` or ``<sup>`` holding only one."""
    if name not in ("a", "sup"):
        return False
    text = "".join(el.itertext())
    if not NOTE_MARK_RE.match(text):
        return False
    if name == "sup":
        return any(localname(c) == "a" for c in el.iter()) or not text.strip().isalpha()
    href = el.get("href") or ""
    parent = el.getparent()
    return "#" in href and (parent is not None and localname(parent) == "sup" or len(text) < 6)


class _Walker:
    """Depth-first walk collecting inline text into paragraphs, emitting events."""

    def __init__(self, targets: set[str], keep_notes: set[str], skip_ids: set[str]):
        self.targets, self.keep_notes, self.skip_ids = targets, keep_notes, skip_ids
        self.events: list[Event] = []
        self.buffer: list[str] = []

    def flush(self, kind: BlockKind = BlockKind.PARAGRAPH) -> None:
        text = collapse("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.events.append(Block(kind, text))

    def skipped(self, el: etree._Element, name: str, in_notes: bool) -> bool:
        if name in SKIP_TAGS or el.get("id") in self.skip_ids or el.get("hidden") is not None:
            return True
        types = semantic_types(el)
        if types & SKIP_TYPES or SKIP_CLASS_RE.search(el.get("class") or ""):
            return True
        if types & NOTE_TYPES and not in_notes:
            return True
        return name == "aside" and not in_notes or _is_noteref(el, name)

    def walk(self, el: etree._Element, in_notes: bool = False) -> None:
        name = localname(el)
        el_id = el.get("id") if name else None
        if el_id in self.targets:
            self.flush()
            self.events.append(Anchor(el_id))
        in_notes = in_notes or (el_id in self.keep_notes and bool(semantic_types(el) & NOTE_TYPES))
        if not name or self.skipped(el, name, in_notes):
            return
        if name == "br":
            self.buffer.append(LINE_BREAK)
            return
        if name not in BLOCK_TAGS:
            self.buffer.append(el.text or "")
            for child in el:
                self.walk(child, in_notes)
                self.buffer.append(child.tail or "")
            return
        self.flush()
        if name == "hr":
            self.events.append(Block(BlockKind.SECTION_BREAK))
        elif name in HEADINGS:
            self.buffer.append(_inline_text(el))
            self.flush(BlockKind.HEADING)
        elif _is_verse(el) and not any(_is_verse(d) for d in el.iterdescendants()):
            lines = list(_lines(el, self, in_notes))
            self.buffer.append(LINE_BREAK.join(lines))
            self.flush()
        else:
            self.buffer.append(el.text or "")
            for child in el:
                self.walk(child, in_notes)
                self.buffer.append(child.tail or "")
            self.flush()


def _inline_text(el: etree._Element) -> str:
    """Text of ``el`` with skipped parts (noterefs, page numbers) left out."""
    sub = _Walker(set(), set(), set())
    sub.buffer.append(el.text or "")
    for child in el:
        name = localname(child)
        if name == "br":
            sub.buffer.append(" ")
        elif name and not sub.skipped(child, name, False):
            sub.buffer.append(_inline_text(child))
        sub.buffer.append(child.tail or "")
    return "".join(sub.buffer)


def _is_verse(el: etree._Element) -> bool:
    """A verse line-group container (stanza, poem, linegroup)."""
    return bool(VERSE_CLASS_RE.search(el.get("class") or "")) or "verse" in semantic_types(el)


def _lines(el: etree._Element, walker: _Walker, in_notes: bool) -> Iterator[str]:
    """The verse lines of a line-group container, one per leaf block or ``<br>``."""
    sub = _Walker(walker.targets, walker.keep_notes, walker.skip_ids)
    sub.buffer.append(el.text or "")
    for child in el:
        sub.walk(child, in_notes)
        sub.buffer.append(child.tail or "")
    sub.flush()
    for event in sub.events:
        if isinstance(event, Anchor):
            walker.events.append(event)  # a TOC target inside the stanza: keep its place
        elif event.text:
            yield from event.text.split("\n")


def extract_events(
    root: etree._Element,
    targets: set[str] = frozenset(),  # type: ignore[assignment]
    keep_notes: set[str] = frozenset(),  # type: ignore[assignment]
    skip_ids: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Event]:
    """Blocks and anchors of one parsed document's ``<body>``, in reading order.

    ``targets``: element ids to mark with :class:`Anchor` (TOC fragment targets, marked
    even when the element itself is skipped). ``keep_notes``: ids of notes sections that
    are read after all (a TOC chapter of their own). ``skip_ids``: ids of elements to
    leave out (landmark / guide targets such as a contents list).
    """
    body = next((e for e in root.iter() if localname(e) == "body"), root)
    walker = _Walker(set(targets), set(keep_notes), set(skip_ids))
    walker.walk(body)
    walker.flush()
    return walker.events


ROMAN_RE = re.compile(r"^(?=[MDCLXVI])M{0,3}(C[MD]|D?C{0,3})(X[CL]|L?X{0,3})(I[XV]|V?I{0,3})$")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
SMALL_WORDS = frozenset("a an and as at but by for from in into nor of on or the to with".split())
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(numeral: str) -> int | None:
    """Value of an upper-case Roman numeral ("XII" -> 12), or None if it is not one."""
    if not ROMAN_RE.match(numeral):
        return None
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _title_word(word: str, first: bool) -> str:
    """Title-case one ALL-CAPS word, keeping Roman numerals and lower-casing small words."""
    letters = "".join(c for c in word if c.isalpha())
    if len(letters) < 2 or not letters.isupper() or ROMAN_RE.match(letters):
        return word
    if not first and letters.lower() in SMALL_WORDS:
        return word.lower()
    return _WORD_RE.sub(lambda m: m.group(0)[0] + m.group(0)[1:].lower(), word)


def clean_title(label: str, index: int, numerals: bool = True) -> str:
    """A human-readable chapter title from a TOC label or heading.

    Whitespace collapsed, trailing ``.:;,`` removed; with ``numerals`` a bare number or
    Roman numeral becomes "Chapter N" (parsers pass ``False`` and leave bare numbers to
    :func:`pipeline.structure.track_title`, which knows where the entry sits); an
    ALL-CAPS label is title-cased keeping Roman numerals ("I. THE BURIAL OF THE DEAD" ->
    "I. The Burial of the Dead"), as are leading ALL-CAPS words ("EXTRACTS (Supplied
    by...)" -> "Extracts (Supplied by...)"). Empty labels become "Chapter {index}".
    """
    text = collapse(label).replace("\n", " ").strip().rstrip(".:;,").strip()
    if not text:
        return f"Chapter {index}"
    if numerals and text.isdigit():
        return f"Chapter {int(text)}"
    if numerals and (number := roman_to_int(text)) is not None:
        return f"Chapter {number}"
    words = text.split(" ")
    all_caps = not any(c.islower() for c in text)
    out: list[str] = []
    for i, word in enumerate(words):
        if not all_caps and any(c.islower() for c in word):
            out.extend(words[i:])  # mixed case: only the leading ALL-CAPS words change
            break
        starts = i == 0 or out[-1][-1:] in ".:;!?—(" or word[:1] in "\"'“‘("
        out.append(_title_word(word, starts))
    return " ".join(out)
