"""Assemble stage: stored segments -> mastered chapter files and a chaptered M4B.

Each chapter is mastered on its own by :func:`master_chapter` (a pure function of the
plan, the stored segments and the config, so chapters can be mastered in any order, in
any process, and twice gives the same bytes), in two streaming passes (memory does not
grow with chapter or book length):

1. Render: head room tone, each segment's audio followed by its ``pause_after_ms`` (the
   last segment's pause is replaced by the tail room tone), at the engine's native rate
   (Piper: 22050 Hz), into a temporary raw float32 file under ``out_dir/.work/assemble``,
   summing squares on the way. The gain that puts the file's RMS at
   ``mastering.target_rms_db`` follows (ACX RMS -23..-18 dB; default -19, see config).
2. Master: read back in blocks, apply the gain and a true-peak look-ahead limiter
   (4x-oversampled detection, ceiling ``mastering.true_peak_ceiling_dbtp``), then add
   a continuous pink room-tone bed at ``mastering.room_tone_db`` RMS *after* the gain, so
   the noise floor stays there (<= -60 dB) however loud the voice is made. Blocks go,
   upsampled to 44.1 kHz with a streaming soxr resampler, to the chapter files (see
   :mod:`pipeline.encode`) and, as they are, to the chapter's M4B feed: a raw float32
   file that :class:`BookAssembler` encodes into the one M4B in reading order.

Pauses are laid down as zeros in pass 1 and become room tone through the bed.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile as sf
import soxr
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter

from pipeline.audio import (
    BLOCK_SAMPLES,
    TP_CONTEXT,
    ContextBlocks,
    db_to_amplitude,
    power_to_db,
    sum_of_squares,
    true_peak_envelope_over,
)
from pipeline.config import WORK_DIR, PipelineConfig
from pipeline.encode import (
    M4bWriter,
    Mp3Writer,
    SoundFileWriter,
    Tags,
    ThreadedSink,
    safe_filename,
    slugify,
)
from pipeline.errors import EncodingError
from pipeline.models import BookMetadata, ChapterPlan, Cover, Segment
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
    format written; ``m4b`` is None when the M4B was not requested. ``m4b_true_peak_dbtp``
    is the M4B's AAC decoded, measured as it was written (see :class:`M4bWriter`).
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
    m4b_true_peak_dbtp: float | None = None


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
        env = true_peak_envelope_over(
            buf, TP_CONTEXT, TP_CONTEXT, self._ceiling
        )  # exact above the ceiling
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


ROOM_TONE_LOOP_SAMPLES = 1 << 20  # 47.5 s at 22050 Hz: the room-tone bed repeats no sooner


@functools.lru_cache(maxsize=4)
def _pink_loop(rms_db: float) -> np.ndarray:
    """:data:`ROOM_TONE_LOOP_SAMPLES` of seeded pink noise at ``rms_db`` dBFS RMS whose
    end runs on into its start (it is filtered twice over, the second pass kept)."""
    n = ROOM_TONE_LOOP_SAMPLES
    white = np.random.default_rng(0x70AE).standard_normal(n)
    pink = lfilter(_PINK_B, _PINK_A, np.concatenate((white, white)))[
        n:
    ]  # the filter has settled by then
    return (pink * db_to_amplitude(rms_db) / np.sqrt(np.mean(pink**2))).astype(np.float32)


class RoomTone:
    """Pink noise at ``rms_db`` dBFS RMS, continuous across calls: a 47.5 s loop read from
    an offset that ``seed`` picks (so chapters do not start alike). At -60 dB and below a
    loop that long is inaudible as a loop, and costs nothing per sample to produce."""

    def __init__(self, rms_db: float, seed: int):
        self._loop = _pink_loop(rms_db)
        self._pos = int(np.random.default_rng(seed).integers(len(self._loop)))

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` samples (float32, shape (n,))."""
        idx = (self._pos + np.arange(n)) % len(self._loop)
        self._pos = (self._pos + n) % len(self._loop)
        return self._loop[idx]


@dataclass(frozen=True)
class _Layout:
    rate_hz: int  # the mastering rate (the engine's native rate, see master_rate)
    samples_in: int  # exact length of the chapter at the mastering rate
    samples_out: int  # exact length of the mastered chapter at the output rate


def require_stored(plan: ChapterPlan, store: SegmentStore) -> None:
    """Raise ValueError for a chapter without segments and :class:`EncodingError` when a
    segment's audio is not in ``store``."""
    if not plan.segments:
        raise ValueError(f"chapter {plan.index} ({plan.title!r}) has no segments")
    for seg in plan.segments:
        if not store.has(seg.id):
            raise EncodingError(
                f"chapter {plan.index}: segment {seg.id} has no stored audio (run generate first)"
            )


def _layout(plan: ChapterPlan, store: SegmentStore, config: PipelineConfig, rate: int) -> _Layout:
    require_stored(plan, store)
    infos = [sf.info(str(store.path(seg.id))) for seg in plan.segments]
    m = config.mastering
    n = round((m.head_room_tone_ms + m.tail_room_tone_ms) * rate / 1000)
    n += sum(round(i.frames * rate / i.samplerate) for i in infos)
    n += sum(round(s.pause_after_ms * rate / 1000) for s in plan.segments[:-1])
    return _Layout(rate, n, round(n * m.sample_rate_hz / rate))


def master_rate(plans: Sequence[ChapterPlan], store: SegmentStore) -> int:
    """The mastering rate in Hz: the stored segments' rate, i.e. the engine's native rate
    (Piper: 22050 Hz; half the samples of 44.1 kHz, nothing lost). Only the chapter files
    are upsampled, on the way out. 22050 when nothing is stored yet."""
    seg = plans[0].segments[0] if plans[0].segments else None
    return sf.info(str(store.path(seg.id))).samplerate if seg and store.has(seg.id) else 22050


def segment_audio(store: SegmentStore, seg: Segment, rate_hz: int) -> np.ndarray:
    """A stored segment's audio as assembly lays it down: mono float32, shape ``(n,)``, at
    ``rate_hz`` (resampled with soxr when stored at another rate). KeyError if absent."""
    audio, rate = store.read(seg.id)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != rate_hz:
        audio = soxr.resample(audio, rate, rate_hz)
    return np.asarray(audio, np.float32)


def _render(
    plan: ChapterPlan, store: SegmentStore, rate_hz: int, config: PipelineConfig
) -> Iterator[np.ndarray]:
    """Input-rate blocks: head tone, segments with pauses, tail tone (tone = zeros here)."""
    m = config.mastering
    yield np.zeros(round(m.head_room_tone_ms * rate_hz / 1000), np.float32)
    for i, seg in enumerate(plan.segments):
        yield segment_audio(store, seg, rate_hz)
        if i < len(plan.segments) - 1:
            yield np.zeros(round(seg.pause_after_ms * rate_hz / 1000), np.float32)
    yield np.zeros(round(m.tail_room_tone_ms * rate_hz / 1000), np.float32)


def _pass1(
    plan: ChapterPlan, store: SegmentStore, layout: _Layout, config: PipelineConfig, tmp: Path
) -> float:
    """Render the chapter to raw float32 ``tmp`` at the mastering rate; return its gain in dB."""
    written, sumsq = 0, 0.0
    with open(tmp, "wb") as f:

        def put(y: np.ndarray) -> None:
            nonlocal written, sumsq
            y = y[: layout.samples_in - written]
            f.write(y.astype(np.float32).tobytes())
            written += len(y)
            y64 = y.astype(np.float64)
            sumsq += sum_of_squares(y64)

        for block in _render(plan, store, layout.rate_hz, config):
            put(block)
        put(np.zeros(layout.samples_in - written, np.float32))
    level = power_to_db(sumsq / max(written, 1))
    if level <= -120.0:
        return 0.0
    return float(np.clip(config.mastering.target_rms_db - level, -MAX_GAIN_DB, MAX_GAIN_DB))


SHORT_CHAPTER_S = 60.0  # chapters up to this long get their gain checked after limiting


def _limited_gain(tmp: Path, gain_db: float, layout: _Layout, config: PipelineConfig) -> float:
    """``gain_db`` raised so that the chapter's RMS after the true-peak limiter is within
    0.25 dB of the target (at most 3 tries, never above :data:`MAX_GAIN_DB`).

    The gain from pass 1 puts the RMS of the *unlimited* signal on target. In a short
    chapter (a one-line chapter: 4 s of speech in 8 s with its room tone) the speech must
    be so loud for that RMS that the limiter takes several dB off it again: one such
    chapter came out at -23.04 dB, under ACX's -23. Long chapters lose a fraction of a dB
    and are not re-checked (this pass reads the whole chapter again)."""
    if layout.samples_in > SHORT_CHAPTER_S * layout.rate_hz:
        return gain_db
    m = config.mastering
    x = np.fromfile(tmp, dtype=np.float32)
    for _ in range(3):
        limiter = TruePeakLimiter(m.true_peak_ceiling_dbtp, layout.rate_hz)
        y = np.concatenate(
            (limiter.push(x * np.float32(db_to_amplitude(gain_db))), limiter.finish())
        )
        deficit = m.target_rms_db - power_to_db(
            sum_of_squares(y.astype(np.float64)) / max(len(y), 1)
        )
        if deficit <= 0.25 or gain_db >= MAX_GAIN_DB:
            break
        gain_db = min(MAX_GAIN_DB, gain_db + deficit)
    return gain_db


class _Upsampler:
    """Streams mastered blocks to the chapter files' rate (ACX: 44.1 kHz) with an exact
    output length of ``samples_out``."""

    def __init__(self, rate_in: int, rate_out: int, samples_out: int):
        self._stream = (
            soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32")
            if rate_in != rate_out
            else None
        )
        self._left = samples_out

    def push(self, y: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is not None:
            y = self._stream.resample_chunk(y, last=last)
        if last and len(y) < self._left:
            y = np.concatenate((y, np.zeros(self._left - len(y), np.float32)))
        y = y[: self._left]
        self._left -= len(y)
        return y


def _pass2(
    tmp: Path,
    gain_db: float,
    seed: int,
    sinks: list[ThreadedSink],
    feed: BinaryIO | None,
    config: PipelineConfig,
    layout: _Layout,
) -> None:
    """Gain, limit, add room tone at the mastering rate; write the M4B feed (turned down
    by :data:`AAC_HEADROOM_DB`) and feed every chapter-file sink, upsampled, block by block."""
    m = config.mastering
    limiter = TruePeakLimiter(m.true_peak_ceiling_dbtp, layout.rate_hz)
    tone = RoomTone(m.room_tone_db, seed)
    gain = np.float32(db_to_amplitude(gain_db))
    aac_trim = np.float32(db_to_amplitude(-AAC_HEADROOM_DB))
    upsampler = _Upsampler(layout.rate_hz, m.sample_rate_hz, layout.samples_out)

    def emit(y: np.ndarray, last: bool = False) -> None:
        if len(y):
            y = y + tone.next(len(y))
            if feed is not None:
                feed.write((y * aac_trim).tobytes())
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


@dataclass(frozen=True)
class BookInfo:
    """What every file of a book is tagged with: title/album, author (artist), narrator
    (composer), year and series (as Audiobookshelf reads it, see :class:`Tags`). Build
    with :meth:`of`."""

    title: str
    author: str
    narrator: str = DEFAULT_NARRATOR
    year: str | None = None
    series: str | None = None
    series_part: str | None = None

    @classmethod
    def of(cls, metadata: BookMetadata, narrator: str = DEFAULT_NARRATOR) -> BookInfo:
        """Tags from parsed metadata ("Untitled" / "Unknown" stand in for missing ones)."""
        return cls(
            metadata.title or "Untitled",
            metadata.author or "Unknown",
            narrator,
            metadata.year,
            metadata.series,
            metadata.series_part,
        )


@dataclass(frozen=True)
class MasteredChapter:
    """One mastered chapter (see :func:`master_chapter`).

    ``files`` maps each chapter format written ("mp3", "wav", "flac") to its file.
    ``m4b_feed`` is the chapter as the M4B gets it (raw mono float32 at ``rate_hz``, AAC
    headroom applied; :meth:`BookAssembler.add` consumes and deletes it), or None.
    ``samples`` is the chapter's exact length at ``rate_hz``; ``gain_db`` the mastering gain.
    """

    index: int
    title: str
    files: dict[str, Path]
    m4b_feed: Path | None
    rate_hz: int
    samples: int
    gain_db: float

    @property
    def duration_s(self) -> float:
        return self.samples / self.rate_hz


def _work_dir(out_dir: Path) -> Path:
    return (
        Path(out_dir) / WORK_DIR / "assemble"
    )  # scratch only: WORK_DIR/segments is the checkpoint


def chapter_file(out_dir: Path, plan: ChapterPlan, fmt: str) -> Path:
    """Where :func:`master_chapter` writes ``plan``'s chapter file in format ``fmt``:
    ``out_dir/<fmt>/NN - <title>.<fmt>`` (NN is ``plan.index``)."""
    return Path(out_dir) / fmt / f"{plan.index:02d} - {safe_filename(plan.title)}.{fmt}"


def chapter_feed(out_dir: Path, index: int) -> Path:
    """Where a chapter's M4B feed (raw mono float32 at the mastering rate) is written."""
    return _work_dir(out_dir) / f"chapter-{index:04d}.m4b.f32"


class ChapterReuse(Protocol):
    """Chapters mastered by an earlier conversion of the same book, kept somewhere (the
    platform keeps them in storage: ``worker/chapter_cache.py``). Mastering is
    deterministic, so a chapter whose plan, config, book tags and rate are unchanged
    sounds exactly as before and need not be mastered again."""

    def restore(
        self, plan: ChapterPlan, out_dir: Path, rate_hz: int, m4b_feed: bool
    ) -> MasteredChapter | None:
        """``plan``'s chapter as mastered before, its files written to
        :func:`chapter_file` (and its feed to :func:`chapter_feed` with ``m4b_feed``),
        or None when it was never kept."""
        ...

    def keep(self, plan: ChapterPlan, chapter: MasteredChapter) -> None:
        """Keep a chapter just mastered (its feed still on disk) for later conversions."""
        ...


def master_chapter(
    plan: ChapterPlan,
    store: SegmentStore,
    out_dir: Path,
    config: PipelineConfig,
    book: BookInfo,
    *,
    rate_hz: int,
    m4b_feed: bool = False,
) -> MasteredChapter:
    """Master one chapter and encode its chapter files; deterministic (same inputs, same bytes).

    Writes ``out_dir/mp3/NN - <title>.mp3`` (and ``wav/``, ``flac/`` alike; NN is
    ``plan.index``) for the chapter formats in ``config.output.formats``, each atomically,
    and with ``m4b_feed`` the chapter's M4B feed under ``out_dir/.work/assemble``.
    ``rate_hz`` is the mastering rate (:func:`master_rate`). Raises ValueError for a
    chapter without segments, :class:`EncodingError` when a segment's audio is missing or
    an encoder fails; on any error no unfinished file is left behind.
    """
    lay = _layout(plan, store, config, rate_hz)
    work = _work_dir(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f"chapter-{plan.index:04d}.f32"
    feed_path = chapter_feed(out_dir, plan.index) if m4b_feed else None
    tags = Tags(
        plan.title,
        book.title,
        book.author,
        book.narrator,
        track=plan.index,
        year=book.year,
        series=book.series,
        series_part=book.series_part,
    )
    out_rate = config.mastering.sample_rate_hz
    formats = [f for f in CHAPTER_FORMATS if f in config.output.formats]
    sinks: list[ThreadedSink] = []
    try:
        gain = _limited_gain(tmp, _pass1(plan, store, lay, config, tmp), lay, config)
        for f in formats:
            sinks.append(
                ThreadedSink(
                    _chapter_writer(chapter_file(out_dir, plan, f), f, out_rate, tags, config)
                )
            )
        with open(feed_path, "wb") if feed_path else contextlib.nullcontext() as feed:
            _pass2(tmp, gain, plan.index, sinks, feed, config, lay)
        files = {f: sink.close() for f, sink in zip(formats, sinks)}
    except BaseException:
        for sink in sinks:
            sink.abort()
        if feed_path:
            feed_path.unlink(missing_ok=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return MasteredChapter(plan.index, plan.title, files, feed_path, rate_hz, lay.samples_in, gain)


class _M4bFeed:
    """Streams chapter feed files into an :class:`M4bWriter` (deleting each once encoded);
    wrapped in a :class:`ThreadedSink`, so AAC encoding runs beside chapter mastering."""

    def __init__(self, writer: M4bWriter):
        self.writer, self.final = writer, writer.final

    def write(self, feed: Path) -> None:
        with open(feed, "rb") as f:
            while len(block := np.fromfile(f, dtype=np.float32, count=BLOCK_SAMPLES)):
                self.writer.write(block)
        feed.unlink()

    def close(self, chapters: list[tuple[str, int]]) -> tuple[Path, float]:
        """Finish the M4B: its path and its decoded AAC's true peak (dBTP)."""
        return self.writer.close(chapters), self.writer.decoded_true_peak_dbtp

    def abort(self) -> None:
        self.writer.abort()


class BookAssembler:
    """Collects a book's mastered chapters, in reading order, into the M4B and an
    :class:`AssembledBook`.

    ``plans`` is every chapter of the book, in order; ``rate_hz`` the mastering rate. The
    M4B (``out_dir/<slug of title>.m4b``, when ``config.output.formats`` has "m4b") is
    opened at once, so a bad cover fails before any chapter is mastered; each
    :meth:`add` queues the chapter's feed for AAC encoding on a thread and returns at once.
    :meth:`close` writes the chapter markers at the exact chapter starts. Use as a context
    manager: leaving it with an exception aborts the M4B and removes the scratch folder
    (finished chapter files stay). Raises ValueError for an empty plan list,
    :class:`EncodingError` when the M4B encoder cannot start or fails.
    """

    def __init__(
        self,
        plans: Sequence[ChapterPlan],
        metadata: BookMetadata,
        cover: Cover | None,
        out_dir: Path,
        config: PipelineConfig,
        *,
        rate_hz: int,
        narrator: str = DEFAULT_NARRATOR,
    ):
        if not plans:
            raise ValueError("assemble_book needs at least one chapter plan")
        self.plans, self.info = tuple(plans), BookInfo.of(metadata, narrator)
        self.out_dir, self.config, self._cover, self.rate_hz = Path(out_dir), config, cover, rate_hz
        self._chapters: list[MasteredChapter] = []
        self._m4b: ThreadedSink | None = None
        if "m4b" in config.output.formats:
            writer = M4bWriter(
                self.out_dir / f"{slugify(metadata.title)}.m4b",
                rate_hz,
                config.output.aac_bitrate_kbps,
                Tags(
                    self.info.title,
                    self.info.title,
                    self.info.author,
                    self.info.narrator,
                    year=self.info.year,
                    series=self.info.series,
                    series_part=self.info.series_part,
                ),
                [(p.title, 1) for p in self.plans],
                cover,
            )  # markers are set at close()
            self._m4b = ThreadedSink(_M4bFeed(writer))

    @property
    def wants_m4b(self) -> bool:
        """Whether chapters must be mastered with an M4B feed."""
        return self._m4b is not None

    @property
    def done(self) -> int:
        """How many chapters have been added so far."""
        return len(self._chapters)

    def add(self, chapter: MasteredChapter) -> None:
        """Add the next chapter in reading order. Raises ValueError when it is not the next
        one, or has no M4B feed although the M4B is wanted."""
        expected = self.plans[self.done].index if self.done < len(self.plans) else None
        if chapter.index != expected or chapter.rate_hz != self.rate_hz:
            raise ValueError(
                f"chapter {chapter.index} at {chapter.rate_hz} Hz added where chapter "
                f"{expected} at {self.rate_hz} Hz was due"
            )
        if self._m4b is not None:
            if chapter.m4b_feed is None:
                raise ValueError(f"chapter {chapter.index} was mastered without its M4B feed")
            self._m4b.write(chapter.m4b_feed)
        self._chapters.append(chapter)

    def close(self) -> AssembledBook:
        """Finish the M4B and describe the book. Raises ValueError when not every chapter
        was added."""
        if self.done != len(self.plans):
            raise ValueError(f"{self.done} of {len(self.plans)} chapters assembled")
        samples = [c.samples for c in self._chapters]
        m4b_path = m4b_true_peak = None
        if self._m4b is not None:
            m4b_path, m4b_true_peak = self._m4b.close(
                [(p.title, n) for p, n in zip(self.plans, samples)]
            )
            self._m4b = None
        self._cleanup()
        starts = np.concatenate(([0], np.cumsum(samples)[:-1]))
        return AssembledBook(
            m4b=m4b_path,
            files={
                f: tuple(c.files[f] for c in self._chapters)
                for f in CHAPTER_FORMATS
                if f in self.config.output.formats
            },
            chapter_indices=tuple(p.index for p in self.plans),
            titles=tuple(p.title for p in self.plans),
            durations_s=tuple(n / self.rate_hz for n in samples),
            starts_s=tuple(int(n) / self.rate_hz for n in starts),
            gains_db=tuple(c.gain_db for c in self._chapters),
            sample_rate_hz=self.config.mastering.sample_rate_hz,
            book_title=self.info.title,
            author=self.info.author,
            narrator=self.info.narrator,
            has_cover=self._cover is not None,
            m4b_true_peak_dbtp=m4b_true_peak,
        )

    def abort(self) -> None:
        """Drop the unfinished M4B and the scratch folder; safe to call twice."""
        if self._m4b is not None:
            self._m4b.abort()
            self._m4b = None
        self._cleanup()

    def _cleanup(self) -> None:
        work = _work_dir(self.out_dir)
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            work.parent.rmdir()  # only when empty: .work/segments is the checkpoint

    def __enter__(self) -> BookAssembler:
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
    reuse: ChapterReuse | None = None,
) -> AssembledBook:
    """Master and encode every chapter, one after the other in this process, and build
    the M4B; see :func:`master_chapter` and :class:`BookAssembler` for the files written
    and the errors raised. With ``reuse``, a chapter it can restore is not mastered (nor
    need its segments be stored), and every chapter mastered is kept there. Calls
    ``progress(done, total)`` after each chapter."""
    if not plans:
        raise ValueError("assemble_book needs at least one chapter plan")
    if reuse is None:
        for plan in plans:  # fail fast on a missing segment, before writing anything
            require_stored(plan, store)
    rate = master_rate(plans, store)
    with BookAssembler(
        plans, metadata, cover, out_dir, config, rate_hz=rate, narrator=narrator
    ) as book:
        for done, plan in enumerate(plans, start=1):
            chapter = reuse.restore(plan, out_dir, rate, book.wants_m4b) if reuse else None
            if chapter is None:
                chapter = master_chapter(
                    plan, store, out_dir, config, book.info, rate_hz=rate, m4b_feed=book.wants_m4b
                )
                if reuse:
                    reuse.keep(plan, chapter)
            book.add(chapter)
            if progress:
                progress(done, len(plans))
        return book.close()
