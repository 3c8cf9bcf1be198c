"""Sentence timings of a chapter's audio: cues for subtitles and read-along.

A :class:`Cue` is one sentence as the listener hears it, timed in seconds from the start
of the chapter's audio file (the mastered chapter: head room tone first).

Where a segment sits in the chapter file is known exactly, from the stored segments'
FLAC headers and the plan's pauses, laid out as :mod:`pipeline.assemble` lays them
(:func:`segment_spans`). Inside a segment of several sentences the sentence boundaries
are first estimated by characters, then snapped to the quietest 30 ms of the segment's
audio near the estimate: Piper synthesizes sentence by sentence and joins them with
silence (``pipeline.tts.piper.SENTENCE_GAP_MS``), so the snap lands in that gap. Each
cue is then trimmed to where speech starts and ends (10 ms frames at or above
:data:`pipeline.audio.SPEECH_THRESHOLD_DBFS`, the rule the validate stage uses for room
tone), so it never includes the pause around it (:func:`chapter_cues`).

Subtitles are written with webvtt-py (MIT): :func:`to_webvtt` (W3C WebVTT) and
:func:`to_srt` (SubRip as SubRip writes it), and both files at once by
:func:`write_subtitles`.
"""

from __future__ import annotations

import html
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import webvtt
from webvtt.models import Timestamp

from pipeline.assemble import require_stored, segment_audio
from pipeline.audio import SPEECH_THRESHOLD_DBFS, db_to_amplitude
from pipeline.config import PipelineConfig
from pipeline.models import ChapterPlan, Segment, SegmentKind
from pipeline.segment import split_sentences
from pipeline.store import SegmentStore

SNAP_RANGE_S = 0.6  # a boundary moves at most this far from its character estimate
SNAP_WINDOW_MS = 30.0  # RMS window of the quietest-point search ...
SNAP_HOP_MS = 5.0  # ... and its hop
SPEECH_FRAME_MS = 10.0  # frames of the speech/silence test (as pipeline.audio's head/tail tone)
_SPEECH_MS = db_to_amplitude(SPEECH_THRESHOLD_DBFS) ** 2  # mean square of the threshold


@dataclass(frozen=True)
class Cue:
    """One sentence of a chapter: heard from ``start_s`` to ``end_s`` (seconds from the
    start of the chapter's audio file, ``0 <= start_s < end_s``); ``text`` is the
    sentence as it is spoken (the segment's speakable text); ``new_paragraph`` is True
    for the first sentence of a paragraph (and of the chapter); ``segment_index`` is the
    position in the chapter plan of the segment the sentence belongs to."""

    start_s: float
    end_s: float
    text: str
    new_paragraph: bool = False
    segment_index: int = 0


def _sample_spans(
    plan: ChapterPlan, store: SegmentStore, config: PipelineConfig, rate_hz: int
) -> list[tuple[int, int]]:
    """Each segment's ``[start, end)`` in samples at ``rate_hz`` in the chapter file."""
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be positive (got {rate_hz})")
    require_stored(plan, store)
    pos = round(config.mastering.head_room_tone_ms * rate_hz / 1000)
    spans = []
    last = len(plan.segments) - 1
    for i, seg in enumerate(plan.segments):
        info = sf.info(str(store.path(seg.id)))
        n = round(info.frames * rate_hz / info.samplerate)
        spans.append((pos, pos + n))
        pos += n
        if i < last:
            pos += round(seg.pause_after_ms * rate_hz / 1000)
    return spans


def segment_spans(
    plan: ChapterPlan, store: SegmentStore, config: PipelineConfig, rate_hz: int
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of each segment's audio in the mastered chapter file, in plan
    order, in seconds from the file's start.

    Laid out exactly as :func:`pipeline.assemble.master_chapter` renders the chapter: the
    head room tone (``config.mastering.head_room_tone_ms``), then each segment's audio
    (its FLAC header's frame count taken to ``rate_hz`` as ``round(frames * rate_hz /
    samplerate)``) followed by its ``pause_after_ms`` (none after the last), each rounded
    to whole samples at ``rate_hz`` (the mastering rate, see
    :func:`pipeline.assemble.master_rate`); seconds are samples / ``rate_hz``. Reads file
    headers only. Raises :class:`EncodingError` when a segment has no stored audio,
    ValueError for a plan without segments or a rate that is not positive.
    """
    return [(a / rate_hz, b / rate_hz) for a, b in _sample_spans(plan, store, config, rate_hz)]


def _speech_extent(x: np.ndarray, lo: int, hi: int, rate_hz: int) -> tuple[int, int] | None:
    """``[start, end)`` of the speech in ``x[lo:hi]``: from the first to the end of the
    last :data:`SPEECH_FRAME_MS` frame (counted from ``lo``) whose RMS is at or above
    :data:`SPEECH_THRESHOLD_DBFS`; None when no frame is."""
    frame = max(1, round(SPEECH_FRAME_MS * rate_hz / 1000))
    n = hi - lo
    if n <= 0:
        return None
    k = -(-n // frame)
    sq = np.zeros(k * frame)
    sq[:n] = x[lo:hi].astype(np.float64) ** 2
    sizes = np.minimum(frame, n - np.arange(k) * frame)
    loud = np.flatnonzero(sq.reshape(k, frame).sum(axis=1) / sizes >= _SPEECH_MS)
    if not len(loud):
        return None
    return lo + int(loud[0]) * frame, min(hi, lo + (int(loud[-1]) + 1) * frame)


def _quietest(x: np.ndarray, lo: int, hi: int, rate_hz: int) -> int | None:
    """Centre of the quietest :data:`SNAP_WINDOW_MS` window (hop :data:`SNAP_HOP_MS`)
    lying inside ``x[lo:hi]``; the middle of the run when several in a row are as quiet
    (a stretch of digital silence). None when no window fits."""
    win = max(1, round(SNAP_WINDOW_MS * rate_hz / 1000))
    hop = max(1, round(SNAP_HOP_MS * rate_hz / 1000))
    if hi - lo < win:
        return None
    c = np.concatenate(([0.0], np.cumsum(x[lo:hi].astype(np.float64) ** 2)))
    starts = np.arange(0, hi - lo - win + 1, hop)
    energy = c[starts + win] - c[starts]
    best = int(np.argmin(energy))
    quiet = energy <= energy[best] * (1 + 1e-6) + 1e-12
    first = last = best
    while first > 0 and quiet[first - 1]:
        first -= 1
    while last < len(quiet) - 1 and quiet[last + 1]:
        last += 1
    return lo + int(starts[(first + last) // 2]) + win // 2


def _boundaries(x: np.ndarray, s0: int, s1: int, sentences: list[str], rate_hz: int) -> list[int]:
    """``k + 1`` strictly increasing sample positions from ``s0`` to ``s1`` cutting the
    speech ``x[s0:s1]`` into the ``k`` sentences: estimated by characters, then each
    inner one snapped to :func:`_quietest` within :data:`SNAP_RANGE_S` of its estimate,
    after the boundary before it and before the next estimate."""
    total = sum(len(s) for s in sentences)
    cum = np.cumsum([len(s) for s in sentences])[:-1]
    estimates = [s0 + round((s1 - s0) * int(c) / total) for c in cum]
    reach = round(SNAP_RANGE_S * rate_hz)
    k = len(sentences)
    bounds = [s0]
    for j, est in enumerate(estimates, start=1):
        floor = bounds[-1] + 1
        ceiling = max(floor, min(estimates[j] if j < len(estimates) else s1, s1 - (k - j)))
        snapped = _quietest(x, max(floor, est - reach), min(ceiling, est + reach), rate_hz)
        bounds.append(min(max(snapped if snapped is not None else est, floor), ceiling))
    return bounds + [s1]


def _segment_cues(
    x: np.ndarray, seg: Segment, offset: int, rate_hz: int
) -> list[tuple[int, int, str]]:
    """(start, end, sentence) in chapter samples for one segment whose audio ``x`` starts
    at sample ``offset`` of the chapter."""
    sentences = split_sentences(seg.text)
    if not sentences:
        return []
    extent = _speech_extent(x, 0, len(x), rate_hz) or (0, len(x))
    s0, s1 = extent
    if len(sentences) == 1 or s1 - s0 < len(sentences):
        return [(offset + s0, offset + s1, " ".join(sentences))] if s1 > s0 else []
    bounds = _boundaries(x, s0, s1, sentences, rate_hz)
    cues: list[tuple[int, int, str]] = []
    carried = ""  # sentences with no speech between their boundaries, not yet placed
    for sentence, lo, hi in zip(sentences, bounds, bounds[1:]):
        heard = _speech_extent(x, lo, hi, rate_hz)
        if heard is None:
            # the snap put this (short) sentence's words in a neighbour: it joins that cue
            if cues:
                a, b, text = cues[-1]
                cues[-1] = (a, b, f"{text} {sentence}")
            else:
                carried = f"{carried} {sentence}".strip()
            continue
        text = f"{carried} {sentence}".strip()
        carried = ""
        cues.append((offset + heard[0], offset + heard[1], text))
    if carried:  # no sentence of the segment had speech of its own
        return [(offset + s0, offset + s1, " ".join(sentences))]
    return cues


def chapter_cues(
    plan: ChapterPlan, store: SegmentStore, config: PipelineConfig, rate_hz: int
) -> list[Cue]:
    """One :class:`Cue` per sentence of the chapter, in order, timed in the mastered
    chapter file (see :func:`segment_spans`; ``rate_hz`` is the mastering rate).

    Sentences are :func:`pipeline.segment.split_sentences` of each segment's text. A
    one-sentence segment is one cue over the segment's speech; in a longer one the
    boundaries are estimated by characters and snapped to the quietest point (lowest RMS
    over 30 ms, 5 ms hop) within +-0.6 s of the estimate, between its neighbours (see
    module doc); a sentence left with no speech between its boundaries (a short one whose
    words the snap gave a neighbour) joins the neighbouring cue. Every cue is trimmed to
    its speech: leading and trailing 10 ms frames
    under :data:`pipeline.audio.SPEECH_THRESHOLD_DBFS` (-50 dBFS, measured on the stored
    audio before mastering gain) are left out. Cues do not overlap and ``start_s <
    end_s``. ``new_paragraph`` marks the chapter's first cue and the first cue of a
    segment after a title segment or after a pause of at least
    ``config.pauses.paragraph_ms``; ``segment_index`` is the segment's ``index``.

    Reads each segment's audio, one at a time. Raises :class:`EncodingError` when a
    segment has no stored audio, ValueError for a plan without segments.
    """
    spans = _sample_spans(plan, store, config, rate_hz)
    cues: list[Cue] = []
    previous: Segment | None = None
    for seg, (start, end) in zip(plan.segments, spans):
        x = segment_audio(store, seg, rate_hz)[: end - start]
        opens = previous is None or (
            previous.kind is SegmentKind.TITLE
            or previous.pause_after_ms >= config.pauses.paragraph_ms
        )
        for j, (a, b, text) in enumerate(_segment_cues(x, seg, start, rate_hz)):
            cues.append(Cue(a / rate_hz, b / rate_hz, text, opens and j == 0, seg.index))
        previous = seg
    if cues:
        cues[0] = Cue(cues[0].start_s, cues[0].end_s, cues[0].text, True, cues[0].segment_index)
    return cues


def _checked(cues: list[Cue]) -> None:
    """Raise ValueError unless the cues are timed in order and each has visible text."""
    previous_end = 0.0
    for n, cue in enumerate(cues, start=1):
        if not (previous_end <= cue.start_s < cue.end_s):
            raise ValueError(
                f"cue {n} ({cue.start_s:.3f}-{cue.end_s:.3f} s) must start at or after "
                f"{previous_end:.3f} s and end after it starts"
            )
        if not cue.text.split():
            raise ValueError(f"cue {n} has no text")
        previous_end = cue.end_s


def _caption(cue: Cue, text: str) -> webvtt.Caption:
    start, end = Timestamp.from_seconds(cue.start_s), Timestamp.from_seconds(cue.end_s)
    return webvtt.Caption(str(start), str(end), text)


def to_webvtt(cues: list[Cue]) -> str:
    """The cues as a W3C WebVTT file (https://www.w3.org/TR/webvtt1/), written by
    webvtt-py: ``WEBVTT``, then per cue a blank line, ``HH:MM:SS.mmm --> HH:MM:SS.mmm``
    (times rounded to the millisecond, halves up) and the text on one line, whitespace
    collapsed, with ``&``, ``<`` and ``>`` escaped as ``&amp;``, ``&lt;``, ``&gt;`` (the
    spec's cue-text escapes, so ``-->`` cannot occur and the text reads back exactly).
    Raises ValueError when cues overlap, are out of order, have ``end_s <= start_s``, a
    negative time, or no text."""
    _checked(cues)
    captions = [_caption(c, html.escape(" ".join(c.text.split()), quote=False)) for c in cues]
    return webvtt.WebVTT(captions=captions).content


def to_srt(cues: list[Cue]) -> str:
    """The cues as a SubRip file, as SubRip writes it (webvtt-py's writer): per cue its
    number from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` (milliseconds rounded, halves up),
    the text on one line with whitespace collapsed, and a blank line between cues. SRT
    has no escapes and players read ``<i>``-style tags, so ``<`` and ``>`` are written as
    ``‹`` and ``›`` (which also makes ``-->`` impossible in the text). Raises ValueError
    like :func:`to_webvtt`."""
    _checked(cues)
    captions = [
        _caption(c, " ".join(c.text.split()).replace("<", "‹").replace(">", "›")) for c in cues
    ]
    out = io.StringIO()
    webvtt.WebVTT(captions=captions).write(out, format="srt")
    return out.getvalue() + "\n" if captions else ""


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_subtitles(cues: list[Cue], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write ``out_dir/<stem>.vtt`` (:func:`to_webvtt`) and ``out_dir/<stem>.srt``
    (:func:`to_srt`), UTF-8, each atomically (a temporary name, then ``os.replace``), and
    return ``(vtt_path, srt_path)``. ``out_dir`` is created when missing. Raises
    ValueError for bad cues (nothing is written then) or a ``stem`` that is empty or
    holds a path separator; OSError when the folder is not writable."""
    if not stem or Path(stem).name != stem or stem in (".", ".."):
        raise ValueError(f"subtitle file stem must be a plain file name (got {stem!r})")
    vtt, srt = to_webvtt(cues), to_srt(cues)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / f"{stem}.vtt", out_dir / f"{stem}.srt"
    for path, text in zip(paths, (vtt, srt)):
        _write_atomic(path, text)
    return paths
