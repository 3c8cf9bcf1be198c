"""Length caps, output checks and batching for Qwen3-TTS (pure: no torch).

The codec makes 12.5 frames a second (24 kHz audio, 1920 samples a frame) and the model
generates one frame a step, so a text's length bounds the steps its batch may take
(:meth:`OutputGuard.max_new_tokens`; qwen-tts's default of 2048 steps is ~164 s). The
known failure modes (STACK.md: runaway length on very short inputs, degenerate loops,
near-silence) show in a result's duration per word and RMS: :class:`OutputGuard` rejects
those, and :func:`synthesize_guarded` synthesizes them again before giving up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.errors import EngineError

NATIVE_RATE_HZ = 24000  # the 12 Hz codec's output_sample_rate
FRAMES_PER_SECOND = 12.5  # 24000 Hz / 1920 samples per codec frame = steps per second
DEFAULT_MAX_BATCH = 8
# A batch closes when a text is more than this many times longer (in characters) than the
# batch's shortest, unless it is under BATCH_MIN_SPLIT_CHARS: every item of a batch waits
# for its longest, so mixing a 20-character line with a 400-character one wastes steps.
BATCH_LENGTH_RATIO = 2.0
BATCH_MIN_SPLIT_CHARS = 60
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_UNITS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]*[^\W_][^\s{_CJK}]*")


def speech_units(text: str) -> int:
    """Words of ``text``, counting each CJK character (a syllable) as one; at least 1."""
    return max(1, len(_UNITS.findall(text)))


@dataclass(frozen=True)
class OutputGuard:
    """Bounds a result must meet, from its duration per word and its loudness.

    Narration runs at 2-3 words per second (150 wpm is typical, 90 slow); Mandarin at
    4-5 syllables per second. ``min_words_per_s`` (1.0) plus ``slack_s`` (2 s) is far
    slower than any real reading, so a longer result is a runaway or a loop (1 word: at
    most 3 s); ``max_words_per_s`` (8.0) is faster than any, so a shorter result is cut
    off. ``silence_rms`` (0.003, -50 dBFS) is ~25 dB under speech (-20..-26 dBFS RMS).
    ``enabled=False`` accepts everything (bounds still set ``max_new_tokens``).
    """

    min_words_per_s: float = 1.0
    max_words_per_s: float = 8.0
    slack_s: float = 2.0
    silence_rms: float = 0.003
    retries: int = 2
    enabled: bool = True

    def max_seconds(self, text: str) -> float:
        """The longest plausible reading of ``text``, in seconds."""
        return speech_units(text) / self.min_words_per_s + self.slack_s

    def max_new_tokens(self, texts: Sequence[str]) -> int:
        """Generation steps a batch of ``texts`` may take: its longest plausible reading at
        12.5 frames a second, plus 2: the first step (the prompt) yields no frame, and one
        frame over the bound makes a result that hits the cap a rejected runaway."""
        return math.floor(max(self.max_seconds(t) for t in texts) * FRAMES_PER_SECOND) + 2

    def problem(self, text: str, audio: np.ndarray, rate_hz: int) -> str | None:
        """Why ``audio`` (mono, at ``rate_hz``) cannot be ``text`` read aloud, or None."""
        if not self.enabled:
            return None
        seconds = audio.size / rate_hz
        if seconds > self.max_seconds(text):
            return f"runaway output ({seconds:.1f} s for {speech_units(text)} words)"
        if seconds < speech_units(text) / self.max_words_per_s:
            return f"output cut short ({seconds:.2f} s for {speech_units(text)} words)"
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        if rms < self.silence_rms:
            return f"near-silent output (RMS {rms:.5f})"
        return None


def plan_batches(texts: Sequence[str], max_batch: int = DEFAULT_MAX_BATCH) -> list[list[int]]:
    """Indices of ``texts`` grouped into batches: sorted by length in characters, at most
    ``max_batch`` a batch, a new batch where lengths jump (:data:`BATCH_LENGTH_RATIO`)."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1 (got {max_batch})")
    batches: list[list[int]] = []
    for i in sorted(range(len(texts)), key=lambda i: (len(texts[i]), i)):
        shortest = len(texts[batches[-1][0]]) if batches else 0
        fits = len(texts[i]) <= max(BATCH_MIN_SPLIT_CHARS, BATCH_LENGTH_RATIO * shortest)
        if batches and len(batches[-1]) < max_batch and fits:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


# (texts, max_new_tokens, attempt) -> 24 kHz float32 audio, one per text
GenerateFn = Callable[[list[str], int, int], list[np.ndarray]]


def synthesize_guarded(
    generate: GenerateFn, texts: Sequence[str], guard: OutputGuard
) -> list[np.ndarray]:
    """Run one batch through ``generate``, re-running the results ``guard`` rejects (as a
    smaller batch, ``attempt`` counting up) up to ``guard.retries`` times. Returns 24 kHz
    float32 arrays in the order of ``texts``; raises :class:`EngineError` naming the text
    that still fails."""
    if not texts:
        return []
    results: dict[int, np.ndarray] = {}
    problems: dict[int, str] = {}
    pending = list(range(len(texts)))
    for attempt in range(guard.retries + 1):
        batch = [texts[i] for i in pending]
        audios = generate(batch, guard.max_new_tokens(batch), attempt)
        failed = []
        for i, audio in zip(pending, audios):
            problem = guard.problem(texts[i], audio, NATIVE_RATE_HZ)
            if problem:
                failed.append(i)
                problems[i] = problem
            else:
                results[i] = audio
        pending = failed
        if not pending:
            return [results[i] for i in range(len(texts))]
    raise EngineError(
        f"Qwen3-TTS failed on {texts[pending[0]][:80]!r} after {guard.retries + 1} attempts: "
        f"{problems[pending[0]]}"
    )
