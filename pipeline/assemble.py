"""Assemble stage: stored segments -> mastered chapter files and a chaptered M4B.

Per chapter, in two streaming passes (memory does not grow with chapter or book length):

1. Render: head room tone, each segment's audio followed by its ``pause_after_ms`` (the
   last segment's pause is replaced by the tail room tone), at the engine's native rate
   (Piper: 22050 Hz), into a temporary raw float32 file under ``out_dir/.work/assemble``,
   summing squares on the way. The gain that puts the file's RMS at
   ``mastering.target_rms_db`` follows (ACX RMS -23..-18 dB; default -19, see config).
2. Master: read back in blocks, apply the gain and a true-peak look-ahead limiter
   (4x-oversampled detection, ceiling ``mastering.true_peak_ceiling_dbtp``), then add
   a continuous pink room-tone bed at ``mastering.room_tone_db`` RMS *after* the gain, so
   the noise floor stays there (<= -60 dB) however loud the voice is made. Blocks go to
   the M4B encoder as they are and, upsampled to 44.1 kHz with a streaming soxr
   resampler, to the chapter files (see :mod:`pipeline.encode`).

Pauses are laid down as zeros in pass 1 and become room tone through the bed.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import soundfile as sf
import soxr
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter

from pipeline.audio import (
    BLOCK_SAMPLES, TP_CONTEXT, ContextBlocks, db_to_amplitude, power_to_db, true_peak_envelope_over,
)
from pipeline.config import WORK_DIR, PipelineConfig
from pipeline.encode import M4bWriter, Mp3Writer, SoundFileWriter, Tags, ThreadedSink, safe_filename, slugify
from pipeline.errors import EncodingError
from pipeline.models import BookMetadata, ChapterPlan, Cover
from pipeline.store import SegmentStore

DEFAULT_NARRATOR = "Piper en_US-joe-medium"
MAX_GAIN_DB = 40.0  # never lift a near-silent chapter by more than this
CHAPTER_FORMATS = ("mp3", "wav", "flac")
# AAC coding raises the true peak a little (0.05-0.5 dB measured on Piper speech,
# depending on coder and rate; see encode.M4bWriter). The M4B feed is turned down this
# much so the decoded AAC stays under -3 dBTP with margin; RMS stays inside -23..-18 dB.
AAC_HEADROOM_DB = 1.0
# Paul Kellet / J. O. Smith pink-noise filter (-3 dB/octave within 0.05 dB above ~10 Hz).
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


@dataclass(frozen=True)
class AssembledBook:
    """What assembly wrote. Times in seconds; ``starts_s`` are chapter starts in the M4B.

    ``files`` maps "mp3"/"wav"/"flac" to one path per chapter (in plan order) for each
    format written; ``m4b`` is None when the M4B was not requested.
    """

    m4b: Path | None
    files: dict[str, tuple[Path, ...]]
    chapter_indices: tuple[int, ...]
    titles: tuple[str, ...]
    durations_s: tuple[float, ...]
    starts_s: tuple[float, ...]
    gains_db: tuple[float, ...]
    sample_rate_hz: int
    book_title: str
    author: str
    narrator: str
    has_cover: bool = False


class TruePeakLimiter:
    """Look-ahead limiter keeping the 4x-oversampled true peak under ``ceiling_dbtp``.

    Needed gain per sample -> minimum over +-``lookahead_ms`` (hold) -> moving average
    over the same span, so the gain ramps in before a peak, never exceeds what any sample
    needs, and the output has the input's length (the delay is absorbed by streaming).
    """

    def __init__(self, ceiling_dbtp: float, rate_hz: int, lookahead_ms: float = 5.0):
        self._ceiling = db_to_amplitude(ceiling_dbtp) * 0.995  # rounding margin, -0.04 dB
        self._r = max(1, int(rate_hz * lookahead_ms / 1000))
        pad = 2 * self._r + TP_CONTEXT
        self._blocks = ContextBlocks(pad, pad, self._process)

    def _process(self, buf: np.ndarray, pre: int, post: int) -> np.ndarray:
        core = buf[pre : len(buf) - post]
        env = true_peak_envelope_over(buf, TP_CONTEXT, TP_CONTEXT, self._ceiling)  # exact above the ceiling
        need = np.minimum(1.0, self._ceiling / np.maximum(env, 1e-12))
        if need.min() >= 1.0:
            return core.copy()
        size = 2 * self._r + 1
        gain = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
        start = pre - TP_CONTEXT
        return (core * gain[start : start + len(core)]).astype(np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Limit a block; returns the (delayed) samples now final, possibly empty."""
        out = self._blocks.push(block)
        return out if out is not None else np.zeros(0, np.float32)

    def finish(self) -> np.ndarray:
        """Return the samples still held back by the look-ahead."""
        out = self._blocks.finish()
        return out if out is not None else np.zeros(0, np.float32)


class RoomTone:
    """Seeded pink noise at ``rms_db`` dBFS RMS, continuous across calls."""

    def __init__(self, rms_db: float, seed: int):
        impulse = np.zeros(1 << 16)
        impulse[0] = 1.0
        self._scale = db_to_amplitude(rms_db) / np.sqrt(np.sum(lfilter(_PINK_B, _PINK_A, impulse) ** 2))
        self._rng = np.random.default_rng(seed)
        self._zi = np.zeros(len(_PINK_A) - 1)
        self.next(1 << 14)  # settle the filter so the bed starts stationary

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` samples (float32, shape (n,))."""
        y, self._zi = lfilter(_PINK_B, _PINK_A, self._rng.standard_normal(n), zi=self._zi)
        return (y * self._scale).astype(np.float32)


@dataclass(frozen=True)
class _Layout:
    rate_hz: int  # the mastering rate (the engine's native rate, see _master_rate)
    samples_in: int  # exact length of the chapter at the mastering rate
    samples_out: int  # exact length of the mastered chapter at the output rate


def _require_stored(plan: ChapterPlan, store: SegmentStore) -> None:
    if not plan.segments:
        raise ValueError(f"chapter {plan.index} ({plan.title!r}) has no segments")
    for seg in plan.segments:
        if not store.has(seg.id):
            raise EncodingError(f"chapter {plan.index}: segment {seg.id} has no stored audio (run generate first)")


def _layout(plan: ChapterPlan, store: SegmentStore, config: PipelineConfig, rate: int) -> _Layout:
    _require_stored(plan, store)
    infos = [sf.info(str(store.path(seg.id))) for seg in plan.segments]
    m = config.mastering
    n = round((m.head_room_tone_ms + m.tail_room_tone_ms) * rate / 1000)
    n += sum(round(i.frames * rate / i.samplerate) for i in infos)
    n += sum(round(s.pause_after_ms * rate / 1000) for s in plan.segments[:-1])
    return _Layout(rate, n, round(n * m.sample_rate_hz / rate))


def _master_rate(plans: Sequence[ChapterPlan], store: SegmentStore) -> int:
    """Mastering happens at the engine's native rate (Piper: 22050 Hz): half the samples
    of 44.1 kHz, nothing lost. Only the chapter files are upsampled, on the way out."""
    seg = plans[0].segments[0] if plans[0].segments else None
    return sf.info(str(store.path(seg.id))).samplerate if seg and store.has(seg.id) else 22050


def _render(plan: ChapterPlan, store: SegmentStore, rate_hz: int, config: PipelineConfig) -> Iterator[np.ndarray]:
    """Input-rate blocks: head tone, segments with pauses, tail tone (tone = zeros here)."""
    m = config.mastering
    yield np.zeros(round(m.head_room_tone_ms * rate_hz / 1000), np.float32)
    for i, seg in enumerate(plan.segments):
        audio, rate = store.read(seg.id)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if rate != rate_hz:
            audio = soxr.resample(audio, rate, rate_hz)
        yield np.asarray(audio, np.float32)
        if i < len(plan.segments) - 1:
            yield np.zeros(round(seg.pause_after_ms * rate_hz / 1000), np.float32)
    yield np.zeros(round(m.tail_room_tone_ms * rate_hz / 1000), np.float32)


def _pass1(plan: ChapterPlan, store: SegmentStore, layout: _Layout, config: PipelineConfig, tmp: Path) -> float:
    """Render the chapter to raw float32 ``tmp`` at the mastering rate; return its gain in dB."""
    written, sumsq = 0, 0.0
    with open(tmp, "wb") as f:

        def put(y: np.ndarray) -> None:
            nonlocal written, sumsq
            y = y[: layout.samples_in - written]
            f.write(y.astype(np.float32).tobytes())
            written += len(y)
            y64 = y.astype(np.float64)
            sumsq += float(np.dot(y64, y64))

        for block in _render(plan, store, layout.rate_hz, config):
            put(block)
        put(np.zeros(layout.samples_in - written, np.float32))
    level = power_to_db(sumsq / max(written, 1))
    if level <= -120.0:
        return 0.0
    return float(np.clip(config.mastering.target_rms_db - level, -MAX_GAIN_DB, MAX_GAIN_DB))


class _Upsampler:
    """Streams mastered blocks to the chapter files' rate (ACX: 44.1 kHz) with an exact
    output length of ``samples_out``."""

    def __init__(self, rate_in: int, rate_out: int, samples_out: int):
        self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32") if rate_in != rate_out else None
        self._left = samples_out

    def push(self, y: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is not None:
            y = self._stream.resample_chunk(y, last=last)
        if last and len(y) < self._left:
            y = np.concatenate((y, np.zeros(self._left - len(y), np.float32)))
        y = y[: self._left]
        self._left -= len(y)
        return y


def _pass2(tmp: Path, gain_db: float, seed: int, sinks: list, m4b: ThreadedSink | None,
           config: PipelineConfig, layout: _Layout) -> None:
    """Gain, limit, add room tone at the mastering rate; feed the M4B (turned down by
    :data:`AAC_HEADROOM_DB`) and, upsampled, every chapter-file sink, block by block."""
    m = config.mastering
    limiter = TruePeakLimiter(m.true_peak_ceiling_dbtp, layout.rate_hz)
    tone = RoomTone(m.room_tone_db, seed)
    gain = np.float32(db_to_amplitude(gain_db))
    aac_trim = np.float32(db_to_amplitude(-AAC_HEADROOM_DB))
    upsampler = _Upsampler(layout.rate_hz, m.sample_rate_hz, layout.samples_out)

    def emit(y: np.ndarray, last: bool = False) -> None:
        if len(y):
            y = y + tone.next(len(y))
            if m4b is not None:
                m4b.write(y * aac_trim)
        if sinks:
            y = upsampler.push(y, last)
            for sink in sinks:
                if len(y):
                    sink.write(y)

    with open(tmp, "rb") as f:
        while len(block := np.fromfile(f, dtype=np.float32, count=BLOCK_SAMPLES)):
            emit(limiter.push(block * gain))
    emit(limiter.finish(), last=True)


def _chapter_writer(path: Path, fmt: str, rate_hz: int, tags: Tags, config: PipelineConfig):
    if fmt == "mp3":
        return Mp3Writer(path, rate_hz, tags, config.output.mp3_bitrate_kbps)
    return SoundFileWriter(path, fmt, rate_hz, tags)


class BookAssembler:
    """Assembles a book one chapter at a time, in reading order, as chapters become ready.

    ``plans`` is every chapter of the book, in order. Each :meth:`add_next` call masters
    and encodes the next chapter from ``store`` (all its segments must be stored) and
    returns its finished chapter files, so they can be played or validated while later
    chapters are still being synthesized; the M4B grows chapter by chapter and is closed,
    with its chapter markers, by :meth:`close`. Use as a context manager: leaving it with
    an exception aborts every unfinished file (no partial file under a final name).

    Writes ``out_dir/mp3/NN - <title>.mp3`` (and ``wav/``, ``flac/`` alike; NN is
    ``plan.index``) and ``out_dir/<slug of title>.m4b``, each atomically, for the formats
    in ``config.output.formats``. Raises ValueError for an empty plan list or a chapter
    without segments, :class:`EncodingError` when a segment's audio is missing or an
    encoder fails.
    """

    def __init__(self, plans: Sequence[ChapterPlan], metadata: BookMetadata, cover: Cover | None,
                 out_dir: Path, config: PipelineConfig, *, narrator: str = DEFAULT_NARRATOR):
        if not plans:
            raise ValueError("assemble_book needs at least one chapter plan")
        self._plans, self._metadata, self._cover = tuple(plans), metadata, cover
        self._out_dir, self._config, self._narrator = Path(out_dir), config, narrator
        self._title, self._author = metadata.title or "Untitled", metadata.author or "Unknown"
        self._work = self._out_dir / WORK_DIR / "assemble"  # scratch only: WORK_DIR/segments is the checkpoint
        self._formats = [f for f in CHAPTER_FORMATS if f in config.output.formats]
        self._files: dict[str, list[Path]] = {f: [] for f in self._formats}
        self._layouts: list[_Layout] = []
        self._gains: list[float] = []
        self._m4b: ThreadedSink | None = None
        self._sinks: list[ThreadedSink] = []

    @property
    def done(self) -> int:
        """How many chapters are assembled so far."""
        return len(self._layouts)

    def add_next(self, store: SegmentStore) -> dict[str, Path]:
        """Master and encode the next chapter; return its files by format ("mp3": path...).

        Raises IndexError when every chapter is already assembled.
        """
        plan = self._plans[self.done]
        rate = self._layouts[0].rate_hz if self._layouts else _master_rate(self._plans, store)
        lay = _layout(plan, store, self._config, rate)
        if self._m4b is None and "m4b" in self._config.output.formats:
            self._m4b = self._open_m4b(rate)
        self._work.mkdir(parents=True, exist_ok=True)
        tmp = self._work / f"chapter-{plan.index:04d}.f32"
        gain = _pass1(plan, store, lay, self._config, tmp)
        meta = self._metadata
        tags = Tags(plan.title, self._title, self._author, self._narrator, track=plan.index, year=meta.year)
        name = f"{plan.index:02d} - {safe_filename(plan.title)}"
        out_rate = self._config.mastering.sample_rate_hz
        self._sinks = [ThreadedSink(_chapter_writer(self._out_dir / f / f"{name}.{f}", f, out_rate, tags, self._config))
                       for f in self._formats]
        _pass2(tmp, gain, plan.index, self._sinks, self._m4b, self._config, lay)
        written = {f: sink.close() for f, sink in zip(self._formats, self._sinks)}
        self._sinks = []
        tmp.unlink()
        for f, path in written.items():
            self._files[f].append(path)
        self._layouts.append(lay)
        self._gains.append(gain)
        return written

    def _open_m4b(self, rate: int) -> ThreadedSink:
        # Chapter lengths are known only as chapters arrive: placeholders now (the MP4
        # muxer sizes its chapter track from the count), the real markers at close().
        meta = self._metadata
        return ThreadedSink(M4bWriter(self._out_dir / f"{slugify(meta.title)}.m4b", rate,
                                      self._config.output.aac_bitrate_kbps,
                                      Tags(self._title, self._title, self._author, self._narrator, year=meta.year),
                                      [(p.title, 1) for p in self._plans], self._cover))

    def close(self) -> AssembledBook:
        """Finish the M4B (chapter markers at the exact chapter starts) and describe the book.

        Raises ValueError when not every chapter was added.
        """
        if self.done != len(self._plans):
            raise ValueError(f"{self.done} of {len(self._plans)} chapters assembled")
        rate = self._layouts[0].rate_hz
        samples = [lay.samples_in for lay in self._layouts]
        m4b_path = None
        if self._m4b is not None:
            m4b_path = self._m4b.close([(p.title, n) for p, n in zip(self._plans, samples)])
            self._m4b = None
        self._cleanup()
        starts = np.concatenate(([0], np.cumsum(samples)[:-1]))
        return AssembledBook(
            m4b=m4b_path,
            files={f: tuple(paths) for f, paths in self._files.items()},
            chapter_indices=tuple(p.index for p in self._plans),
            titles=tuple(p.title for p in self._plans),
            durations_s=tuple(n / rate for n in samples),
            starts_s=tuple(int(n) / rate for n in starts),
            gains_db=tuple(self._gains),
            sample_rate_hz=self._config.mastering.sample_rate_hz,
            book_title=self._title,
            author=self._author,
            narrator=self._narrator,
            has_cover=self._cover is not None,
        )

    def abort(self) -> None:
        """Drop every unfinished file (finished chapter files stay); safe to call twice."""
        for sink in self._sinks + ([self._m4b] if self._m4b else []):
            sink.abort()
        self._sinks, self._m4b = [], None
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)
        with contextlib.suppress(OSError):
            self._work.parent.rmdir()  # only when empty: .work/segments is the checkpoint

    def __enter__(self) -> "BookAssembler":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def assemble_book(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    metadata: BookMetadata,
    cover: Cover | None,
    out_dir: Path,
    config: PipelineConfig,
    *,
    narrator: str = DEFAULT_NARRATOR,
    progress: Callable[[int, int], None] | None = None,
) -> AssembledBook:
    """Master and encode every chapter (all segments already stored); see
    :class:`BookAssembler` for the files written and the errors raised. Calls
    ``progress(done, total)`` after each chapter."""
    with BookAssembler(plans, metadata, cover, out_dir, config, narrator=narrator) as assembler:
        for plan in plans:  # fail fast on a missing segment, before writing anything
            _require_stored(plan, store)
        for done in range(1, len(plans) + 1):
            assembler.add_next(store)
            if progress:
                progress(done, len(plans))
        return assembler.close()
