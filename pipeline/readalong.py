"""Read-along EPUB: the book's text and its narration, synchronized sentence by sentence.

:func:`build_readalong_epub` writes an EPUB 3 with Media Overlays (EPUB 3.3 section 9,
https://www.w3.org/TR/epub-33/#sec-media-overlays): reading systems that support them
(Apple Books, Thorium, Readium-based apps) play the chapter audio and highlight each
sentence as it is heard. The package is built from the source EPUB's metadata and cover
and from the generated chapters (audio + :class:`~pipeline.cues.Cue` timings)::

    mimetype                      first, stored (OCF 3.3)
    META-INF/container.xml
    EPUB/package.opf              metadata, manifest, spine
    EPUB/nav.xhtml                EPUB 3 navigation document (toc of the chapters)
    EPUB/style.css                reading style + the active-sentence highlight
    EPUB/images/cover.<jpg|png>   the source's cover, when it has one
    EPUB/chapter_NN.xhtml         <h1> title, <p> paragraphs of <span id="sNNNN"> sentences
    EPUB/chapter_NN.smil          one <par> per cue: text fragment + audio clip
    EPUB/audio/NN.mp3             the chapter's audio as given (stored: already compressed)

``NN`` is the chapter's position (from 1) in the ``chapters`` given. Every XML file is
built with lxml (text is escaped by the serializer). Package metadata: title, creators,
language from the source OPF; a new ``urn:uuid:`` identifier derived from the source's
identifier (UUID 5, so the same source always gives the same read-along identifier);
``dc:source`` names the source identifier; ``media:narrator``; ``media:duration`` of each
overlay (the chapter audio's duration, to the millisecond) and of the whole publication
(their sum, in whole milliseconds, so epubcheck's MED-016 sum check holds exactly);
``media:active-class`` (:data:`ACTIVE_CLASS`, styled in ``style.css``).

No NCX is written: EPUB 3 does not need one and epubcheck does not ask for it.
"""

from __future__ import annotations

import math
import os
import re
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from lxml.builder import ElementMaker

from pipeline.cues import Cue
from pipeline.errors import InputError, ReadAlongError
from pipeline.models import Cover
from pipeline.parse.epub import _find_cover, _find_opf, _open_zip, _read_package

# The class a reading system puts on the element being read (EPUB 3.3 Media Overlays,
# "media:active-class"); the "-epub-" prefix is the name the specification's examples use.
ACTIVE_CLASS = "-epub-media-overlay-active"
CONTENT_DIR = "EPUB"
MIMETYPE = b"application/epub+zip"

OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
XHTML_NS = "http://www.w3.org/1999/xhtml"
EPUB_NS = "http://www.idpf.org/2007/ops"
SMIL_NS = "http://www.w3.org/ns/SMIL"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPUB_TYPE = f"{{{EPUB_NS}}}type"
_XHTML_TYPE = "application/xhtml+xml"

CONTAINER_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""

STYLE_CSS = f"""body {{ margin: 0 5%; line-height: 1.5; }}
h1 {{ margin: 1.5em 0 1em; text-align: center; }}
p {{ margin: 0; text-indent: 1.5em; }}
h1 + p {{ text-indent: 0; }}
.{ACTIVE_CLASS} {{ background-color: #ffe680; color: #000000; border-radius: 0.2em; }}
""".encode()

# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, surrogates, U+FFFE/FFFF).
_NOT_XML_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MP3_ID3 = b"ID3"


@dataclass(frozen=True)
class ReadAlongChapter:
    """One chapter of the read-along: ``title`` as displayed ("Chapter 4"); ``audio`` the
    chapter's mastered MP3 (EPUB 3 core media type ``audio/mpeg``); ``duration_s`` the
    audio's exact duration in seconds; ``cues`` its sentences in order, timed in seconds
    from the start of ``audio`` (see :mod:`pipeline.cues`)."""

    title: str
    audio: Path
    duration_s: float
    cues: Sequence[Cue]


@dataclass(frozen=True)
class _Source:
    """What the read-along takes from the source EPUB."""

    identifier: str
    title: str
    creators: tuple[str, ...]
    language: str
    cover: Cover | None


def build_readalong_epub(
    source_epub: Path, chapters: Sequence[ReadAlongChapter], out_path: Path, *, narrator: str
) -> Path:
    """Write an EPUB 3 with Media Overlays to ``out_path`` (atomically: a hidden temporary
    file beside it, renamed into place) and return ``out_path``.

    ``source_epub`` gives the metadata and cover (EPUB 2 or 3); ``chapters`` the text and
    audio, in reading order; ``narrator`` is declared as ``media:narrator``. Every cue
    becomes one ``<span>`` in the chapter's XHTML and one ``<par>`` in its SMIL, its clip
    ``clipBegin``/``clipEnd`` the cue's times in seconds to the millisecond.

    Raises :class:`ReadAlongError` when the source is missing or not a readable EPUB, when
    there are no chapters or no narrator, and for a chapter whose title is empty, whose
    audio file does not exist or is not MP3, whose duration is not a positive number,
    that has no cues, or whose cues are out of order, shorter than a millisecond or
    outside ``0..duration_s``. On any error no file is left at ``out_path``.
    """
    if not narrator.strip():
        raise ReadAlongError("the read-along needs a narrator name (media:narrator)")
    if not chapters:
        raise ReadAlongError("the read-along needs at least one chapter")
    source = _read_source(Path(source_epub))
    for number, chapter in enumerate(chapters, 1):
        _check_chapter(number, chapter)
    modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries: list[tuple[str, bytes | Path]] = [
        ("META-INF/container.xml", CONTAINER_XML),
        (f"{CONTENT_DIR}/package.opf", _package(source, chapters, narrator, modified)),
        (f"{CONTENT_DIR}/nav.xhtml", _nav(source, chapters)),
        (f"{CONTENT_DIR}/style.css", STYLE_CSS),
    ]
    if source.cover:
        entries.append((f"{CONTENT_DIR}/{_cover_href(source.cover)}", source.cover.data))
    for number, chapter in enumerate(chapters, 1):
        entries += [
            (f"{CONTENT_DIR}/{_xhtml_href(number)}", _chapter_xhtml(number, chapter, source)),
            (f"{CONTENT_DIR}/{_smil_href(number)}", _chapter_smil(number, chapter)),
            (f"{CONTENT_DIR}/{_audio_href(number)}", chapter.audio),
        ]
    _write_zip(Path(out_path), entries)
    return Path(out_path)


# --- the source EPUB -----------------------------------------------------------------


def _read_source(path: Path) -> _Source:
    """Metadata and cover of the source EPUB, read as :mod:`pipeline.parse.epub` reads them."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadAlongError(
            f"the source EPUB {path} cannot be read ({exc.strerror or exc})"
        ) from None
    try:
        zf = _open_zip(data, [])
        pkg = _read_package(zf, _find_opf(zf, []))
        cover = _find_cover(zf, pkg)
    except InputError as exc:
        raise ReadAlongError(f"the source {path.name} is not a readable EPUB: {exc}") from None
    root = pkg.root

    def texts(tag: str) -> list[str]:
        found = (" ".join("".join(el.itertext()).split()) for el in root.iter(f"{{{DC_NS}}}{tag}"))
        return [t for t in found if t]

    unique = root.get("unique-identifier")
    by_id = [
        t
        for el in root.iter(f"{{{DC_NS}}}identifier")
        if el.get("id") == unique and (t := "".join(el.itertext()).strip())
    ]
    identifiers = by_id or texts("identifier")
    titles, creators = texts("title"), texts("creator")
    identifier = identifiers[0] if identifiers else "|".join(titles[:1] + creators)
    return _Source(
        identifier=identifier,
        title=titles[0] if titles else "Untitled",
        creators=tuple(dict.fromkeys(creators)),
        language=(texts("language") or ["und"])[0],
        cover=cover,
    )


def _check_chapter(number: int, chapter: ReadAlongChapter) -> None:
    """Raise :class:`ReadAlongError` naming the chapter when it cannot be used as given."""
    name = f"chapter {number} ({chapter.title!r})"
    if not _xml_text(chapter.title).strip():
        raise ReadAlongError(f"chapter {number} has an empty title")
    audio = Path(chapter.audio)
    if not audio.is_file():
        raise ReadAlongError(f"{name}: audio file {audio} does not exist")
    with open(audio, "rb") as f:
        head = f.read(3)
    if not (head == _MP3_ID3 or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)):
        raise ReadAlongError(
            f"{name}: audio file {audio.name} is not an MP3 (EPUB's core audio type is audio/mpeg)"
        )
    if not (math.isfinite(chapter.duration_s) and chapter.duration_s > 0):
        raise ReadAlongError(f"{name}: duration_s must be a positive number of seconds")
    if not chapter.cues:
        raise ReadAlongError(f"{name} has no cues: there is no sentence to read along")
    limit, previous_end = _ms(chapter.duration_s), 0
    for k, cue in enumerate(chapter.cues, 1):  # in whole ms, as the SMIL clips are written
        if not (math.isfinite(cue.start_s) and math.isfinite(cue.end_s)):
            raise ReadAlongError(f"{name}: cue {k} has a time that is not a number")
        start, end = _ms(cue.start_s), _ms(cue.end_s)
        if start < previous_end:
            before = "the start of its audio" if k == 1 else "the cue ahead of it ends"
            raise ReadAlongError(
                f"{name}: cue {k} starts at {cue.start_s:.3f} s, before {before} "
                f"({previous_end / 1000:.3f} s); cues must be in order and not overlap"
            )
        if end <= start:
            raise ReadAlongError(
                f"{name}: cue {k} runs from {cue.start_s:.3f} s to {cue.end_s:.3f} s "
                "(it must last at least a millisecond)"
            )
        if end > limit:
            raise ReadAlongError(
                f"{name}: cue {k} ends at {cue.end_s:.3f} s, after the end of its audio "
                f"({chapter.duration_s:.3f} s)"
            )
        previous_end = end


# --- package parts -------------------------------------------------------------------


def _xhtml_href(number: int) -> str:
    return f"chapter_{number:02d}.xhtml"


def _smil_href(number: int) -> str:
    return f"chapter_{number:02d}.smil"


def _audio_href(number: int) -> str:
    return f"audio/{number:02d}.mp3"


def _section_id(number: int) -> str:
    return f"chapter{number:02d}"


def _cover_href(cover: Cover) -> str:
    return "images/cover." + ("png" if cover.mime == "image/png" else "jpg")


def _ms(seconds: float) -> int:
    """``seconds`` rounded to whole milliseconds (finite values only)."""
    return round(seconds * 1000)


def _clock(ms: int) -> str:
    """A SMIL full clock value ``H:MM:SS.mmm`` (the form ``media:duration`` takes)."""
    seconds, milli = divmod(ms, 1000)
    minutes, sec = divmod(seconds, 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}.{milli:03d}"


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (lxml refuses them)."""
    return _NOT_XML_RE.sub("", text)


def _serialize(root: etree._Element, doctype: str | None = None) -> bytes:
    return etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype=doctype
    )


def _package(
    source: _Source, chapters: Sequence[ReadAlongChapter], narrator: str, modified: str
) -> bytes:
    """The OPF package document (EPUB 3.3 section 5) as bytes."""
    opf = ElementMaker(namespace=OPF_NS, nsmap={None: OPF_NS, "dc": DC_NS})
    dc = ElementMaker(namespace=DC_NS, nsmap={"dc": DC_NS})
    new_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{source.identifier}#readalong")
    durations = [_ms(c.duration_s) for c in chapters]
    meta = [
        dc.identifier(f"urn:uuid:{new_id}", id="pub-id"),
        dc.title(_xml_text(source.title)),
        *(dc.creator(_xml_text(name)) for name in source.creators),
        dc.language(source.language),
        dc.source(_xml_text(source.identifier)),
        opf.meta(modified, property="dcterms:modified"),
        opf.meta(_xml_text(narrator.strip()), property="media:narrator"),
        opf.meta(ACTIVE_CLASS, property="media:active-class"),
        *(
            opf.meta(_clock(ms), property="media:duration", refines=f"#mo{n:02d}")
            for n, ms in enumerate(durations, 1)
        ),
        opf.meta(_clock(sum(durations)), property="media:duration"),
    ]
    items = [
        opf.item(id="nav", href="nav.xhtml", properties="nav", **{"media-type": _XHTML_TYPE}),
        opf.item(id="css", href="style.css", **{"media-type": "text/css"}),
    ]
    if source.cover:
        meta.append(opf.meta(name="cover", content="cover-image"))  # EPUB 2 reading systems
        items.append(
            opf.item(
                id="cover-image",
                href=_cover_href(source.cover),
                properties="cover-image",
                **{"media-type": source.cover.mime},
            )
        )
    for n in range(1, len(chapters) + 1):
        items += [
            opf.item(
                id=f"c{n:02d}",
                href=_xhtml_href(n),
                **{"media-type": _XHTML_TYPE, "media-overlay": f"mo{n:02d}"},
            ),
            opf.item(id=f"mo{n:02d}", href=_smil_href(n), **{"media-type": "application/smil+xml"}),
            opf.item(id=f"a{n:02d}", href=_audio_href(n), **{"media-type": "audio/mpeg"}),
        ]
    package = opf.package(
        opf.metadata(*meta),
        opf.manifest(*items),
        opf.spine(*(opf.itemref(idref=f"c{n:02d}") for n in range(1, len(chapters) + 1))),
        version="3.0",
        **{"unique-identifier": "pub-id", XML_LANG: source.language},
    )
    return _serialize(package)


def _xhtml_doc(title: str, language: str, *body: etree._Element) -> bytes:
    """An XHTML content document with ``body`` children, linked to ``style.css``."""
    h = ElementMaker(namespace=XHTML_NS, nsmap={None: XHTML_NS, "epub": EPUB_NS})
    root = h.html(
        h.head(
            h.meta(charset="utf-8"),
            h.title(_xml_text(title)),
            h.link(rel="stylesheet", type="text/css", href="style.css"),
        ),
        h.body(*body),
        **{"lang": language, XML_LANG: language},
    )
    return _serialize(root, doctype="<!DOCTYPE html>")


def _nav(source: _Source, chapters: Sequence[ReadAlongChapter]) -> bytes:
    """The EPUB 3 navigation document: a ``toc`` nav listing every chapter."""
    h = ElementMaker(namespace=XHTML_NS)
    links = [h.li(h.a(_xml_text(c.title), href=_xhtml_href(n))) for n, c in enumerate(chapters, 1)]
    nav = h.nav(h.h1(_xml_text(source.title)), h.ol(*links), id="toc", **{EPUB_TYPE: "toc"})
    return _xhtml_doc(source.title, source.language, nav)


def _chapter_xhtml(number: int, chapter: ReadAlongChapter, source: _Source) -> bytes:
    """A chapter's content document: ``<h1>`` title, then ``<p>`` paragraphs (a new one at
    each cue whose ``new_paragraph`` is True) of ``<span id="sNNNN">`` sentences; the
    lines of a multi-line cue (verse) are kept apart with ``<br/>``."""
    h = ElementMaker(namespace=XHTML_NS)
    section = h.section(h.h1(_xml_text(chapter.title)), id=_section_id(number))
    section.set(EPUB_TYPE, "chapter")
    paragraph: etree._Element | None = None
    for k, cue in enumerate(chapter.cues, 1):
        if paragraph is None or cue.new_paragraph:
            paragraph = etree.SubElement(section, f"{{{XHTML_NS}}}p")
        elif len(paragraph):
            paragraph[-1].tail = " "
        span = etree.SubElement(paragraph, f"{{{XHTML_NS}}}span", id=f"s{k:04d}")
        first, *more = _xml_text(cue.text).strip().split("\n")
        span.text = first
        for line in more:
            etree.SubElement(span, f"{{{XHTML_NS}}}br").tail = line
    return _xhtml_doc(chapter.title, source.language, section)


def _chapter_smil(number: int, chapter: ReadAlongChapter) -> bytes:
    """A chapter's Media Overlay Document: one ``<par>`` per cue pairing the sentence's
    span with its clip of the chapter audio (clock values in seconds, to the ms)."""
    s = ElementMaker(namespace=SMIL_NS, nsmap={None: SMIL_NS, "epub": EPUB_NS})
    xhtml, audio = _xhtml_href(number), _audio_href(number)
    pars = [
        s.par(
            s.text(src=f"{xhtml}#s{k:04d}"),
            s.audio(
                src=audio,
                clipBegin=f"{_ms(cue.start_s) / 1000:.3f}s",
                clipEnd=f"{_ms(cue.end_s) / 1000:.3f}s",
            ),
            id=f"p{k:04d}",
        )
        for k, cue in enumerate(chapter.cues, 1)
    ]
    # epubcheck (MED-014) wants the textref to name an element: the chapter's <section>
    body = s.body(*pars, **{f"{{{EPUB_NS}}}textref": f"{xhtml}#{_section_id(number)}"})
    return _serialize(s.smil(body, version="3.0"))


def _write_zip(out_path: Path, entries: Sequence[tuple[str, bytes | Path]]) -> None:
    """The OCF container: ``mimetype`` first and stored without extra field, XML/CSS
    deflated, audio and images stored (already compressed). Written to a hidden temporary
    name beside ``out_path`` and renamed into place; removed again on any error."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            for name, content in entries:
                media = name.endswith((".mp3", ".jpg", ".png"))
                method = zipfile.ZIP_STORED if media else zipfile.ZIP_DEFLATED
                if isinstance(content, Path):
                    zf.write(content, name, compress_type=method)
                else:
                    zf.writestr(name, content, compress_type=method)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
