"""The built-in voices the library offers: the presets of :mod:`pipeline.voices` (the
bundled Piper voice and variants of it) with a label and a sample line each. Samples are
static files under ``assets/voices/`` (served at ``/voices/<id>.ogg``) made once with
``scripts/voice_samples.py``, so hearing a sample costs the server nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import VoiceConfig
from pipeline.voices import PRESETS

SAMPLE_LINE = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "This is how your book will sound."
)


@dataclass(frozen=True)
class VoiceChoice:
    """A built-in voice: ``id`` is its library id, ``config`` the engine parameters."""

    id: str
    label: str
    config: VoiceConfig

    @property
    def engine(self) -> str:
        """The engine that speaks it ("piper")."""
        return self.config.engine

    @property
    def sample_url(self) -> str:
        """URL of the voice's sample line (``assets/voices/<id>.ogg``)."""
        return f"/voices/{self.id}.ogg"


_LABELS = {
    "en_US-joe-medium": "Joe · US English, male · Piper (CC0)",
    "joe-deep": "Joe, deep and unhurried · Piper variant",
    "joe-gravel": "Joe, low and rough · Piper variant",
    "joe-bright": "Joe, brighter and brisk · Piper variant",
    "joe-light": "Joe, light and high · Piper variant",
}
BUILTIN_VOICES = tuple(VoiceChoice(id, label, PRESETS[id]) for id, label in _LABELS.items())


def voice_choice(voice_id: str) -> VoiceChoice:
    """The built-in voice ``voice_id``. Raises KeyError for an unknown id."""
    for voice in BUILTIN_VOICES:
        if voice.id == voice_id:
            return voice
    raise KeyError(voice_id)
