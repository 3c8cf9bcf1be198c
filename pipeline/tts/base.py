"""The TTS engine interface every engine implements."""

from __future__ import annotations

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
        """Engine name ("piper")."""
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
