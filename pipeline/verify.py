"""Speech verification (the validate stage's listening half): ASR, word error rate, retakes.

Every segment's stored audio is transcribed with local Whisper (:mod:`pipeline.transcribe`)
and compared with the segment's speakable text: word error rate (WER, by ``jiwer``) after
the same normalization on both sides (:func:`normalize_words`: abbreviations, roman
numerals and digits spelled out as the annotate stage does, case folded, punctuation and
apostrophes dropped, hyphens split). A take fails when

* its WER is above ``verify.wer_threshold`` with at least ``verify.min_word_errors``
  wrong words (one misheard word in a five-word title is the recognizer's noise: Whisper
  tiny.en misses 2-6 % of Piper's words, STACK.md "ASR"), or
* its duration is implausible for its word count (:func:`plausible_duration`: a TTS model
  that skips or loops text is much too short or too long).

A failed segment is synthesized again with varied settings (:func:`retake_voice`) up to
``verify.max_retakes`` times; the best take (plausible first, then lowest WER, earliest on
a tie) is kept under the segment's id in the segment store, so assembly plays it. Every
take's audio is kept in a takes store (``<segment id>.take<N>``) and every take's score in
a record (``<records>/<segment id>.json``); the record makes verification resumable: a
segment whose record matches its stored audio is not transcribed again. A segment whose
best take still fails is *flagged* for the author (report, dashboard).

A retake can also be made elsewhere: a synthesizer that cannot speak a voice where
verification runs (the platform's cpu worker and a Qwen3-TTS voice, which needs the gpu
queue) raises :class:`RetakeElsewhere`. The segment's record then says which take is
awaited (``pending``), take 0 joins the takes store, and :attr:`ChapterSpeech.pending`
lists it; once that take is in the takes store, verifying again scores it from there and
goes on where it stopped (earlier takes are not heard again).

Measured on this machine: see ``bench/verify_overhead.py`` (validation time as a ratio of
synthesis time) and the closing notes of issue 16.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

from pipeline.analyze import NARRATED_WPM
from pipeline.annotate import normalize_for_speech
from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.models import ChapterPlan, Segment, count_words
from pipeline.store import SegmentStore
from pipeline.transcribe import transcribe

# Plausible duration of a segment of w words at the narrator's pace (NARRATED_WPM words per
# minute, scaled by length_scale): between SHORT x expected - SLACK and LONG x expected +
# SLACK seconds. Piper's real chapters run at 150-210 wpm (pipeline.analyze); a model that
# drops half the text or loops lands outside.
DURATION_SHORT, DURATION_LONG, DURATION_SLACK_S = 0.5, 2.0, 1.0
RETAKE_NOISE_STEP = 0.7  # Piper: noise_scale and noise_w_scale x 0.7 per retake (steadier)
RETAKE_PACE_STEP = 0.05  # Piper: length_scale + 5 % per retake (slower: fewer skipped words)
TAKE_SUFFIX = ".take"

# (segment, the voice of this take) -> (float32 mono audio, sample rate in Hz); None when
# that voice cannot be retaken at all (the segment is flagged), RetakeElsewhere when
# another worker must make the take
Synthesizer = Callable[[Segment, VoiceConfig], tuple[np.ndarray, int] | None]
# (audio, sample rate in Hz) -> the words heard, one line
Transcriber = Callable[[np.ndarray, int], str]


class RetakeElsewhere(Exception):
    """Raised by a :data:`Synthesizer` when the take must be made by another worker (a
    GPU voice asked of a CPU worker): the segment is left pending, not flagged. A signal
    between :class:`Verifier` and its caller, never an error shown to anyone."""


_WORD = re.compile(r"[^\W_]+")


def normalize_words(text: str, language: str = "en") -> list[str]:
    """The words of ``text`` as WER compares them: :func:`normalize_for_speech` (so
    "Mr. Brown paid $3 in 1851", as Whisper writes it, matches the speakable "Mister
    Brown paid three dollars in eighteen fifty-one"), case folded, apostrophes dropped
    ("don't" -> "dont"), every other non-letter a word break."""
    spoken = normalize_for_speech(text, language).casefold()
    return _WORD.findall(re.sub(r"['’‘]", "", spoken))


@dataclass(frozen=True)
class Score:
    """How a take's words compare with the text: ``wer`` = ``errors`` / ``words`` (word
    errors are substitutions + deletions + insertions; ``words`` in the reference)."""

    wer: float
    errors: int
    words: int


def word_error_rate(reference: str, heard: str, language: str = "en") -> Score:
    """WER of ``heard`` against ``reference`` after :func:`normalize_words` on both.
    An empty reference scores 0 when nothing was heard, else 1.0 per heard word."""
    ref, hyp = normalize_words(reference, language), normalize_words(heard, language)
    if not ref:
        return Score(float(len(hyp)), len(hyp), 0)
    if not hyp:
        return Score(1.0, len(ref), len(ref))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    errors = out.substitutions + out.deletions + out.insertions
    return Score(errors / len(ref), errors, len(ref))


def plausible_duration(words: int, duration_s: float, length_scale: float = 1.0) -> bool:
    """Whether ``duration_s`` seconds of speech can read ``words`` words at the narrator's
    pace (:data:`NARRATED_WPM` x ``length_scale``; bounds: :data:`DURATION_SHORT`,
    :data:`DURATION_LONG`, :data:`DURATION_SLACK_S`)."""
    expected = words / NARRATED_WPM * 60.0 * length_scale
    low = DURATION_SHORT * expected - DURATION_SLACK_S
    return low <= duration_s <= DURATION_LONG * expected + DURATION_SLACK_S


def retake_voice(voice: VoiceConfig, take: int) -> VoiceConfig:
    """The voice of retake number ``take`` (1, 2, ...; 0 is the voice itself). Piper: noise
    scales x :data:`RETAKE_NOISE_STEP` per take (less sampling noise: fewer slurred words)
    and length scale + :data:`RETAKE_PACE_STEP` per take (a little slower). Qwen3-TTS: the
    same voice; its sampling draws a new take on every call."""
    if take <= 0 or voice.engine != "piper":
        return voice
    noise = RETAKE_NOISE_STEP**take
    return voice.model_copy(
        update={
            "noise_scale": round(voice.noise_scale * noise, 4),
            "noise_w_scale": round(voice.noise_w_scale * noise, 4),
            "length_scale": round(min(voice.length_scale * (1 + RETAKE_PACE_STEP * take), 3.0), 4),
        }
    )


@dataclass(frozen=True)
class Take:
    """One take of a segment: number (0 = the first synthesis), its score, its duration in
    seconds, whether that duration is plausible, what the recognizer heard, and whether it
    passes (see the module doc)."""

    take: int
    wer: float
    errors: int
    words: int
    duration_s: float
    plausible: bool
    heard: str
    passed: bool


@dataclass(frozen=True)
class SegmentCheck:
    """Verification of one segment: every take, the one kept (``chosen``), and ``flagged``
    when even that one fails; ``pending`` is the number of a take awaited from another
    worker (:class:`RetakeElsewhere`; the check is not final), else None."""

    segment_id: str
    chapter_index: int
    index: int
    text: str
    takes: tuple[Take, ...]
    chosen: int
    flagged: bool
    pending: int | None = None

    @property
    def wer(self) -> float:
        """WER of the take kept."""
        return self.takes[self.chosen].wer

    @property
    def retakes(self) -> int:
        """Takes after the first."""
        return len(self.takes) - 1

    def to_dict(self) -> dict:
        """JSON-ready, as ``report.json`` lists segments."""
        return {
            "index": self.index,
            "segment_id": self.segment_id,
            "text": self.text,
            "wer": round(self.wer, 3),
            "takes": [{**asdict(t), "wer": round(t.wer, 3)} for t in self.takes],
            "chosen": self.chosen,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class ChapterSpeech:
    """Verification of one chapter's segments (in plan order, each id once)."""

    index: int
    segments: tuple[SegmentCheck, ...]

    @property
    def pending(self) -> tuple[SegmentCheck, ...]:
        """The segments waiting for a take from another worker (none: the chapter is
        verified)."""
        return tuple(s for s in self.segments if s.pending is not None)

    def summary(self) -> dict:
        """WER distribution (mean, median, 90th percentile, max of the takes kept),
        segments retaken, retakes, and segments still flagged."""
        wers = sorted(s.wer for s in self.segments)
        return {
            "segments": len(wers),
            "wer_mean": round(statistics.fmean(wers), 3) if wers else 0.0,
            "wer_median": round(statistics.median(wers), 3) if wers else 0.0,
            "wer_p90": round(_quantile(wers, 0.9), 3),
            "wer_max": round(wers[-1], 3) if wers else 0.0,
            "segments_retaken": sum(1 for s in self.segments if s.retakes),
            "retakes": sum(s.retakes for s in self.segments),
            "flagged": sum(1 for s in self.segments if s.flagged),
        }


def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    return float(np.quantile(np.asarray(values), q))


def take_id(segment_id: str, take: int) -> str:
    """The takes-store key of take ``take`` of a segment."""
    return f"{segment_id}{TAKE_SUFFIX}{take}"


class Verifier:
    """Verifies segments of one conversion (see the module doc).

    ``store`` holds the segments (the best take is written back there); ``takes`` keeps
    every take's audio; ``records`` is the folder of per-segment JSON records.
    ``synthesize`` makes a retake (default: load the take's voice with
    :func:`pipeline.tts.load_engine`, cached per voice), ``transcriber`` hears audio
    (default: :func:`pipeline.transcribe.transcribe` with the configured model, greedy
    decoding); both use ``threads`` CPU threads (0: the runtimes' defaults; 1 in a pool
    process beside others). Raises :class:`pipeline.errors.EngineError`
    when the ASR model or a voice cannot be loaded.
    """

    def __init__(
        self,
        config: PipelineConfig,
        store: SegmentStore,
        takes: SegmentStore,
        records: Path,
        *,
        language: str = "en",
        synthesize: Synthesizer | None = None,
        transcriber: Transcriber | None = None,
        threads: int = 0,
    ) -> None:
        self.config, self.store, self.takes, self.records = config, store, takes, Path(records)
        self.records.mkdir(parents=True, exist_ok=True)
        self.language = language
        self._synthesize = synthesize or _default_synthesizer(threads)
        model = config.verify.model_dir or None
        self._transcribe = transcriber or (
            lambda audio, rate: transcribe(
                audio, rate, model_path=model, beam_size=1, threads=threads
            )
        )

    def chapter(
        self, plan: ChapterPlan, on_segment: Callable[[SegmentCheck], None] | None = None
    ) -> ChapterSpeech:
        """Verify every segment of ``plan`` (each id once), retaking failed ones."""
        checks, seen = [], set()
        for seg in plan.segments:
            if seg.id in seen:
                continue
            seen.add(seg.id)
            check = self.segment(seg)
            checks.append(check)
            if on_segment:
                on_segment(check)
        return ChapterSpeech(plan.index, tuple(checks))

    def segment(self, seg: Segment) -> SegmentCheck:
        """Verify one stored segment: its record when it matches the stored audio, else
        transcribe, retake while it fails (at most ``verify.max_retakes`` times; a take
        already in the takes store is used, not made again), keep the best take and write
        the record. A pending record (:class:`RetakeElsewhere`) goes on from its takes.
        Raises KeyError when the segment is not stored."""
        recorded = self._recorded(seg)
        if recorded is not None and recorded.pending is None:
            return recorded
        if recorded is not None:
            takes = list(recorded.takes)
        else:
            audio, rate = self.store.read(seg.id)
            takes = [self._score(seg, audio, rate, 0, self.config.voice_of(seg.voice))]
        pending = None
        while not takes[-1].passed and len(takes) <= self.config.verify.max_retakes:
            number = len(takes)
            voice = retake_voice(self.config.voice_of(seg.voice), number)
            if self.takes.has(take_id(seg.id, number)):
                made: tuple[np.ndarray, int] | None = self.takes.read(take_id(seg.id, number))
            else:
                try:
                    made = self._synthesize(seg, voice)
                except RetakeElsewhere:
                    pending = number
                    break
                if made is not None:
                    self.takes.put(take_id(seg.id, number), *made)
            if made is None:
                break
            takes.append(self._score(seg, *made, number, voice))
        chosen = min(range(len(takes)), key=lambda i: (not takes[i].plausible, takes[i].wer, i))
        if (len(takes) > 1 or pending) and not self.takes.has(take_id(seg.id, 0)):
            self.takes.put(take_id(seg.id, 0), *self.store.read(seg.id))
        if chosen and pending is None:
            self.store.put(seg.id, *self.takes.read(take_id(seg.id, chosen)))
        check = SegmentCheck(
            seg.id,
            seg.chapter_index,
            seg.index,
            seg.text,
            tuple(takes),
            chosen,
            pending is None and not takes[chosen].passed,
            pending,
        )
        self._write_record(check)
        return check

    def _score(
        self, seg: Segment, audio: np.ndarray, rate: int, number: int, voice: VoiceConfig
    ) -> Take:
        heard = self._transcribe(np.asarray(audio, np.float32), rate)
        score = word_error_rate(seg.text, heard, self.language)
        duration = len(audio) / rate
        plausible = plausible_duration(count_words(seg.text), duration, voice.length_scale)
        v = self.config.verify
        too_many = score.wer > v.wer_threshold and score.errors >= v.min_word_errors
        return Take(
            number,
            score.wer,
            score.errors,
            score.words,
            round(duration, 3),
            plausible,
            heard,
            plausible and not too_many,
        )

    def _recorded(self, seg: Segment) -> SegmentCheck | None:
        if not self.store.has(seg.id):
            return None
        frames = sf.info(str(self.store.path(seg.id))).frames
        return read_record(self.records, seg, frames)

    def _write_record(self, check: SegmentCheck) -> None:
        path = record_path(self.records, check.segment_id)
        data = {
            "frames": sf.info(str(self.store.path(check.segment_id))).frames,
            "takes": [asdict(t) for t in check.takes],
            "chosen": check.chosen,
            "flagged": check.flagged,
            "pending": check.pending,
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)


def record_path(records: Path, segment_id: str) -> Path:
    """Where a segment's verification record lives in the folder ``records``."""
    return Path(records) / f"{segment_id}.json"


def read_record(records: Path, seg: Segment, frames: int | None = None) -> SegmentCheck | None:
    """``seg``'s verification as recorded in the folder ``records``; None when there is no
    readable record, or (with ``frames``) when it was made for audio of another length
    (the stored audio changed since: verify it again)."""
    path = record_path(records, seg.id)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if frames is not None and data.get("frames") != frames:
            return None
        takes = tuple(Take(**t) for t in data["takes"])
        return SegmentCheck(
            seg.id,
            seg.chapter_index,
            seg.index,
            seg.text,
            takes,
            int(data["chosen"]),
            bool(data["flagged"]),
            data.get("pending"),
        )
    except (ValueError, KeyError, TypeError):
        return None


def recorded_chapter(plan: ChapterPlan, records: Path) -> ChapterSpeech | None:
    """``plan``'s verification from the records in ``records`` (each segment id once, in
    plan order); None when a segment has no record (it was never verified) or waits for a
    take (:class:`RetakeElsewhere`)."""
    checks, seen = [], set()
    for seg in plan.segments:
        if seg.id in seen:
            continue
        seen.add(seg.id)
        check = read_record(records, seg)
        if check is None or check.pending is not None:
            return None
        checks.append(check)
    return ChapterSpeech(plan.index, tuple(checks))


def _default_synthesizer(threads: int) -> Synthesizer:
    from pipeline.tts import load_engine
    from pipeline.tts.base import TTSEngine

    engines: dict[VoiceConfig, TTSEngine] = {}

    def synthesize(seg: Segment, voice: VoiceConfig) -> tuple[np.ndarray, int]:
        engine = engines.get(voice)
        if engine is None:
            engine = engines[voice] = load_engine(voice, threads=threads)
        return engine.synthesize(seg.text), engine.sample_rate_hz

    return synthesize


def summarize(chapters: Iterable[ChapterSpeech]) -> dict:
    """The book's verification summary: the WER distribution over every segment kept,
    segments retaken, retakes, segments flagged."""
    return ChapterSpeech(0, tuple(s for c in chapters for s in c.segments)).summary()
