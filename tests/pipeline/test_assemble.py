"""Assemble real files from a small synthetic-speech store and read them back with PyAV."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from pipeline.assemble import (
    ROOM_TONE_LOOP_SAMPLES,
    AssembledBook,
    RoomTone,
    TruePeakLimiter,
    assemble_book,
)
from pipeline.audio import measure_file, rms_db, true_peak_dbtp
from pipeline.config import PipelineConfig
from pipeline.errors import EncodingError
from pipeline.models import BookMetadata, ChapterPlan, Cover, Segment, SegmentKind
from pipeline.store import SegmentStore
from tests.synthetic import speech_like

RATE = 22050
NARRATOR = "Piper en_US-joe-medium"
META = BookMetadata(title="The Time Machine", author="H. G. Wells", year="1895")


def jpeg_cover() -> Cover:
    frame = av.VideoFrame.from_ndarray(np.full((32, 48, 3), 90, np.uint8), format="rgb24")
    buf = io.BytesIO()
    with av.open(buf, "w", format="image2pipe") as out:
        stream = out.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuvj420p"
        for frm in (frame.reformat(format="yuvj420p"), None):
            out.mux(stream.encode(frm))
    return Cover(buf.getvalue(), "image/jpeg")


def make_book(
    root: Path, chapters: int = 3, seg_s: tuple[float, ...] = (4.0, 6.0, 5.0)
) -> tuple[list[ChapterPlan], SegmentStore]:
    """Store synthetic segments and plans: ``chapters`` chapters of ``seg_s`` segments."""
    store = SegmentStore(root / "segments")
    plans = []
    for c in range(1, chapters + 1):
        segs = []
        for i, seconds in enumerate(seg_s):
            sid = f"c{c}s{i}"
            store.put(sid, speech_like(seconds, seed=100 * c + i), RATE)
            kind = SegmentKind.TITLE if i == 0 else SegmentKind.BODY
            segs.append(Segment(sid, c, i, kind, "words", "joe", "piper", 1500 if i == 0 else 700))
        words = int(sum(seg_s) / 60 * 160)
        plans.append(ChapterPlan(c, f"Chapter {c}: Part/{c}?", words, tuple(segs)))
    return plans, store


def config(*formats: str) -> PipelineConfig:
    return PipelineConfig().with_overrides(output={"formats": list(formats)})


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[AssembledBook, list[ChapterPlan], Path, list]:
    root = tmp_path_factory.mktemp("assemble")
    plans, store = make_book(root)
    calls: list = []
    book = assemble_book(
        plans,
        store,
        META,
        jpeg_cover(),
        root / "out",
        config("m4b", "mp3", "wav", "flac"),
        narrator=NARRATOR,
        progress=lambda d, t: calls.append((d, t)),
    )
    return book, plans, root / "out", calls


def test_writes_every_format_with_names_and_no_leftovers(built) -> None:
    book, plans, out, calls = built
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert book.m4b == out / "the-time-machine.m4b"
    assert [p.name for p in book.files["mp3"]] == [
        f"0{i} - Chapter {i} Part {i}.mp3" for i in (1, 2, 3)
    ]
    assert all(p.is_file() for f in ("mp3", "wav", "flac") for p in book.files[f])
    leftovers = [
        p for p in out.rglob("*") if p.name.startswith(".") or p.suffix in {".part", ".f32"}
    ]
    assert leftovers == []


def test_chapter_lengths_are_sample_exact(built) -> None:
    book, plans, _, _ = built
    m = PipelineConfig().mastering
    for plan, wav, duration in zip(plans, book.files["wav"], book.durations_s):
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels) == (44100, 1)
        assert info.frames == round(duration * 44100)
        speech_s = sum(
            sf.info(str(p)).duration
            for p in (SegmentStore(wav.parents[2] / "segments").path(s.id) for s in plan.segments)
        )
        pauses_s = sum(s.pause_after_ms for s in plan.segments[:-1]) / 1000
        expected = speech_s + pauses_s + (m.head_room_tone_ms + m.tail_room_tone_ms) / 1000
        assert duration == pytest.approx(expected, abs=1e-3)
    assert book.starts_s == pytest.approx(
        (0.0, book.durations_s[0], book.durations_s[0] + book.durations_s[1])
    )


@pytest.mark.parametrize("fmt", ["mp3", "flac", "wav"])
def test_chapter_files_meet_acx(built, fmt: str) -> None:
    book = built[0]
    for path in book.files[fmt]:
        m = measure_file(path)
        assert -21.0 <= m.rms_db <= -18.0, path.name  # target -19 less limiting, ACX -23..-18
        assert m.true_peak_dbtp <= -3.0
        assert m.noise_floor_db <= -60.0
        assert m.noise_floor_db == pytest.approx(-72.0, abs=2.0)  # room tone, not silence
        assert 0.5 <= m.head_tone_s <= 1.0
        assert 1.0 <= m.tail_tone_s <= 5.0


def test_mp3_is_cbr_192k_441_mono_with_tags(built) -> None:
    book = built[0]
    for i, path in enumerate(book.files["mp3"], start=1):
        with av.open(str(path)) as c:
            s = c.streams.audio[0]
            assert (s.rate, s.channels, s.codec_context.bit_rate) == (44100, 1, 192000)
            duration = c.duration / 1e6
            assert c.metadata["title"] == f"Chapter {i}: Part/{i}?"
            assert (c.metadata["artist"], c.metadata["album"], c.metadata["track"]) == (
                "H. G. Wells",
                "The Time Machine",
                str(i),
            )
        assert path.stat().st_size * 8 / duration == pytest.approx(192000, rel=0.02)


def test_m4b_chapters_cover_tags_and_peak(built) -> None:
    book = built[0]
    with av.open(str(book.m4b)) as c:
        chapters = c.chapters()
        assert [ch["metadata"]["title"] for ch in chapters] == [
            f"Chapter {i}: Part/{i}?" for i in (1, 2, 3)
        ]
        starts = [float(ch["start"] * ch["time_base"]) for ch in chapters]
        assert starts == pytest.approx(list(book.starts_s), abs=0.002)
        assert c.duration / 1e6 == pytest.approx(sum(book.durations_s), abs=0.05)
        audio = c.streams.audio[0]
        assert (audio.codec_context.name, audio.rate, audio.channels) == ("aac", 22050, 1)
        pics = [s for s in c.streams if s.disposition & av.stream.Disposition.attached_pic]
        assert len(pics) == 1
        tags = c.metadata
        assert (tags["title"], tags["album"], tags["artist"], tags["album_artist"]) == (
            "The Time Machine",
            "The Time Machine",
            "H. G. Wells",
            "H. G. Wells",
        )
        assert (tags["composer"], tags["genre"], tags["date"]) == (NARRATOR, "Audiobook", "1895")
    decoded = measure_file(book.m4b).true_peak_dbtp  # PyAV reading the file back
    assert decoded <= -3.0
    assert book.m4b_true_peak_dbtp == pytest.approx(decoded, abs=0.01), (
        "the writer measured what the file holds"
    )


def test_limiter_holds_true_peak_and_length() -> None:
    fs = 44100
    t = np.arange(fs * 2) / fs
    x = (1.4 * np.sin(2 * np.pi * (fs / 4) * t + np.pi / 4) * (t > 0.5) * (t < 1.0)).astype(
        np.float32
    )
    x += (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    limiter = TruePeakLimiter(-3.5, fs)
    out = np.concatenate(
        [limiter.push(x[i : i + 7000]) for i in range(0, len(x), 7000)] + [limiter.finish()]
    )
    assert len(out) == len(x)
    assert true_peak_dbtp(out) <= -3.5 + 0.05
    quiet = slice(int(1.3 * fs), int(1.9 * fs))
    assert np.allclose(out[quiet], x[quiet], atol=1e-6)  # untouched away from the burst


def test_room_tone_is_seeded_continuous_and_at_its_level() -> None:
    n = ROOM_TONE_LOOP_SAMPLES
    whole = RoomTone(-72.0, seed=7).next(n + n // 2)
    tone = RoomTone(-72.0, seed=7)
    assert np.array_equal(whole, np.concatenate([tone.next(k) for k in (1000, n, n // 2 - 1000)]))
    assert rms_db(whole) == pytest.approx(-72.0, abs=0.1)
    assert not np.array_equal(RoomTone(-72.0, seed=8).next(1000), whole[:1000])


def test_empty_plans_and_missing_segment(tmp_path) -> None:
    plans, store = make_book(tmp_path, chapters=1, seg_s=(1.0,))
    with pytest.raises(ValueError):
        assemble_book([], store, META, None, tmp_path / "out", config("mp3"))
    store.path(plans[0].segments[0].id).unlink()
    with pytest.raises(EncodingError, match="no stored audio"):
        assemble_book(plans, store, META, None, tmp_path / "out", config("mp3"))
    assert not list((tmp_path / "out").rglob("*.mp3"))


def test_encoder_failure_leaves_no_partial_files(tmp_path) -> None:
    plans, store = make_book(tmp_path, chapters=1, seg_s=(1.0,))
    with pytest.raises(EncodingError, match="M4B"):
        assemble_book(
            plans,
            store,
            META,
            Cover(b"not an image", "image/jpeg"),
            tmp_path / "out",
            config("m4b", "mp3"),
        )
    assert list((tmp_path / "out").rglob("*")) == []


def test_a_short_peaky_chapter_still_reaches_the_rms_target_after_limiting(tmp_path) -> None:
    """One short segment of quiet speech with loud spikes, in its room tone: the gain that
    puts the unlimited RMS at -19 dB drives the spikes far over the ceiling, and the
    limiter took the RMS to -22.1 dB (a real one-line chapter came out at -23.04, under
    ACX's -23); the gain is raised until the limited RMS is on target."""
    store = SegmentStore(tmp_path / "segments")
    audio = speech_like(2.0, seed=4) * 0.1
    audio[:: RATE // 4] = 0.9
    store.put("spiky", audio.astype(np.float32), RATE)
    plan = ChapterPlan(
        1, "Short", 5, (Segment("spiky", 1, 0, SegmentKind.BODY, "words", "joe", "piper", 0),)
    )
    book = assemble_book(
        [plan], store, META, None, tmp_path / "out", config("flac"), narrator=NARRATOR
    )
    m = measure_file(book.files["flac"][0])
    assert m.rms_db == pytest.approx(-19.0, abs=0.5) and m.true_peak_dbtp <= -3.0
