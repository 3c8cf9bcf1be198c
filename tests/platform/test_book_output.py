"""A book's output choices (:mod:`audiobook_app.book_output`) against a real database,
and a real job that honours them: Redis, storage and ``audiobook worker --burst``
processes with Piper.

The job's manuscript is a two-chapter EPUB 3 this module packs itself (title, author, a
PNG cover), converted with the choices MP3 only, credits, retail sample, subtitles and
Audiobookshelf export (the read-along EPUB is on by default): its chapter MP3s are the
opening credits (00), the two chapters and the closing credits (03); each has WebVTT and
SRT subtitles timed on it; ``sample.mp3`` is the narration after the opening credits;
``abs.zip`` holds ``<Author>/<Title>/`` with the MP3s bit for bit and the cover; the
read-along EPUB has a media overlay per chapter; the book page lists each with a label.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from unittest import mock

import pytest
import webvtt
from mutagen.mp3 import MP3
from PIL import Image
from sqlmodel import select

from audiobook_app import book_cast, book_fixes, book_output, library
from audiobook_app.db.models import AuditLog, Book, Chapter, File, Job
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from audiobook_app.state import clients
from pipeline.config import OutputConfig
from pipeline.errors import ConfigError, NotFoundError
from tests.platform.harness import Platform, call, two_authors

TITLE, AUTHOR = "Salt and Rain", "Ann Author"
CHAPTER_TEXT = (
    "The ferry left the quay at dawn. The fog lay low on the water.",
    "By noon the island rose out of the grey sea.",
)
OPF = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="bookid">urn:uuid:6f1c2a0e-3d0b-4c1e-8a53-2b7f9d4e1a10</dc:identifier>
    <dc:title>{TITLE}</dc:title>
    <dc:creator>{AUTHOR}</dc:creator>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="c2.xhtml" media-type="application/xhtml+xml"/>
    <item id="cov" href="cover.png" media-type="image/png" properties="cover-image"/>
  </manifest>
  <spine><itemref idref="c1"/><itemref idref="c2"/></spine>
</package>"""
DOC = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{0}</title></head>
<body><h1>{0}</h1><p>{1}</p></body></html>"""
NAV = (
    '<nav xmlns:epub="http://www.idpf.org/2007/ops" epub:type="toc"><ol>'
    '<li><a href="c1.xhtml">Chapter 1</a></li><li><a href="c2.xhtml">Chapter 2</a></li>'
    "</ol></nav>"
)
CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""
CHOICES = {
    "formats": ["mp3"],
    "credits": True,
    "retail_sample": True,
    "subtitles": True,
    "audiobookshelf": True,
}
MP3S = ("00 - Opening Credits.mp3", "01 - Chapter 1.mp3", "02 - Chapter 2.mp3",
        "03 - Closing Credits.mp3")  # fmt: skip


def small_epub() -> bytes:
    """The two-chapter EPUB 3 (see the module docstring)."""
    cover = io.BytesIO()
    Image.new("RGB", (30, 40), (200, 120, 40)).save(cover, format="PNG")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as epub:
        epub.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", CONTAINER)
        epub.writestr("OEBPS/book.opf", OPF)
        epub.writestr("OEBPS/nav.xhtml", DOC.format("Contents", NAV))
        for i, text in enumerate(CHAPTER_TEXT, 1):
            epub.writestr(f"OEBPS/c{i}.xhtml", DOC.format(f"Chapter {i}", text))
        epub.writestr("OEBPS/cover.png", cover.getvalue())
    return buf.getvalue()


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url)
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    """(settings, redis, storage, alice's id, bob's id) for this platform."""
    return two_authors(platform)


def _stored(platform: Platform, book_id: int) -> dict:
    return platform.read(lambda s: s.get(Book, book_id)).config_overrides


def test_output_choices_round_trip_and_refusals(platform, lib):
    settings, _, storage, alice, bob = lib
    with session_scope(settings.database_url) as session:
        book_id = library.store_manuscript(
            session, storage, settings, alice, "salt.epub", small_epub()
        ).id
    assert call(settings, book_output.output_choices, alice, book_id) == OutputConfig()

    saved = call(
        settings,
        book_output.save_output_choices,
        alice,
        book_id,
        {"formats": ["mp3", "m4b", "mp3"], "mp3_bitrate_kbps": 320},
    )
    assert (saved.formats, saved.mp3_bitrate_kbps, saved.acx) == (("m4b", "mp3"), 320, True)
    assert _stored(platform, book_id) == {
        "output": {"formats": ["m4b", "mp3"], "mp3_bitrate_kbps": 320}
    }
    # another save keeps what it does not name; the lexicon's save keeps the choices
    call(settings, book_output.save_output_choices, alice, book_id, {"credits": True})
    call(settings, book_fixes.save_lexicon_entry, alice, book_id, "Inishmore", "Inish-more")
    expected = OutputConfig(formats=("m4b", "mp3"), mp3_bitrate_kbps=320, credits=True)
    assert call(settings, book_output.output_choices, alice, book_id) == expected
    assert _stored(platform, book_id)["lexicon"] == {"Inishmore": "Inish-more"}
    # a job started now runs with them (book_cast.pipeline_config merges every section)
    book = platform.read(lambda s: s.get(Book, book_id))
    config = call(settings, book_cast.pipeline_config, settings, alice, book)
    assert config.output == expected and config.lexicon == {"Inishmore": "Inish-more"}

    refusals = [
        (
            {"mp3_bitrate_kbps": 128},
            "ACX mode needs MP3 at 192 kbps or more (got 128); turn acx off for a smaller file",
        ),
        ({"formats": ["mp3", "ogg"]}, "formats must be some of m4b, mp3, wav, flac (got ['ogg'])"),
        ({"formats": []}, "formats must be some of m4b, mp3, wav, flac (got none)"),
        ({"formats": "mp3"}, "formats: Input should be a valid list"),
        ({"mp3_bitrate_kbps": 256}, "mp3_bitrate_kbps must be one of 128, 192, 320 (got 256)"),
        ({"aac_bitrate_kbps": 16}, "aac_bitrate_kbps: Input should be greater than or equal to 32"),
        ({"colour": "blue"}, "unknown output choice 'colour': the choices are formats, "),
        ({"formats": ["m4b"], "retail_sample": True}, "the retail sample is cut from the chapter"),
    ]
    for choices, message in refusals:
        with pytest.raises(ConfigError) as refused:
            call(settings, book_output.save_output_choices, alice, book_id, choices)
        assert str(refused.value).startswith(message), (choices, str(refused.value))
    assert call(settings, book_output.output_choices, alice, book_id) == expected  # unchanged
    # with ACX off, 128 kbps is allowed; ACX back on is refused while the MP3 is 128
    off = {"acx": False, "mp3_bitrate_kbps": 128}
    assert call(settings, book_output.save_output_choices, alice, book_id, off).acx is False
    with pytest.raises(ConfigError, match="ACX mode needs MP3 at 192 kbps"):
        call(settings, book_output.save_output_choices, alice, book_id, {"acx": True})

    for fn, args in (
        (book_output.output_choices, ()),
        (book_output.save_output_choices, ({"credits": False},)),
    ):
        with pytest.raises(NotFoundError):
            call(settings, fn, bob, book_id, *args)
    audit = platform.read(
        lambda s: list(s.exec(select(AuditLog).where(AuditLog.action == "book.output")).all())
    )
    assert [(a.actor_id, a.target_id) for a in audit] == [(alice, str(book_id))] * 3
    assert audit[-1].detail == {"formats": ["m4b", "mp3"], "mp3_bitrate_kbps": 128,
                                "credits": True, "acx": False}  # fmt: skip
    view = call(settings, book_output.output_view, alice, book_id)
    assert (view.epub, view.mp3_bitrate, view.formats) == (True, "128", ["m4b", "mp3"])


def burst(platform: Platform, queues: str = "cpu,tts") -> str:
    """Run ``audiobook worker --queues QUEUES --burst`` until the queues are empty; its log."""
    proc = platform.cli("worker", "--queues", queues, "--burst", "--name", "burst", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _files(platform: Platform, job_id: str) -> dict[str, File]:
    """The job's files by their name under output/ ("mp3/01 - Chapter 1.mp3")."""
    rows = platform.read(lambda s: list(s.exec(select(File).where(File.job_id == job_id)).all()))
    return {f.key.split("/output/", 1)[1]: f for f in rows}


def _downloads(platform: Platform, user_id: int, book_id: int) -> list[dict]:
    """The book page's download list (pages.book.book_view), read with the platform's
    settings as the web process would."""
    from audiobook_app.pages.book import book_view

    with mock.patch.dict(os.environ, platform.env, clear=True):
        get_settings.cache_clear()
        clients.storage.cache_clear()
        try:
            return book_view(user_id, book_id)["downloads"]
        finally:
            get_settings.cache_clear()
            clients.storage.cache_clear()


def test_a_job_writes_the_credits_subtitles_sample_readalong_and_abs_zip_it_was_asked_for(
    platform, lib
):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "salt.epub", small_epub())
    burst(platform, "cpu")  # the inspect job
    book = platform.read(lambda s: s.get(Book, book_id))
    assert (book.status, book.title, book.author) == ("ready", TITLE, AUTHOR), book.error
    call(settings, book_output.save_output_choices, alice, book_id, CHOICES)
    job_id = library.start(conn, settings, alice, book_id, chosen=[1, 2])
    log = burst(platform)
    job = platform.read(lambda s: s.get(Job, job_id))
    assert job.status == "completed", (job.status, job.error, log[-5000:])
    assert platform.read(lambda s: s.get(Book, book_id)).chosen_chapters == [1, 2]

    chapters = platform.read(
        lambda s: list(
            s.exec(select(Chapter).where(Chapter.job_id == job_id).order_by(Chapter.index)).all()
        )
    )
    assert [(c.index, c.title, c.status) for c in chapters] == [
        (0, "Opening Credits", "completed"),
        (1, "Chapter 1", "completed"),
        (2, "Chapter 2", "completed"),
        (3, "Closing Credits", "completed"),
    ]
    durations = [c.duration_s for c in chapters]
    files = _files(platform, job_id)
    root = platform.root / "storage"
    subtitles = [f"subtitles/{Path(m).stem}.{ext}" for m in MP3S for ext in ("vtt", "srt")]
    readalong = "salt-and-rain.readalong.epub"  # on by default; the manuscript is an EPUB
    extras = ["report.json", "sample.mp3", "abs.zip", readalong, *subtitles]
    assert sorted(files) == sorted([*(f"mp3/{m}" for m in MP3S), *extras])  # no M4B
    purposes = {name: (str(f.purpose), f.mime) for name, f in files.items()}
    assert purposes[readalong] == ("readalong", "application/epub+zip")
    assert purposes["abs.zip"] == ("abs", "application/zip")
    assert purposes["sample.mp3"] == ("sample", "audio/mpeg")
    assert {purposes[s] for s in subtitles} == {
        ("subtitles", "text/vtt"),
        ("subtitles", "application/x-subrip"),
    }
    for f in files.values():
        assert (root / f.key).stat().st_size == f.size_bytes > 0

    # subtitles: timed on their chapter's file; the opening credits say the title and who
    for name, duration in zip(MP3S, durations):
        cues = webvtt.read(str(root / files[f"subtitles/{Path(name).stem}.vtt"].key))
        assert cues and 0 <= cues[0].start_in_seconds < cues[-1].end_in_seconds <= duration
        srt = webvtt.from_srt(str(root / files[f"subtitles/{Path(name).stem}.srt"].key))
        assert [c.text for c in srt] == [c.text for c in cues]
    opening = " ".join(c.text for c in webvtt.read(str(root / files[subtitles[0]].key)))
    assert opening == f"{TITLE}. Written by {AUTHOR}. Narrated by Joe, a Piper voice."
    chapter_1 = webvtt.read(str(root / files["subtitles/01 - Chapter 1.vtt"].key))
    assert [c.text for c in chapter_1][-2:] == list(CHAPTER_TEXT[0].replace(". ", ".|").split("|"))

    # the retail sample: everything after the opening credits (under 5 minutes here)
    sample = MP3(str(root / files["sample.mp3"].key))
    assert (sample.info.sample_rate, sample.info.channels) == (44100, 1)
    assert sample.info.length == pytest.approx(sum(durations[1:]), abs=0.3)
    assert sample.info.length < sum(durations) - durations[0] / 2

    # abs.zip: <Author>/<Title>/ with the chapter MP3s as uploaded, the cover, the narrator
    with zipfile.ZipFile(root / files["abs.zip"].key) as shelf:
        names = shelf.namelist()
        folder = f"{AUTHOR}/{TITLE}/"
        assert sorted(names) == sorted([folder + m for m in MP3S] + [folder + "cover.jpg",
                                                                     folder + "reader.txt"])  # fmt: skip
        for m in MP3S:
            assert shelf.getinfo(folder + m).compress_type == zipfile.ZIP_STORED
            assert shelf.read(folder + m) == (root / files[f"mp3/{m}"].key).read_bytes()
        assert shelf.read(folder + "cover.jpg")[:3] == b"\xff\xd8\xff"

    # the read-along EPUB: a media overlay and the MP3 of each of the four tracks
    with zipfile.ZipFile(root / files[readalong].key) as epub:
        assert epub.namelist()[0] == "mimetype" and epub.read("mimetype") == b"application/epub+zip"
        for i, m in enumerate(MP3S, 1):
            assert f"EPUB/chapter_{i:02d}.smil" in epub.namelist()
            assert (
                epub.read(f"EPUB/audio/{i:02d}.mp3") == (root / files[f"mp3/{m}"].key).read_bytes()
            )
        package = epub.read("EPUB/package.opf").decode()
        assert f"<dc:title>{TITLE}</dc:title>" in package

    # the dashboard lists every file with a label (the report is shown as a table)
    downloads = {d["label"]: d["purpose"] for d in _downloads(platform, alice, book_id)}
    assert downloads["Retail sample (MP3)"] == "sample"
    assert downloads["Audiobookshelf folder (ZIP)"] == "abs"
    assert downloads["Subtitles: 00 - Opening Credits.vtt"] == "subtitles"
    assert downloads["All chapters (ZIP)"] == "zip"
    assert downloads["03 - Closing Credits.mp3"] == "mp3"
    assert downloads[f"Read-along EPUB ({readalong})"] == "readalong"
    assert len(downloads) == len(files)  # each file but the report, and the chapters' ZIP
