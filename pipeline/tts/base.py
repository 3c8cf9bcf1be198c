"""The TTS engine interface every engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class TTSEngine(Protocol):
    """Text in, mono float32 audio out.

    ``name`` and ``voice`` identify the engine and voice; ``settings`` holds every
    synthesis parameter that changes the audio (it is hashed into segment ids, so a
    change of speed re-synthesizes and a change of anything else does not).
    """

    @property
    def name(self) -> str:
        """Engine name ("piper", "qwen3-tts")."""
        ...

    @property
    def voice(self) -> str:
        """Voice name."""
        ...

    @property
    def sample_rate_hz(self) -> int:
        """Native sample rate of the audio, in Hz."""
        ...

    @property
    def settings(self) -> dict[str, object]:
        """Synthesis parameters that affect the audio (JSON-serialisable)."""
        ...

    def synthesize(self, text: str) -> np.ndarray:
        """Speak ``text``; return float32 samples in [-1, 1], shape ``(n,)``, at
        ``sample_rate_hz``. Raises :class:`pipeline.errors.EngineError` on failure."""
        ...

    def synthesize_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Speak each of ``texts``; one array per text, in the order of ``texts``, each as
        :meth:`synthesize` returns it. A GPU engine (Qwen3-TTS) runs them as batches, which
        is where its throughput comes from; a CPU engine may simply loop over
        :meth:`synthesize`. Raises :class:`pipeline.errors.EngineError` on failure."""
        ...
