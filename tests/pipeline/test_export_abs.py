"""Audiobookshelf export of a really assembled book (synthetic speech), read back from disk:
the folder layout, the side files, the cover decoded by PyAV, the tags by mutagen (an
independent reader) and by PyAV (the libavformat that Audiobookshelf's ffprobe uses)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from pipeline.assemble import AssembledBook, assemble_book
from pipeline.encode import M4bWriter, Mp3Writer, Tags, safe_filename
from pipeline.export_abs import ABS_DIR, abs_book_dir, export_audiobookshelf
from pipeline.models import BookMetadata, Cover
from tests.conftest import unavailable
from tests.pipeline.test_assemble import config, jpeg_cover, make_book

NARRATOR = "Joe Reader"
META = BookMetadata(
    title="The Time Machine",
    author="H. G. Wells",
    year="1895",
    series="Wellsian Tales",
    series_part="2",
    description="A Victorian inventor travels to the year 802,701 — and back.",
)


def abs_series(tags: dict[str, str]) -> tuple[str | None, str | None]:
    """(series, part) as Audiobookshelf reads them from ffprobe's format tags: a copy of
    its rule (advplyr/audiobookshelf server/utils/prober.js parseTags; the grouping
    fallback of server/scanner/AudioFileScanner.js setBookMetadataFromAudioMetaTags)."""

    def grab(*keys: str) -> str | None:
        for key in keys:
            if value := tags.get(key) or tags.get(key.upper()):
                return value
        return None

    if series := grab("series", "show", "mvnm"):
        return series, grab("series-part", "episode_id", "mvin", "part")
    if grouping := grab("grouping", "grp1"):
        name, _, part = grouping.partition(" #")
        return name, part or None
    return None, None


def format_tags(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return dict(container.metadata)


def export(book: AssembledBook, out: Path, **changes) -> Path:
    args = dict(
        title=META.title,
        author=META.author,
        narrator=NARRATOR,
        m4b=book.m4b,
        chapter_files=book.files["mp3"],
        cover=jpeg_cover(),
        description=META.description,
        series=META.series,
        series_part=META.series_part,
    )
    return export_audiobookshelf(out, **{**args, **changes})


@pytest.fixture(scope="module")
def assembled(tmp_path_factory) -> tuple[AssembledBook, Path]:
    root = tmp_path_factory.mktemp("abs")
    plans, store = make_book(root)
    book = assemble_book(
        plans, store, META, jpeg_cover(), root / "out", config("m4b", "mp3"), narrator=NARRATOR
    )
    return book, root / "out"


def test_m4b_book_folder_layout_and_side_files(assembled) -> None:
    book, out = assembled
    folder = export(book, out)
    assert folder == out / ABS_DIR / "H. G. Wells" / "Wellsian Tales" / "The Time Machine"
    assert sorted(p.name for p in folder.iterdir()) == [
        "The Time Machine.m4b",
        "cover.jpg",
        "desc.txt",
        "reader.txt",
    ]
    linked = folder / "The Time Machine.m4b"
    assert os.path.samefile(linked, book.m4b)  # a hard link, not a second copy
    assert (folder / "cover.jpg").read_bytes() == jpeg_cover().data  # JPEG kept as it is
    assert (folder / "desc.txt").read_text(encoding="utf-8") == META.description + "\n"
    assert (folder / "reader.txt").read_text(encoding="utf-8") == "Joe Reader\n"
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_exported_audio_carries_book_tags(assembled) -> None:
    book, out = assembled
    folder = export(book, out)
    mp4 = MP4(folder / "The Time Machine.m4b")
    assert (mp4["©alb"], mp4["©ART"], mp4["©wrt"]) == (
        ["The Time Machine"],
        ["H. G. Wells"],
        ["Joe Reader"],
    )
    mp3_folder = export(book, out, m4b=None)
    for path in sorted(mp3_folder.glob("*.mp3")):
        id3 = ID3(path)
        assert (str(id3["TALB"]), str(id3["TPE1"]), str(id3["TCOM"])) == (
            "The Time Machine",
            "H. G. Wells",
            "Joe Reader",
        )


def test_assembled_files_carry_the_series(assembled) -> None:
    book, _ = assembled
    assert abs_series(format_tags(book.m4b)) == ("Wellsian Tales", "2")
    assert abs_series(format_tags(book.files["mp3"][0])) == ("Wellsian Tales", "2")


def test_series_tags_are_where_audiobookshelf_reads_them(tmp_path) -> None:
    tags = Tags("The Time Machine", "The Time Machine", "H. G. Wells", NARRATOR)
    series = Tags(**{**tags.__dict__, "series": "Wellsian Tales", "series_part": "2"})
    no_part = Tags(**{**tags.__dict__, "series": "Wellsian Tales"})
    tone = (0.1 * np.sin(np.arange(22050) * 0.05)).astype(np.float32)
    for name, t in (("series", series), ("no_part", no_part), ("none", tags)):
        m4b = M4bWriter(tmp_path / f"{name}.m4b", 22050, 64, t, [("One", 22050)], None)
        m4b.write(tone)
        m4b.close()
        mp3 = Mp3Writer(tmp_path / f"{name}.mp3", 22050, t)
        mp3.write(tone)
        mp3.close()
    for ext in ("m4b", "mp3"):
        assert abs_series(format_tags(tmp_path / f"series.{ext}")) == ("Wellsian Tales", "2")
        assert abs_series(format_tags(tmp_path / f"no_part.{ext}")) == ("Wellsian Tales", None)
        assert abs_series(format_tags(tmp_path / f"none.{ext}")) == (None, None)
    mp4 = MP4(tmp_path / "series.m4b")  # the iTunes atoms themselves
    assert (mp4["tvsh"], mp4["tven"], mp4["©grp"]) == (
        ["Wellsian Tales"],
        ["2"],
        ["Wellsian Tales #2"],
    )
    assert (mp4["©alb"], mp4["©ART"], mp4["©wrt"]) == (
        ["The Time Machine"],
        ["H. G. Wells"],
        [NARRATOR],
    )
    id3 = ID3(tmp_path / "series.mp3")
    assert (str(id3["TXXX:series"]), str(id3["TXXX:series-part"])) == ("Wellsian Tales", "2")
    assert "tven" not in MP4(tmp_path / "no_part.m4b")
    assert "TXXX:series" not in ID3(tmp_path / "none.mp3")


def test_chapter_mp3s_without_series_or_description(assembled) -> None:
    book, out = assembled
    folder = export(book, out, m4b=None, series=None, series_part=None, description=None)
    assert folder == out / ABS_DIR / "H. G. Wells" / "The Time Machine"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([p.name for p in book.files["mp3"]] + ["cover.jpg", "reader.txt"])
    for src in book.files["mp3"]:
        assert os.path.samefile(folder / src.name, src)


def png_cover(width: int = 48, height: int = 32) -> Cover:
    """An RGBA PNG, encoded by PyAV: left half opaque red, right half transparent."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:, : width // 2] = (200, 30, 30, 255)
    frame = av.VideoFrame.from_ndarray(pixels, format="rgba")
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgba"
        for frm in (frame, None):
            out.mux(stream.encode(frm))
    return Cover(buf.getvalue(), "image/png")


def test_png_cover_becomes_a_jpeg_over_white(assembled) -> None:
    book, out = assembled
    cover = png_cover()
    assert cover.data.startswith(b"\x89PNG")
    jpg = export(book, out, cover=cover) / "cover.jpg"
    with av.open(str(jpg)) as img:
        stream = img.streams.video[0]
        assert stream.codec_context.name == "mjpeg"
        rgb = next(img.decode(stream)).to_ndarray(format="rgb24").astype(int)
    assert rgb.shape == (32, 48, 3)
    assert np.abs(rgb[8:24, 4:20] - (200, 30, 30)).max() <= 12  # the opaque half
    assert rgb[8:24, 28:44].min() >= 243  # transparency laid over white


def test_reexport_replaces_the_folder_content(assembled) -> None:
    book, out = assembled
    folder = export(book, out)
    (folder / "stale.txt").write_text("from an older export")
    again = export(book, out, m4b=None, description=None, cover=None)
    assert again == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [p.name for p in book.files["mp3"]] + ["reader.txt"]
    )
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []


def test_a_failed_export_keeps_the_previous_one(assembled) -> None:
    book, out = assembled
    folder = export(book, out)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(ValueError, match="cannot be read"):
        export(book, out, cover=Cover(b"not a png", "image/png"))
    with pytest.raises(FileNotFoundError, match="nope.mp3"):
        export(book, out, m4b=None, chapter_files=[out / "nope.mp3"])
    with pytest.raises(ValueError, match="not JPEG data"):
        export(book, out, cover=Cover(b"GIF89a", "image/jpeg"))
    assert sorted(p.name for p in folder.iterdir()) == before
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []


def test_bad_arguments(assembled, tmp_path) -> None:
    book, _ = assembled
    with pytest.raises(ValueError, match="nothing to export"):
        export(book, tmp_path, m4b=None, chapter_files=[])
    with pytest.raises(ValueError, match="title and an author"):
        export(book, tmp_path, author="  ")
    with pytest.raises(ValueError, match="without a series"):
        export(book, tmp_path, series=None, series_part="3")
    with pytest.raises(ValueError, match="share a name"):
        export(book, tmp_path, m4b=None, chapter_files=[book.files["mp3"][0]] * 2)
    with pytest.raises(ValueError, match="not supported"):
        export(book, tmp_path, cover=Cover(b"GIF89a", "image/gif"))
    assert not (tmp_path / ABS_DIR).exists() or not any((tmp_path / ABS_DIR).rglob("*.m4b"))


def test_folder_names_are_safe_on_every_os(assembled, tmp_path) -> None:
    book, _ = assembled
    title, author, series = 'What? A "Tale": Part/1', "A<B>|C", "Saga\\One*"
    folder = export(book, tmp_path, title=title, author=author, series=series)
    assert folder == abs_book_dir(tmp_path, title=title, author=author, series=series)
    rel = folder.relative_to(tmp_path / ABS_DIR).parts
    assert rel == (safe_filename(author), safe_filename(series), safe_filename(title))
    assert rel == ("A B C", "Saga One", "What A Tale Part 1")
    assert (folder / "What A Tale Part 1.m4b").is_file()


def test_falls_back_to_a_copy_across_file_systems(assembled) -> None:
    book, out = assembled
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == out.stat().st_dev:
        unavailable("needs /dev/shm on a file system other than the test's temp folder")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        folder = export(book, Path(other))
        copied = folder / "The Time Machine.m4b"
        assert copied.stat().st_nlink == 1
        assert copied.read_bytes() == book.m4b.read_bytes()
