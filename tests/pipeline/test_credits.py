"""ACX credits (text, then real Piper speech heard back by Whisper) and the retail sample
cut from two really mastered chapters (synthetic speech, 3 and 4 minutes), decoded back."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen.id3 import ID3
from scipy.signal import correlate

from pipeline.assemble import AssembledBook, assemble_book
from pipeline.audio import iter_blocks, rms_db
from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.credits import (
    CLOSING_TITLE,
    OPENING_TITLE,
    closing_credits,
    opening_credits,
    write_retail_sample,
)
from pipeline.encode import Mp3Writer, Tags
from pipeline.models import (
    BlockKind,
    BookMetadata,
    ChapterPlan,
    Segment,
    SegmentKind,
)
from pipeline.segment import VoiceKey, segment_chapter
from pipeline.store import SegmentStore
from pipeline.transcribe import transcribe
from pipeline.tts import engine_settings, load_engine
from pipeline.validate import mp3_format_checks
from tests.synthetic import speech_like

NARRATOR = "Joe Reader"
META = BookMetadata(
    title="The Time Machine", author="H. G. Wells", series="Wellsian Tales", series_part="2"
)
RATE = 44100


# --- credits text -----------------------------------------------------------------------


def test_opening_credits_from_full_metadata() -> None:
    chapter = opening_credits(META, NARRATOR)
    assert (chapter.index, chapter.title) == (0, OPENING_TITLE)
    assert [b.kind for b in chapter.blocks] == [BlockKind.PARAGRAPH]
    assert chapter.text == (
        "The Time Machine. Wellsian Tales, book 2. Written by H. G. Wells. Narrated by Joe Reader."
    )


def test_closing_credits_from_full_metadata() -> None:
    chapter = closing_credits(META, NARRATOR, index=13)
    assert (chapter.index, chapter.title, len(chapter.blocks)) == (13, CLOSING_TITLE, 1)
    assert chapter.text == (
        "This has been The Time Machine. Wellsian Tales, book 2. Written by H. G. Wells. "
        "Narrated by Joe Reader. The end."
    )


def test_credits_from_partial_metadata() -> None:
    bare = BookMetadata(title="Frankenstein")
    assert opening_credits(bare, "Ann Lee").text == "Frankenstein. Narrated by Ann Lee."
    assert closing_credits(bare, "Ann Lee", 4).text == (
        "This has been Frankenstein. Narrated by Ann Lee. The end."
    )
    no_part = BookMetadata(title="Who Goes There?", author="John W. Campbell", series="Tales")
    assert opening_credits(no_part, " Ann  Lee ").text == (
        "Who Goes There? From the series Tales. Written by John W. Campbell. Narrated by Ann Lee."
    )
    assert closing_credits(no_part, "Ann Lee", 2).text.startswith("This has been Who Goes There? ")


def test_credits_refuse_what_acx_needs_and_is_missing() -> None:
    with pytest.raises(ValueError, match="title"):
        opening_credits(BookMetadata(author="Someone"), NARRATOR)
    with pytest.raises(ValueError, match="narrator"):
        closing_credits(META, "  ", 3)
    with pytest.raises(ValueError, match="after the book's chapters"):
        closing_credits(META, NARRATOR, 0)


def test_opening_credits_are_spoken_by_the_real_voice() -> None:
    voice = VoiceConfig()
    keys = {"narrator": VoiceKey(voice.engine, voice.narrator, engine_settings(voice))}
    chapter = opening_credits(META, NARRATOR)
    spoken_title = segment_chapter(chapter, PipelineConfig(), keys)
    assert (spoken_title.segments[0].kind, spoken_title.segments[0].text) == (
        SegmentKind.TITLE,
        OPENING_TITLE,
    )  # the segment stage reads a chapter title aloud unless told not to
    plan = segment_chapter(chapter, PipelineConfig(speak_chapter_titles=False), keys)
    assert plan.index == 0 and plan.segments
    assert all(s.kind is SegmentKind.BODY for s in plan.segments)
    assert " ".join(s.text for s in plan.segments) == chapter.text
    engine = load_engine(voice)
    audio = np.concatenate([engine.synthesize(s.text) for s in plan.segments])
    assert 3.0 < len(audio) / engine.sample_rate_hz < 15.0
    heard = re.sub(r"[^a-z ]+", " ", transcribe(audio, engine.sample_rate_hz).lower())
    for words in ("time machine", "wells", "narrated by"):
        assert words in " ".join(heard.split()), heard


# --- retail sample ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mastered(tmp_path_factory) -> tuple[AssembledBook, Path]:
    """Two mastered MP3 chapters: about 3 and 4 minutes of synthetic speech."""
    root = tmp_path_factory.mktemp("sample")
    store = SegmentStore(root / "segments")
    plans = []
    for c, count in ((1, 9), (2, 12)):
        segs = []
        for i in range(count):
            sid = f"c{c}s{i}"
            store.put(sid, speech_like(19.5, seed=10 * c + i), 22050)
            segs.append(Segment(sid, c, i, SegmentKind.BODY, "words", "joe", "piper", 700))
        plans.append(ChapterPlan(c, f"Chapter {c}", 500, tuple(segs)))
    config = PipelineConfig().with_overrides(output={"formats": ["mp3"]})
    book = assemble_book(plans, store, META, None, root / "out", config, narrator=NARRATOR)
    assert 170 < book.durations_s[0] < 190 and 230 < book.durations_s[1] < 250
    return book, root


def decode(path: Path) -> np.ndarray:
    rate, blocks = iter_blocks(path)
    assert rate == RATE
    return np.concatenate(list(blocks))


def best_lag(y: np.ndarray, x: np.ndarray, max_lag: int = 4096) -> tuple[int, float]:
    """The delay of ``x`` inside ``y`` (0..max_lag samples, the largest dot product) and
    their correlation coefficient there."""
    n = len(x)
    lag = int(np.argmax(correlate(y[: n + max_lag - 1], x, mode="valid", method="fft")))
    return lag, float(np.corrcoef(y[lag : lag + n], x)[0, 1])


def test_retail_sample_is_five_minutes_of_acx_mp3(mastered) -> None:
    book, root = mastered
    out = write_retail_sample(book.files["mp3"], root / "sample.mp3")
    assert out == root / "sample.mp3"
    checks = mp3_format_checks(out, 192, RATE)
    assert all(c.passed for c in checks), checks
    # LAME delays the audio by 1105 samples and pads the last frame: at most 52 ms more.
    assert len(decode(out)) / RATE == pytest.approx(300.0, abs=0.05)
    id3 = ID3(out)
    assert (str(id3["TIT2"]), str(id3["TALB"]), str(id3["TPE1"]), str(id3["TCOM"])) == (
        "The Time Machine (sample)",
        "The Time Machine",
        "H. G. Wells",
        NARRATOR,
    )


def test_retail_sample_is_the_chapters_start_then_fades(mastered) -> None:
    book, root = mastered
    out = write_retail_sample(book.files["mp3"], root / "sample.mp3")
    ch1, ch2 = (decode(p) for p in book.files["mp3"])
    n, fade = 300 * RATE, 3 * RATE
    source = np.concatenate((ch1, ch2))[:n]
    sample = decode(out)
    lag, corr = best_lag(sample[: 12 * RATE], source[: 10 * RATE])
    assert corr > 0.99 and lag < 2304  # the first seconds are the first chapter's
    sample = sample[lag : lag + n]
    assert len(sample) == n
    cross = slice(len(ch1), len(ch1) + 10 * RATE)  # chapter 2's first 10 s, inside the sample
    assert np.corrcoef(sample[cross], source[cross])[0, 1] > 0.99
    assert np.corrcoef(sample[: n - fade], source[: n - fade])[0, 1] > 0.99
    # The fade: in each 0.5 s of the last 3 s, the sample is the source times the ramp.
    step = RATE // 2
    ramp, measured = np.linspace(1.0, 0.0, fade), 0
    for k in range(6):
        w = slice(n - fade + k * step, n - fade + (k + 1) * step)
        if rms_db(source[w]) < -45.0:
            continue  # a pause: nothing to measure a gain on
        gain = np.dot(sample[w], source[w]) / np.dot(source[w], source[w])
        g = ramp[k * step : (k + 1) * step]
        assert g.min() - 0.03 <= gain <= g.max() + 0.03, (k, gain)
        measured += 1
    assert measured >= 4
    assert rms_db(sample[-step:]) < rms_db(sample[n - 2 * fade : n - fade]) - 12.0


def test_short_inputs_give_a_shorter_sample_from_any_format(tmp_path) -> None:
    wav = tmp_path / "ten.wav"  # 22050 Hz WAV: decoded by soundfile, resampled to 44.1 kHz
    sf.write(wav, speech_like(10.0, seed=7), 22050, subtype="PCM_16")
    out = write_retail_sample([wav], tmp_path / "short.mp3", seconds=60.0)
    assert all(c.passed for c in mp3_format_checks(out, 192, RATE))
    assert len(decode(out)) / RATE == pytest.approx(10.0, abs=0.06)
    assert str(ID3(out)["TIT2"]) == "Untitled (sample)"


def test_less_than_a_second_is_refused_and_leaves_nothing(tmp_path) -> None:
    half = tmp_path / "half.mp3"
    writer = Mp3Writer(half, RATE, Tags("Half", "Half", "Someone", NARRATOR))
    writer.write(speech_like(0.5, seed=3, rate=RATE))
    writer.close()
    with pytest.raises(ValueError, match="at least 1 s"):
        write_retail_sample([half], tmp_path / "sample.mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half.mp3"]


def test_bad_sample_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="at least one chapter file"):
        write_retail_sample([], tmp_path / "s.mp3")
    with pytest.raises(ValueError, match="bad sample length"):
        write_retail_sample([tmp_path / "x.mp3"], tmp_path / "s.mp3", seconds=2.0, fade_out_s=3.0)
    with pytest.raises(FileNotFoundError, match="x.mp3"):
        write_retail_sample([tmp_path / "x.mp3"], tmp_path / "s.mp3")
