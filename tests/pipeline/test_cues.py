"""Sentence cues and subtitles against a real chapter: Piper speech, mastered by assembly.

A title and two paragraphs are synthesized with the bundled voice, mastered to WAV by
``pipeline.assemble.master_chapter``, and the cue times are checked against the levels
of that mastered file (10 ms frames at 44.1 kHz), not against the code that made them.
"""

from __future__ import annotations

import html
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import webvtt

from pipeline.assemble import BookInfo, MasteredChapter, master_chapter, master_rate
from pipeline.audio import SPEECH_THRESHOLD_DBFS
from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.cues import Cue, chapter_cues, segment_spans, to_srt, to_webvtt, write_subtitles
from pipeline.errors import EncodingError
from pipeline.models import Block, BlockKind, Chapter, ChapterPlan, SegmentKind
from pipeline.segment import VoiceKey, segment_chapter, split_sentences
from pipeline.store import SegmentStore
from pipeline.tts import engine_settings, load_engine

PARAGRAPHS = (
    "The night was cold and clear. Stars hung over the harbour like lamps. Nobody spoke.",
    "“Où est Zoë?” asked the captain, frowning. She had gone ashore at noon.",
)
FRAME_S = 0.01  # level frames of the mastered file


@dataclass(frozen=True)
class Built:
    plan: ChapterPlan
    store: SegmentStore
    config: PipelineConfig
    rate_hz: int
    chapter: MasteredChapter
    audio: np.ndarray  # the mastered WAV, mono float64
    file_rate_hz: int


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("cues")
    voice = VoiceConfig()
    config = PipelineConfig().with_overrides(output={"formats": ["wav"]})
    chapter = Chapter(1, "Chapter One", tuple(Block(BlockKind.PARAGRAPH, p) for p in PARAGRAPHS))
    key = VoiceKey(voice.engine, voice.narrator, engine_settings(voice))
    plan = segment_chapter(chapter, config, {"narrator": key})
    store = SegmentStore(root / "segments")
    engine = load_engine(voice, threads=1)
    for seg in plan.segments:
        store.put(seg.id, engine.synthesize(seg.text), engine.sample_rate_hz)
    rate = master_rate([plan], store)
    mastered = master_chapter(plan, store, root / "out", config, BookInfo("T", "A"), rate_hz=rate)
    audio, file_rate = sf.read(mastered.files["wav"], dtype="float64")
    return Built(plan, store, config, rate, mastered, audio, file_rate)


def level_db(audio: np.ndarray, rate_hz: int, a_s: float, b_s: float) -> float:
    x = audio[round(a_s * rate_hz) : round(b_s * rate_hz)]
    return 10 * float(np.log10(np.mean(x**2) + 1e-30))


def crossings(b: Built, threshold_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) where 10 ms frames of the mastered file go quiet->speech and back."""
    frame = round(FRAME_S * b.file_rate_hz)
    k = len(b.audio) // frame
    db = 10 * np.log10((b.audio[: k * frame].reshape(k, frame) ** 2).mean(axis=1) + 1e-30)
    loud = db >= threshold_db
    onsets = (np.flatnonzero(loud[1:] & ~loud[:-1]) + 1) * FRAME_S
    offsets = (np.flatnonzero(~loud[1:] & loud[:-1]) + 1) * FRAME_S
    return onsets, offsets


def test_the_chapter_is_a_title_and_two_multi_sentence_segments(built: Built) -> None:
    kinds = [s.kind for s in built.plan.segments]
    assert kinds == [SegmentKind.TITLE, SegmentKind.BODY, SegmentKind.BODY]
    assert [len(split_sentences(s.text)) for s in built.plan.segments] == [1, 3, 2]


def test_segment_spans_are_where_the_mastered_file_has_speech(built: Built) -> None:
    spans = segment_spans(built.plan, built.store, built.config, built.rate_hz)
    assert len(spans) == len(built.plan.segments)
    m = built.config.mastering
    assert spans[0][0] == pytest.approx(m.head_room_tone_ms / 1000, abs=1 / built.rate_hz)
    for (a, b), seg in zip(spans, built.plan.segments):
        assert b - a == pytest.approx(built.store.duration_s(seg.id), abs=1 / built.rate_hz)
        assert level_db(built.audio, built.file_rate_hz, a, b) > -45.0, (a, b)
    for (_, b), (a, _), seg in zip(spans, spans[1:], built.plan.segments):
        assert a - b == pytest.approx(seg.pause_after_ms / 1000, abs=1 / built.rate_hz)
    edges = [0.0, *(t for span in spans for t in span), len(built.audio) / built.file_rate_hz]
    for a, b in zip(edges[::2], edges[1::2]):  # head tone, every pause, tail tone
        assert level_db(built.audio, built.file_rate_hz, a, b) < -55.0, (a, b)
    # the tail tone fills the rest of the file exactly
    end_s = spans[-1][1] + m.tail_room_tone_ms / 1000
    assert end_s == pytest.approx(built.chapter.duration_s, abs=2 / built.rate_hz)


def test_cues_are_the_sentences_in_order_with_paragraph_marks(built: Built) -> None:
    cues = chapter_cues(built.plan, built.store, built.config, built.rate_hz)
    expected = [(s, seg.index) for seg in built.plan.segments for s in split_sentences(seg.text)]
    assert [(c.text, c.segment_index) for c in cues] == expected
    assert [c.new_paragraph for c in cues] == [True, True, False, False, True, False]
    spans = segment_spans(built.plan, built.store, built.config, built.rate_hz)
    previous_end = 0.0
    for cue in cues:
        a, b = spans[cue.segment_index]
        assert previous_end <= cue.start_s < cue.end_s and a <= cue.start_s and cue.end_s <= b
        previous_end = cue.end_s


def test_cue_times_match_speech_onsets_and_ends_in_the_mastered_file(built: Built) -> None:
    """Cues are trimmed at -50 dBFS on the stored audio; mastering lifts that level by its
    gain, so the same speech edges show at -50 + gain in the mastered file."""
    cues = chapter_cues(built.plan, built.store, built.config, built.rate_hz)
    threshold = SPEECH_THRESHOLD_DBFS + built.chapter.gain_db
    onsets, offsets = crossings(built, threshold)
    rate = built.file_rate_hz
    for cue in cues:
        assert np.abs(onsets - cue.start_s).min() <= 0.05, cue
        assert np.abs(offsets - cue.end_s).min() <= 0.05, cue
        # no speech in the 100 ms before a cue or after it: the cue holds all of it
        assert level_db(built.audio, rate, cue.start_s - 0.1, cue.start_s) < threshold, cue
        assert level_db(built.audio, rate, cue.end_s, cue.end_s + 0.1) < threshold, cue
        assert level_db(built.audio, rate, cue.start_s, cue.end_s) > threshold + 15, cue


def test_sentence_boundaries_inside_a_segment_fall_in_a_quiet_stretch(built: Built) -> None:
    """Between two sentences of one segment Piper leaves silence, which mastering fills
    with room tone (-72 dB): the stretch between the cues is at least 150 ms long and
    holds 100 ms at room-tone level."""
    cues = chapter_cues(built.plan, built.store, built.config, built.rate_hz)
    pairs = [(c, d) for c, d in zip(cues, cues[1:]) if c.segment_index == d.segment_index]
    assert len(pairs) == 3
    rate = built.file_rate_hz
    for c, d in pairs:
        assert d.start_s - c.end_s >= 0.15, (c, d)
        gap = built.audio[round(c.end_s * rate) : round(d.start_s * rate)]
        win = round(0.1 * rate)
        power = np.convolve(gap**2, np.ones(win) / win, mode="valid")
        assert 10 * np.log10(power.min()) < -60.0, (c, d)


TS_VTT = r"\d{2}:\d{2}:\d{2}\.\d{3}"
TS_SRT = r"\d{2}:\d{2}:\d{2},\d{3}"
VTT_CUE = rf"\n({TS_VTT}) --> ({TS_VTT})\n([^\n]+)\n"
SRT_CUE = rf"(\d+)\n({TS_SRT}) --> ({TS_SRT})\n([^\n]+)\n"
VTT_FILE = re.compile(rf"WEBVTT\n(?:{VTT_CUE})*")
SRT_FILE = re.compile(rf"(?:{SRT_CUE}(?:\n{SRT_CUE})*)?")


def ms(stamp: str) -> int:
    h, m, s, f = map(int, re.split(r"[:.,]", stamp))
    return ((h * 60 + m) * 60 + s) * 1000 + f


def strict_parse(text: str, srt: bool) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, line) of each cue of a file that is exactly in the layout
    promised (one text line per cue, SRT numbered from 1); fails on anything else."""
    assert (SRT_FILE if srt else VTT_FILE).fullmatch(text), text
    if srt:
        found = re.findall(SRT_CUE, text)
        assert [int(n) for n, *_ in found] == list(range(1, len(found) + 1))
        return [(ms(a), ms(b), t) for _, a, b, t in found]
    return [(ms(a), ms(b), t) for a, b, t in re.findall(VTT_CUE, text)]


def assert_times(parsed: list[tuple[int, int]], cues: list[Cue]) -> None:
    assert len(parsed) == len(cues)
    for (a, b), cue in zip(parsed, cues):
        assert abs(a - cue.start_s * 1000) <= 0.5 and abs(b - cue.end_s * 1000) <= 0.5


def test_real_cues_read_back_from_webvtt_and_srt(built: Built) -> None:
    cues = chapter_cues(built.plan, built.store, built.config, built.rate_hz)
    vtt, srt = to_webvtt(cues), to_srt(cues)
    assert vtt.startswith("WEBVTT\n\n")
    ours = strict_parse(vtt, srt=False)
    assert_times([(a, b) for a, b, _ in ours], cues)
    assert [t for _, _, t in ours] == [c.text for c in cues]
    lib = webvtt.from_string(vtt, strict=True)
    assert_times(
        [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in lib], cues
    )
    assert_times([(a, b) for a, b, _ in strict_parse(srt, srt=True)], cues)
    lib_srt = webvtt.from_buffer(io.StringIO(srt), format="srt")
    assert [c.text for c in lib_srt] == [c.text for c in cues]


AWKWARD = [
    Cue(0.5, 1.25, "Well, “quoted” and ‘single’, Zoë’s café in Zürich — naïve."),
    Cue(1.25, 2.0, "Line\n  broken\tby   spaces, then a --> arrow & <b>tag</b>."),
    Cue(3661.0015, 3662.9994, '"Straight quotes," she said. 1984.'),
]


def test_awkward_text_round_trips_on_one_line() -> None:
    vtt, srt = to_webvtt(AWKWARD), to_srt(AWKWARD)
    collapsed = [" ".join(c.text.split()) for c in AWKWARD]
    ours = strict_parse(vtt, srt=False)
    assert [(a, b) for a, b, _ in ours] == [(500, 1250), (1250, 2000), (3661002, 3662999)]
    assert "-->" not in "".join(t for _, _, t in ours) and "<b>" not in vtt
    assert [html.unescape(t) for _, _, t in ours] == collapsed
    lib = webvtt.from_string(vtt, strict=True)
    assert [html.unescape(c.raw_text) for c in lib] == collapsed
    assert str(lib[2].start_time) == "01:01:01.002"

    srt_cues = strict_parse(srt, srt=True)
    assert [(a, b) for a, b, _ in srt_cues] == [(500, 1250), (1250, 2000), (3661002, 3662999)]
    srt_text = [t.replace("<", "‹").replace(">", "›") for t in collapsed]
    assert [t for _, _, t in srt_cues] == srt_text
    assert [c.text for c in webvtt.from_buffer(io.StringIO(srt), format="srt")] == srt_text


@pytest.mark.parametrize(
    "cues",
    [
        [Cue(1.0, 1.0, "empty span")],
        [Cue(2.0, 1.0, "backwards")],
        [Cue(0.0, 2.0, "a"), Cue(1.5, 3.0, "overlaps")],
        [Cue(-0.1, 1.0, "before the file")],
        [Cue(0.0, 1.0, " \n ")],
    ],
    ids=["empty", "backwards", "overlap", "negative", "no-text"],
)
def test_bad_cues_are_refused(cues: list[Cue], tmp_path: Path) -> None:
    for write in (to_webvtt, to_srt):
        with pytest.raises(ValueError):
            write(cues)
    with pytest.raises(ValueError):
        write_subtitles(cues, tmp_path, "chapter")
    assert list(tmp_path.iterdir()) == []


def test_write_subtitles_writes_both_files_atomically(tmp_path: Path) -> None:
    vtt_path, srt_path = write_subtitles(AWKWARD, tmp_path / "subs", "01 - Chapter One")
    assert (vtt_path, srt_path) == (
        tmp_path / "subs" / "01 - Chapter One.vtt",
        tmp_path / "subs" / "01 - Chapter One.srt",
    )
    assert vtt_path.read_bytes() == to_webvtt(AWKWARD).encode("utf-8")
    assert srt_path.read_bytes() == to_srt(AWKWARD).encode("utf-8")
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == [
        "01 - Chapter One.srt",
        "01 - Chapter One.vtt",
    ]
    for stem in ("", "a/b", ".."):
        with pytest.raises(ValueError, match="stem"):
            write_subtitles(AWKWARD, tmp_path, stem)


def test_a_missing_segment_raises_encoding_error(built: Built, tmp_path: Path) -> None:
    store = SegmentStore(tmp_path / "segments")
    first, missing = built.plan.segments[0], built.plan.segments[1]
    shutil.copy(built.store.path(first.id), store.path(first.id))
    for call in (segment_spans, chapter_cues):
        with pytest.raises(EncodingError, match=missing.id):
            call(built.plan, store, built.config, built.rate_hz)
