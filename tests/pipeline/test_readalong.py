"""Read-along EPUBs built from real Piper narration, checked with the W3C validator.

Two short chapters are synthesized once per module with the bundled Piper voice, stored
as segments, mastered to MP3 by :func:`pipeline.assemble.master_chapter` and timed by
:func:`pipeline.cues.chapter_cues`. The source book is a small EPUB 3 this module packs
itself (so the tests run anywhere) and, when the corpus is present, The Time Machine
(Standard Ebooks; an SVG cover page around a JPEG). epubcheck (Debian 4.2.6, installed by
``scripts/epubcheck.sh``) must report no fatal error, error or warning.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from lxml import etree
from mutagen.mp3 import MP3

from pipeline.assemble import BookInfo, master_chapter, master_rate
from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.cues import Cue, chapter_cues
from pipeline.errors import ReadAlongError
from pipeline.models import BookMetadata, ChapterPlan, Segment, SegmentKind
from pipeline.parse.epub import parse_epub
from pipeline.readalong import ACTIVE_CLASS, ReadAlongChapter, build_readalong_epub
from pipeline.store import SegmentStore
from pipeline.tts import load_engine
from tests.conftest import REPO_ROOT, unavailable

EPUBCHECK_JAR = Path("/usr/share/java/epubcheck.jar")
NARRATOR = "Piper en_US-joe-medium"
TIME_MACHINE = "epub/the-time-machine_standardebooks-epub3.epub"
NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "x": "http://www.w3.org/1999/xhtml",
    "smil": "http://www.w3.org/ns/SMIL",
}
# (title, [(segment text, kind, pause after in ms)]): a title, sentences, a paragraph
# break, markup-like characters that must be escaped, a two-sentence segment.
CHAPTERS = (
    (
        "Chapter 1",
        [
            ("Chapter one.", SegmentKind.TITLE, 1500),
            ("The sea was calm & the sky was <clear>.", SegmentKind.BODY, 250),
            ("Nobody spoke.", SegmentKind.BODY, 700),
            ("Then the bell rang twice. We ran outside.", SegmentKind.BODY, 700),
        ],
    ),
    (
        "Chapter 2: “Rain”",
        [
            ("Chapter two.", SegmentKind.TITLE, 1500),
            ('"Fish and chips," she said.', SegmentKind.BODY, 700),
            ("It rained all night.", SegmentKind.BODY, 700),
        ],
    ),
)


@dataclass(frozen=True)
class Narration:
    chapters: list[ReadAlongChapter]
    root: Path


@pytest.fixture(scope="module")
def narration(tmp_path_factory: pytest.TempPathFactory) -> Narration:
    """Two chapters spoken by the bundled Piper voice, mastered to MP3, with their cues."""
    root = tmp_path_factory.mktemp("readalong")
    store = SegmentStore(root / "segments")
    engine = load_engine(VoiceConfig())
    plans = []
    for c, (title, segments) in enumerate(CHAPTERS, 1):
        segs = []
        for i, (text, kind, pause_ms) in enumerate(segments):
            sid = f"c{c}s{i}"
            store.put(sid, engine.synthesize(text), engine.sample_rate_hz)
            segs.append(Segment(sid, c, i, kind, text, "narrator", "piper", pause_ms))
        plans.append(ChapterPlan(c, title, 20, tuple(segs)))
    config = PipelineConfig().with_overrides(output={"formats": ["mp3"]})
    rate = master_rate(plans, store)
    book = BookInfo.of(BookMetadata(title="Read Along", author="Ann Author"), NARRATOR)
    chapters = []
    for plan in plans:
        mastered = master_chapter(plan, store, root / "out", config, book, rate_hz=rate)
        cues = chapter_cues(plan, store, config, rate)
        chapters.append(
            ReadAlongChapter(plan.title, mastered.files["mp3"], mastered.duration_s, cues)
        )
    return Narration(chapters, root)


def png_cover() -> bytes:
    frame = av.VideoFrame.from_ndarray(np.full((40, 30, 3), 200, np.uint8), format="rgb24")
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 30, 40, "rgb24"
        for frm in (frame, None):
            out.mux(stream.encode(frm))
    return buf.getvalue()


SMALL_OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="isbn">urn:isbn:9780000000002</dc:identifier>
    <dc:identifier id="bookid">urn:uuid:0b5e2a39-6a4a-4b5e-9d55-1a8f0e3b4c11</dc:identifier>
    <dc:title>Salt &amp; Rain</dc:title>
    <dc:creator>Ann Author</dc:creator>
    <dc:creator>Bob Writer</dc:creator>
    <dc:language>en-GB</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="cov" href="images/front.png" media-type="image/png" properties="cover-image"/>
  </manifest>
  <spine><itemref idref="ch1"/></spine>
</package>
"""
SMALL_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{0}</title></head>
<body>{1}</body></html>
"""


def pack(path: Path, files: dict[str, bytes]) -> Path:
    """An EPUB (OCF ZIP): ``mimetype`` first and stored, then ``files`` deflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            zf.writestr(name, data)
    return path


CONTAINER = b"""<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""


@pytest.fixture(scope="module")
def small_epub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nav = '<nav xmlns:epub="http://www.idpf.org/2007/ops" epub:type="toc"><ol><li><a href="text/ch1.xhtml">One</a></li></ol></nav>'
    return pack(
        tmp_path_factory.mktemp("small") / "salt-and-rain.epub",
        {
            "META-INF/container.xml": CONTAINER,
            "OEBPS/book.opf": SMALL_OPF.encode(),
            "OEBPS/nav.xhtml": SMALL_DOC.format("Contents", nav).encode(),
            "OEBPS/text/ch1.xhtml": SMALL_DOC.format("One", "<p>The sea was calm.</p>").encode(),
            "OEBPS/images/front.png": png_cover(),
        },
    )


def epubcheck(path: Path) -> dict:
    """epubcheck's JSON report of ``path`` (skips, or fails under CI, without epubcheck)."""
    if not EPUBCHECK_JAR.is_file():
        unavailable(f"epubcheck is not installed ({EPUBCHECK_JAR}): run bash scripts/epubcheck.sh")
    report = path.with_suffix(".epubcheck.json")
    run = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "epubcheck.sh"), str(path), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.is_file(), run.stdout + run.stderr
    return json.loads(report.read_text())


def problems(report: dict) -> list[str]:
    return [
        f"{m['severity']} {m['ID']}: {m['message']} ({m.get('locations')})"
        for m in report["messages"]
        if m["severity"] in ("FATAL", "ERROR", "WARNING")
    ]


def xml(zf: zipfile.ZipFile, name: str) -> etree._Element:
    return etree.fromstring(zf.read(name))


@pytest.fixture(scope="module")
def small_readalong(narration: Narration, small_epub: Path) -> Path:
    return build_readalong_epub(
        small_epub, narration.chapters, narration.root / "small.readalong.epub", narrator=NARRATOR
    )


def test_small_source_gives_a_valid_epub_3_with_media_overlays(small_readalong: Path) -> None:
    report = epubcheck(small_readalong)
    assert problems(report) == []
    checker = report["checker"]
    assert (checker["nFatal"], checker["nError"], checker["nWarning"]) == (0, 0, 0)
    assert report["publication"]["hasAudio"] is True


def test_container_layout(small_readalong: Path, narration: Narration) -> None:
    with zipfile.ZipFile(small_readalong) as zf:
        first = zf.infolist()[0]
        assert (first.filename, first.compress_type, first.extra) == ("mimetype", 0, b"")
        assert zf.read("mimetype") == b"application/epub+zip"
        for n, chapter in enumerate(narration.chapters, 1):
            info = zf.getinfo(f"EPUB/audio/{n:02d}.mp3")
            assert info.compress_type == zipfile.ZIP_STORED
            assert zf.read(info) == chapter.audio.read_bytes()
        assert zf.getinfo("EPUB/package.opf").compress_type == zipfile.ZIP_DEFLATED
    leftovers = [p.name for p in small_readalong.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_package_metadata_from_the_source(small_readalong: Path, small_epub: Path) -> None:
    with zipfile.ZipFile(small_readalong) as zf:
        opf = xml(zf, "EPUB/package.opf")
        cover_item = opf.find(".//opf:item[@properties='cover-image']", NS)
        assert cover_item.get("media-type") == "image/png"
        cover = zf.read("EPUB/" + cover_item.get("href"))
    with zipfile.ZipFile(small_epub) as zf:
        assert cover == zf.read("OEBPS/images/front.png")
    assert opf.findtext(".//dc:title", namespaces=NS) == "Salt & Rain"
    assert [c.text for c in opf.findall(".//dc:creator", NS)] == ["Ann Author", "Bob Writer"]
    assert opf.findtext(".//dc:language", namespaces=NS) == "en-GB"
    uid = opf.find(f".//dc:identifier[@id='{opf.get('unique-identifier')}']", NS).text
    assert uid.startswith("urn:uuid:") and "0b5e2a39" not in uid
    # derived from the source's unique identifier (not its first one), the same every time
    assert (
        opf.findtext(".//dc:source", namespaces=NS)
        == "urn:uuid:0b5e2a39-6a4a-4b5e-9d55-1a8f0e3b4c11"
    )
    metas = {m.get("property"): m.text for m in opf.findall(".//opf:meta[@property]", NS)}
    assert metas["media:narrator"] == NARRATOR
    assert metas["media:active-class"] == ACTIVE_CLASS


def test_durations_are_declared_per_overlay_and_sum_to_the_total(
    small_readalong: Path, narration: Narration
) -> None:
    with zipfile.ZipFile(small_readalong) as zf:
        opf = xml(zf, "EPUB/package.opf")
    durations = opf.findall(".//opf:meta[@property='media:duration']", NS)
    refined = {m.get("refines"): clock_ms(m.text) for m in durations if m.get("refines")}
    total = [clock_ms(m.text) for m in durations if not m.get("refines")]
    expected = [round(c.duration_s * 1000) for c in narration.chapters]
    overlays = []
    for n in range(1, len(narration.chapters) + 1):
        item = opf.find(f".//opf:item[@href='chapter_{n:02d}.xhtml']", NS)
        smil = opf.find(f".//opf:item[@id='{item.get('media-overlay')}']", NS)
        assert (smil.get("href"), smil.get("media-type")) == (
            f"chapter_{n:02d}.smil",
            "application/smil+xml",
        )
        overlays.append(refined[f"#{smil.get('id')}"])
    assert overlays == expected
    assert total == [sum(expected)]
    assert 5000 < sum(expected) < 60000  # two short spoken chapters, seconds each


def clock_ms(value: str) -> int:
    """Milliseconds of a SMIL full clock value ``H:MM:SS.mmm``."""
    h, m, s = value.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


def test_every_overlay_points_at_a_sentence_within_its_audio(
    small_readalong: Path, narration: Narration
) -> None:
    with zipfile.ZipFile(small_readalong) as zf:
        for n, chapter in enumerate(narration.chapters, 1):
            smil, doc = (
                xml(zf, f"EPUB/chapter_{n:02d}.smil"),
                xml(zf, f"EPUB/chapter_{n:02d}.xhtml"),
            )
            spans = {s.get("id"): s for s in doc.iter(f"{{{NS['x']}}}span")}
            pars = smil.findall(".//smil:par", NS)
            assert len(pars) == len(chapter.cues) == len(spans)
            clips = []
            for par, cue in zip(pars, chapter.cues, strict=True):
                target, _, fragment = par.find("smil:text", NS).get("src").partition("#")
                assert target == f"chapter_{n:02d}.xhtml"
                assert "".join(spans[fragment].itertext()) == cue.text
                audio = par.find("smil:audio", NS)
                assert audio.get("src") == f"audio/{n:02d}.mp3"
                begin, end = (audio.get(a) for a in ("clipBegin", "clipEnd"))
                assert begin.endswith("s") and end.endswith("s")
                clips.append((float(begin[:-1]), float(end[:-1])))
                assert clips[-1] == pytest.approx((cue.start_s, cue.end_s), abs=0.0005)
            assert all(begin < end for begin, end in clips)
            assert all(a[1] <= b[0] for a, b in zip(clips, clips[1:])), "clips overlap"
            assert clips[0][0] >= 0.5  # head room tone first (0.75 s by default)
            assert clips[-1][1] <= round(chapter.duration_s, 3)
            assert clips[-1][1] < MP3(zf.open(f"EPUB/audio/{n:02d}.mp3")).info.length


def test_chapter_text_paragraphs_and_escaping(small_readalong: Path, narration: Narration) -> None:
    with zipfile.ZipFile(small_readalong) as zf:
        doc = xml(zf, "EPUB/chapter_01.xhtml")
        raw = zf.read("EPUB/chapter_01.xhtml").decode()
        nav = xml(zf, "EPUB/nav.xhtml")
        css = zf.read("EPUB/style.css").decode()
    cues = narration.chapters[0].cues
    assert doc.findtext(".//x:h1", namespaces=NS) == "Chapter 1"
    paragraphs = [[s.text for s in p.findall("x:span", NS)] for p in doc.iter(f"{{{NS['x']}}}p")]
    assert sum(cue.new_paragraph for cue in cues) == len(paragraphs)
    assert paragraphs[0] == ["Chapter one."]
    assert ["The sea was calm & the sky was <clear>.", "Nobody spoke."] in paragraphs
    assert ["Then the bell rang twice.", "We ran outside."] in paragraphs
    assert "calm &amp; the sky was &lt;clear&gt;." in raw
    links = [(a.text, a.get("href")) for a in nav.iter(f"{{{NS['x']}}}a")]
    assert links == [("Chapter 1", "chapter_01.xhtml"), ("Chapter 2: “Rain”", "chapter_02.xhtml")]
    assert f".{ACTIVE_CLASS} {{ background-color" in css


def test_a_real_epub_3_source(corpus: Path, narration: Narration, tmp_path: Path) -> None:
    source = corpus / TIME_MACHINE
    out = build_readalong_epub(source, narration.chapters, tmp_path / "tm.epub", narrator=NARRATOR)
    assert problems(epubcheck(out)) == []
    with zipfile.ZipFile(out) as zf:
        opf = xml(zf, "EPUB/package.opf")
        cover = zf.read("EPUB/images/cover.jpg")
    assert opf.findtext(".//dc:title", namespaces=NS) == "The Time Machine"
    assert [c.text for c in opf.findall(".//dc:creator", NS)] == ["H. G. Wells"]
    assert opf.findtext(".//dc:language", namespaces=NS) == "en-GB"
    # the JPEG the source's SVG cover page shows, as the parse stage finds it
    assert cover == parse_epub(source.read_bytes()).cover.data
    again = build_readalong_epub(
        source, narration.chapters[:1], tmp_path / "again.epub", narrator="X"
    )
    with zipfile.ZipFile(again) as zf:
        uid = xml(zf, "EPUB/package.opf").findtext(".//dc:identifier", namespaces=NS)
    assert uid == opf.findtext(".//dc:identifier", namespaces=NS)


# --- bad inputs -------------------------------------------------------------------------


def test_a_source_that_is_not_an_epub(narration: Narration, tmp_path: Path) -> None:
    out = tmp_path / "out.epub"
    text = tmp_path / "book.epub"
    text.write_text("Just some text.")
    with pytest.raises(
        ReadAlongError, match=r"the source book\.epub is not a readable EPUB: .*not a ZIP"
    ):
        build_readalong_epub(text, narration.chapters, out, narrator=NARRATOR)
    bare = pack(tmp_path / "bare.epub", {"chapter.html": b"<p>hi</p>"})
    with pytest.raises(
        ReadAlongError, match=r"bare\.epub is not a readable EPUB: .*no META-INF/container\.xml"
    ):
        build_readalong_epub(bare, narration.chapters, out, narrator=NARRATOR)
    with pytest.raises(ReadAlongError, match=r"the source EPUB .*missing\.epub cannot be read"):
        build_readalong_epub(tmp_path / "missing.epub", narration.chapters, out, narrator=NARRATOR)
    assert sorted(tmp_path.iterdir()) == sorted([bare, text])  # no output, no temporary file


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cues": ()}, r"chapter 2 \('Chapter 2: “Rain”'\) has no cues"),
        (
            {"audio": Path("/nonexistent/02.mp3")},
            r"chapter 2 .*: audio file /nonexistent/02\.mp3 does not exist",
        ),
        ({"title": " "}, r"chapter 2 has an empty title"),
        ({"duration_s": 0.0}, r"chapter 2 .*: duration_s must be a positive number"),
        (
            {"duration_s": 1.0},
            r"chapter 2 .*: cue \d+ ends at \d+\.\d{3} s, after the end of its audio \(1\.000 s\)",
        ),
    ],
)
def test_bad_chapters_are_refused(
    narration: Narration, small_epub: Path, tmp_path: Path, change: dict, message: str
) -> None:
    first, second = narration.chapters
    out = tmp_path / "out.epub"
    with pytest.raises(ReadAlongError, match=message):
        build_readalong_epub(small_epub, [first, replace(second, **change)], out, narrator=NARRATOR)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cues_out_of_order_and_audio_that_is_not_mp3(
    narration: Narration, small_epub: Path, tmp_path: Path
) -> None:
    chapter = narration.chapters[0]
    swapped = [chapter.cues[1], chapter.cues[0], *chapter.cues[2:]]
    with pytest.raises(
        ReadAlongError, match=r"chapter 1 .*: cue 2 starts at .* before the cue ahead of it ends"
    ):
        build_readalong_epub(
            small_epub, [replace(chapter, cues=swapped)], tmp_path / "o.epub", narrator=NARRATOR
        )
    wav = tmp_path / "01.wav"
    sf.write(wav, np.zeros(22050, np.float32), 22050)
    with pytest.raises(ReadAlongError, match=r"chapter 1 .*: audio file 01\.wav is not an MP3"):
        build_readalong_epub(
            small_epub, [replace(chapter, audio=wav)], tmp_path / "o.epub", narrator=NARRATOR
        )
    early = [Cue(-0.5, 1.0, "Too early.", True)]
    with pytest.raises(
        ReadAlongError, match=r"cue 1 starts at -0\.500 s, before the start of its audio"
    ):
        build_readalong_epub(
            small_epub, [replace(chapter, cues=early)], tmp_path / "o.epub", narrator=NARRATOR
        )
    point = [Cue(1.0, 1.0002, "Too short.", True)]
    with pytest.raises(ReadAlongError, match=r"cue 1 runs from 1\.000 s to 1\.000 s"):
        build_readalong_epub(
            small_epub, [replace(chapter, cues=point)], tmp_path / "o.epub", narrator=NARRATOR
        )
    with pytest.raises(ReadAlongError, match=r"needs a narrator"):
        build_readalong_epub(small_epub, [chapter], tmp_path / "o.epub", narrator=" ")
    with pytest.raises(ReadAlongError, match=r"at least one chapter"):
        build_readalong_epub(small_epub, [], tmp_path / "o.epub", narrator=NARRATOR)
    assert not (tmp_path / "o.epub").exists()
