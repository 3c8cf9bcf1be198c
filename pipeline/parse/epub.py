"""EPUB 2 / EPUB 3 -> :class:`~pipeline.models.Book`, with zipfile and lxml only.

Reading order is the OPF spine; chapters are the TOC entries (EPUB 3 nav ``toc``, else
the EPUB 2 NCX) mapped onto it, so one XHTML file can hold several chapters addressed by
fragment links (The Waste Land: ``#ch1``..``#ch5``, ``#rearnotes``). Text between two
TOC targets belongs to the first; spine documents the TOC does not list belong to the
chapter before them, and anything before the first TOC target is front matter and is
dropped. A chapter is then dropped when its title names page furniture (contents,
licence, colophon, title page, generic "Notes"...) or it has no paragraph text (title
pages, image-only pages). What is skipped inside documents (cover, nav, imprint, notes,
noterefs...) is described in :mod:`pipeline.parse.html`; Project Gutenberg header and
licence are cut with :mod:`pipeline.parse.gutenberg`.

Container rules follow EPUB OCF 3.3, leniently: a compressed or misplaced ``mimetype``
entry only adds a warning, as in real reading systems.
"""

from __future__ import annotations

import base64
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from urllib.parse import unquote

from lxml import etree

from pipeline import structure
from pipeline.errors import (
    CorruptEpubError,
    DrmProtectedError,
    MissingPackageDocumentError,
    NoChaptersError,
    NotAnEpubError,
)
from pipeline.models import Block, BlockKind, Book, BookMetadata, Cover, Section, SourceFormat
from pipeline.parse import gutenberg
from pipeline.parse.html import (
    Anchor,
    Event,
    clean_title,
    collapse,
    extract_events,
    localname,
    parse_document,
    semantic_types,
)

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
FONT_RE = re.compile(r"\.(?:otf|ttf|woff2?|eot)$", re.I)
# Landmark / guide types whose target is not read aloud.
SKIP_LANDMARKS = {
    "cover", "toc", "titlepage", "title-page", "copyright-page", "colophon", "imprint",
    "endnotes", "footnotes", "rearnotes", "loi", "lot", "index", "notes",
}  # fmt: skip
FURNITURE_RE = re.compile(
    r"^(?:(?:table of |brief )?contents|title ?page|cover(?: page)?|copyright(?: page)?|"
    r"imprint|colophon|uncopyright|licen[cs]e|index|landmarks|list of illustrations|"
    r"(?:end|foot|rear)?notes|.*project gutenberg.*)$",
    re.I,
)
GENERIC_NOTES_RE = re.compile(r"^(?:(?:end|foot|rear)?notes?)$", re.I)
NOT_ZIP_HELP = "re-download or re-export it"


@dataclass(frozen=True)
class TocEntry:
    """One TOC link: its label, target (package path, optional fragment id) and depth in
    the TOC tree (1 = top; nav ``li`` nesting, or NCX ``navPoint`` nesting)."""

    label: str
    path: str
    fragment: str | None
    level: int = 1


@dataclass
class _Package:
    opf_path: str
    root: etree._Element
    manifest: dict[str, tuple[str, str, str]]  # id -> (path, media-type, properties)
    spine: list[tuple[str, bool]]  # (path, linear)
    nav_path: str | None
    ncx_path: str | None


def parse_epub(data: bytes) -> Book:
    """Parse EPUB bytes into a :class:`Book` of listener chapters.

    Raises :class:`CorruptEpubError` (damaged / truncated ZIP), :class:`NotAnEpubError`
    (a ZIP without container.xml or package document), :class:`MissingPackageDocumentError`
    (container.xml names a missing OPF), :class:`DrmProtectedError` (encrypted content
    documents) and :class:`NoChaptersError` (nothing to read). A compressed, misplaced or
    missing ``mimetype`` entry is accepted with a warning in ``Book.warnings``.
    """
    warnings: list[str] = []
    zf = _open_zip(data, warnings)
    _check_drm(zf)
    pkg = _read_package(zf, _find_opf(zf, warnings))
    toc = _read_toc(zf, pkg)
    sections = structure.normalize(_build_sections(zf, pkg, toc, warnings))
    chapters = structure.chapters(sections)
    if not chapters:
        raise NoChaptersError(
            "the EPUB has no chapter with readable text; check that it is not image-only"
        )
    return Book(
        metadata=_metadata(pkg.root),
        chapters=chapters,
        source_format=SourceFormat.EPUB,
        sections=sections,
        cover=_find_cover(zf, pkg),
        warnings=tuple(warnings),
    )


def _open_zip(data: bytes, warnings: list[str]) -> zipfile.ZipFile:
    if not data.startswith(b"PK"):
        raise NotAnEpubError(
            "the file is not an EPUB (it is not a ZIP archive); export it as EPUB again"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
        raise CorruptEpubError(
            "the EPUB is corrupt or truncated (ZIP end-of-central-directory not found); "
            f"{NOT_ZIP_HELP}"
        ) from None
    infos = zf.infolist()
    mime = next((i for i in infos if i.filename == "mimetype"), None)
    if mime is None:
        warnings.append("the EPUB has no 'mimetype' entry; read it anyway")
    elif infos[0] is not mime or mime.compress_type != zipfile.ZIP_STORED:
        warnings.append(
            "the EPUB's 'mimetype' entry is compressed or not first in the ZIP (an EPUB "
            "packaging error); read it anyway, but re-packing the file is advised"
        )
    return zf


def _read(zf: zipfile.ZipFile, path: str) -> bytes | None:
    """Bytes of a package file (exact, then case-insensitive name); None if absent."""
    try:
        return zf.read(path)
    except KeyError:
        lower = path.lower()
        match = next((n for n in zf.namelist() if n.lower() == lower), None)
        return _read(zf, match) if match else None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raise CorruptEpubError(
            f"the EPUB is corrupt: entry '{path}' cannot be read; {NOT_ZIP_HELP}"
        ) from None


def _xml(zf: zipfile.ZipFile, path: str) -> etree._Element | None:
    data = _read(zf, path)
    if data is None:
        return None
    try:
        return etree.fromstring(
            data, etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return None


def _resolve(base: str, href: str) -> tuple[str, str | None]:
    """Package path and fragment of ``href`` relative to the file ``base``."""
    target, _, fragment = href.strip().partition("#")
    path = (
        posixpath.dirname(base)
        if not target
        else posixpath.join(posixpath.dirname(base), unquote(target))
    )
    return posixpath.normpath(path).lstrip("/") if target else base, fragment or None


def _check_drm(zf: zipfile.ZipFile) -> None:
    root = _xml(zf, "META-INF/encryption.xml")
    if root is None:
        return
    locked = []
    for enc in root.iter("{*}EncryptedData"):
        method = next(enc.iter("{*}EncryptionMethod"), None)
        ref = next(enc.iter("{*}CipherReference"), None)
        uri = unquote(ref.get("URI", "")) if ref is not None else ""
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if not (algorithm in FONT_OBFUSCATION or FONT_RE.search(uri)):
            locked.append(uri)
    if locked:
        raise DrmProtectedError(
            f"the EPUB is DRM-protected ({len(locked)} content files are encrypted); "
            "use a DRM-free copy of the book"
        )


def _find_opf(zf: zipfile.ZipFile, warnings: list[str]) -> str:
    container = _xml(zf, "META-INF/container.xml")
    if container is None:
        opfs = [n for n in zf.namelist() if n.lower().endswith(".opf")]
        if len(opfs) != 1:
            raise NotAnEpubError(
                "the file is a ZIP archive but not an EPUB (no META-INF/container.xml and no "
                "package document); export the book as EPUB, or upload its HTML another way"
            )
        warnings.append("the EPUB has no META-INF/container.xml; used its only package document")
        return opfs[0]
    rootfiles = [r for r in container.iter("{*}rootfile") if r.get("full-path")]
    rootfiles.sort(key=lambda r: r.get("media-type") != "application/oebps-package+xml")
    if not rootfiles:
        raise NotAnEpubError(
            "the EPUB's META-INF/container.xml names no package document (OPF); re-export it"
        )
    path = unquote(rootfiles[0].get("full-path", "")).lstrip("/")
    if _read(zf, path) is None:
        raise MissingPackageDocumentError(
            f"the EPUB's package document (OPF) '{path}' named in META-INF/container.xml is "
            f"not found in the archive; the file is damaged, {NOT_ZIP_HELP}"
        )
    return path


def _read_package(zf: zipfile.ZipFile, opf_path: str) -> _Package:
    root = _xml(zf, opf_path)
    if root is None:
        raise NotAnEpubError(
            f"the EPUB's package document '{opf_path}' is not readable XML; re-export it"
        )
    manifest = {
        item.get("id", ""): (_resolve(opf_path, item.get("href", ""))[0], item.get("media-type", ""),
                             item.get("properties", ""))
        for item in root.iter(f"{OPF}item", "item")
    }  # fmt: skip
    spine_el = next(root.iter(f"{OPF}spine", "spine"), None)
    spine = []
    for ref in spine_el.iter(f"{OPF}itemref", "itemref") if spine_el is not None else ():
        if ref.get("idref") in manifest:
            spine.append((manifest[ref.get("idref")][0], ref.get("linear", "yes") != "no"))
    nav = next((p for p, _, props in manifest.values() if "nav" in props.split()), None)
    ncx_id = spine_el.get("toc") if spine_el is not None else None
    ncx = (
        manifest[ncx_id][0]
        if ncx_id in manifest
        else next((p for p, mt, _ in manifest.values() if mt == "application/x-dtbncx+xml"), None)
    )
    return _Package(opf_path, root, manifest, spine, nav, ncx)


def _read_toc(zf: zipfile.ZipFile, pkg: _Package) -> tuple[list[TocEntry], list[TocEntry]]:
    """(TOC entries in reading order with their depth, landmark/guide entries whose
    label is the landmark type). The EPUB 3 nav ``toc`` wins over the EPUB 2 NCX."""
    toc: list[TocEntry] = []
    marks: list[TocEntry] = []
    nav_root = _xml(zf, pkg.nav_path) if pkg.nav_path else None
    if nav_root is not None:
        for nav in (n for n in nav_root.iter() if localname(n) == "nav"):
            kind = semantic_types(nav)
            for a in (a for a in nav.iter() if localname(a) == "a" and a.get("href")):
                path, frag = _resolve(pkg.nav_path or "", a.get("href", ""))
                if "toc" in kind:
                    depth = sum(1 for el in a.iterancestors() if localname(el) == "li")
                    toc.append(TocEntry(collapse("".join(a.itertext())), path, frag, max(1, depth)))
                elif "landmarks" in kind:
                    marks.append(TocEntry(" ".join(semantic_types(a)), path, frag))
    ncx_root = _xml(zf, pkg.ncx_path) if pkg.ncx_path else None
    if not toc and ncx_root is not None:
        for point in ncx_root.iter(f"{NCX}navPoint", "navPoint"):
            src = next((c for c in point if localname(c) == "content"), None)
            label = next((c for c in point if localname(c) == "navlabel"), None)
            if src is not None and src.get("src"):
                path, frag = _resolve(pkg.ncx_path or "", src.get("src", ""))
                text = collapse("".join(label.itertext())) if label is not None else ""
                depth = 1 + sum(1 for el in point.iterancestors() if localname(el) == "navpoint")
                toc.append(TocEntry(text, path, frag, depth))
    for ref in pkg.root.iter(f"{OPF}reference", "reference"):
        if ref.get("href"):
            marks.append(
                TocEntry(ref.get("type", "").lower(), *_resolve(pkg.opf_path, ref.get("href", "")))
            )
    return toc, marks


def _build_sections(zf, pkg: _Package, tocs, warnings: list[str]) -> list[Section]:
    """The book's sections: one per TOC entry, holding the text from its target to the
    next entry's, at the entry's TOC depth (see the module doc for what is dropped)."""
    toc, marks = tocs
    skip_docs: set[str | None] = {pkg.nav_path}
    skip_ids: dict[str, set[str]] = {}
    for mark in marks:
        if set(mark.label.split()) & SKIP_LANDMARKS:
            if mark.fragment is None:
                skip_docs.add(mark.path)
            else:
                skip_ids.setdefault(mark.path, set()).add(mark.fragment)
    targets: dict[str, set[str]] = {}
    keep: dict[str, set[str]] = {}
    for e in toc:
        if e.fragment:
            targets.setdefault(e.path, set()).add(e.fragment)
            if not GENERIC_NOTES_RE.match(clean_title(e.label, 0)):
                keep.setdefault(e.path, set()).add(e.fragment)
    stream, where = _read_spine(zf, pkg, toc, (skip_docs, skip_ids, targets, keep), warnings)
    starts: dict[int, list[TocEntry]] = {}
    for e in toc:
        pos = where.get((e.path, e.fragment), where.get((e.path, None)) if e.fragment else None)
        if pos is not None:  # a story and its first part may start at one place: keep both
            starts.setdefault(pos, []).append(e)
    if not starts:  # no usable TOC: one section per spine document
        starts = {pos: [TocEntry("", p, None)] for (p, f), pos in where.items() if f is None}
    bounds = sorted(starts) + [len(stream)]
    sections: list[Section] = []
    for begin, end in zip(bounds, bounds[1:], strict=False):
        entries = starts[begin]
        for entry in entries[:-1]:  # entries sharing a start: all but the last hold no text
            sections.append(
                Section(entry.level, clean_title(entry.label, 0, False) if entry.label else "")
            )
        entry = entries[-1]
        blocks = [b for b in stream[begin:end] if isinstance(b, Block)]
        label = entry.label or next((b.text for b in blocks if b.kind is BlockKind.HEADING), "")
        title = clean_title(label, len(sections) + 1, False)
        blocks = _trim(blocks, {_norm(label), _norm(title)})
        sections.append(Section(entry.level, title, tuple(blocks)))
    return _drop_furniture(sections)


def _drop_furniture(sections: list[Section]) -> list[Section]:
    """Without sections whose title names page furniture (contents, licence, colophon,
    title page, generic "Notes"...) and without empty leaves (title pages, image-only
    pages: no paragraph text and nothing under them)."""
    kept = [s for s in sections if not FURNITURE_RE.match(s.title)]
    return [
        s
        for i, s in enumerate(kept)
        if s.words or (i + 1 < len(kept) and kept[i + 1].level > s.level)
    ]


def _read_spine(zf, pkg: _Package, toc: list[TocEntry], skips, warnings: list[str]):
    """(events of every spine document in reading order with PG boilerplate cut, the
    stream position of each document and TOC anchor)."""
    skip_docs, skip_ids, targets, keep = skips
    toc_docs = {e.path for e in toc}
    stream: list[Event] = []
    where: dict[tuple[str, str | None], int] = {}
    for path, linear in pkg.spine:
        if path in skip_docs or (not linear and path not in toc_docs) or path in where:
            continue
        data = _read(zf, path)
        try:
            root = parse_document(data) if data else None
        except ValueError:
            root = None
        if root is None:
            warnings.append(f"skipped spine document '{path}': missing or unreadable")
            continue
        where[(path, None)] = len(stream)
        events = extract_events(
            root, targets.get(path, set()), keep.get(path, set()), skip_ids.get(path, set())
        )
        for ev in events:
            if isinstance(ev, Anchor):
                where.setdefault((path, ev.id), len(stream))
            stream.append(ev)
    return _strip_gutenberg(stream), where


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _trim(blocks: list[Block], titles: set[str]) -> list[Block]:
    """Drop leading title headings and stray section breaks at either end."""
    while blocks and (
        blocks[0].kind is BlockKind.SECTION_BREAK
        or blocks[0].kind is BlockKind.HEADING
        and _norm(blocks[0].text) in titles
    ):
        blocks = blocks[1:]
    while blocks and blocks[-1].kind is BlockKind.SECTION_BREAK:
        blocks = blocks[:-1]
    return [b for i, b in enumerate(blocks) if b.kind is not BlockKind.SECTION_BREAK
            or blocks[i - 1].kind is not BlockKind.SECTION_BREAK]  # fmt: skip


def _strip_gutenberg(stream: list[Event]) -> list[Event]:
    """Blank out (as empty anchors, so stream positions stay valid) the blocks before PG's
    START marker and from its END marker / licence on."""
    texts = [(i, ev.text) for i, ev in enumerate(stream) if isinstance(ev, Block) and ev.text]
    start = max((i for i, t in texts if gutenberg.START_RE.search(t)), default=-1)
    end = min(
        (
            i
            for i, t in texts
            if i > start and (gutenberg.END_RE.search(t) or gutenberg.LICENSE_RE.search(t))
        ),
        default=len(stream),
    )
    return [
        ev if isinstance(ev, Anchor) or start < i < end else Anchor("")
        for i, ev in enumerate(stream)
    ]


def _metadata(root: etree._Element) -> BookMetadata:
    def first(tag: str) -> str | None:
        return next(
            (t for el in root.iter(f"{DC}{tag}") if (t := collapse("".join(el.itertext())))), None
        )

    date = first("date") or ""
    year = re.search(r"\b(\d{4})\b", date)
    description = first("description")
    series, part = _series(root)
    return BookMetadata(
        title=first("title"),
        author=_authors(root),
        language=first("language"),
        publisher=first("publisher"),
        year=year.group(1) if year else None,
        series=series,
        series_part=part,
        description=re.sub(r"<[^>]+>", "", description) if description else None,
    )


def _series(root: etree._Element) -> tuple[str | None, str | None]:
    """The series the book belongs to and its number in it: EPUB 3
    ``belongs-to-collection`` (with ``collection-type`` series or none, and its
    ``group-position``), else calibre's ``calibre:series`` / ``calibre:series_index``."""
    metas = list(root.iter(f"{OPF}meta", "meta"))
    for meta in metas:
        if meta.get("property") != "belongs-to-collection" or not (
            name := collapse(meta.text or "")
        ):
            continue
        refined = {
            m.get("property"): collapse(m.text or "")
            for m in metas
            if meta.get("id") and m.get("refines", "").lstrip("#") == meta.get("id")
        }
        if refined.get("collection-type", "series") == "series":
            return name, _part(refined.get("group-position"))
    named = {m.get("name"): m.get("content") for m in metas if m.get("name")}
    name = collapse(named.get("calibre:series") or "")
    return (name, _part(named.get("calibre:series_index"))) if name else (None, None)


def _part(value: str | None) -> str | None:
    """ "2.0" -> "2", "1.5" -> "1.5", "" -> None."""
    if not value:
        return None
    return value[:-2] if value.endswith(".0") else value


def _authors(root: etree._Element) -> str | None:
    """Every ``dc:creator`` whose role is author (EPUB 2 ``opf:role``, EPUB 3 ``role``
    refinement; no role counts as author), joined as printed on a cover: "A", "A and B",
    "A, B and C". Illustrators, editors, translators... are left out."""
    roles = {
        meta.get("refines", "").lstrip("#"): collapse(meta.text or "").lower()
        for meta in root.iter(f"{OPF}meta", "meta")
        if meta.get("property") == "role"
    }
    names = []
    for el in root.iter(f"{DC}creator"):
        role = (el.get(f"{OPF}role") or roles.get(el.get("id", ""), "")).lower()
        name = collapse("".join(el.itertext()))
        if name and role in ("", "aut") and name not in names:
            names.append(name)
    if len(names) < 2:
        return names[0] if names else None
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _find_cover(zf: zipfile.ZipFile, pkg: _Package) -> Cover | None:
    """Cover from cover-image property, EPUB 2 ``<meta name="cover">``, else a cover page."""
    ids = [i for i, (_, _, props) in pkg.manifest.items() if "cover-image" in props.split()]
    for meta in pkg.root.iter(f"{OPF}meta", "meta"):
        if meta.get("name") == "cover" and meta.get("content"):
            ids.append(meta.get("content", ""))
    paths = [pkg.manifest[i][0] if i in pkg.manifest else _resolve(pkg.opf_path, i)[0] for i in ids]
    paths += [p for p, _ in pkg.spine[:2] if "cover" in p.lower()]
    for path in paths:
        cover = _load_image(zf, path, depth=0)
        if cover:
            return cover
    return None


def _load_image(zf: zipfile.ZipFile, path: str, depth: int) -> Cover | None:
    data = _read(zf, path) if not path.startswith("data:") else _data_uri(path)
    if not data:
        return None
    if data[:3] == b"\xff\xd8\xff":
        return Cover(data, "image/jpeg")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return Cover(data, "image/png")
    if depth > 1 or b"<" not in data[:512]:
        return None
    try:  # an SVG or XHTML cover page: use the raster image it shows
        root = parse_document(data)
    except ValueError:
        return None
    for el in root.iter():
        href = (
            el.get(XLINK_HREF) or el.get("href")
            if localname(el) == "image"
            else (el.get("src") if localname(el) == "img" else None)
        )
        if href:
            target = href.strip() if href.strip().startswith("data:") else _resolve(path, href)[0]
            if cover := _load_image(zf, target, depth + 1):
                return cover
    return None


def _data_uri(uri: str) -> bytes | None:
    head, _, payload = uri.partition(",")
    try:
        return base64.b64decode(payload) if head.endswith(";base64") else None
    except ValueError:
        return None
