"""The voice library the dashboard offers: built-in narrators with a sample line each.

Samples are static files under ``assets/voices/`` (served by the web app at
``/voices/<id>.ogg``), made once with ``scripts/voice_samples.py`` by the engine itself,
so hearing a sample costs the server nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_LINE = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "This is how your book will sound."
)


@dataclass(frozen=True)
class VoiceChoice:
    """A narrator the author can pick: ``id`` is the engine's voice name (``VoiceConfig.narrator``)."""

    id: str
    label: str
    engine: str = "piper"

    @property
    def sample_url(self) -> str:
        """URL of the voice's sample line (``assets/voices/<id>.ogg``)."""
        return f"/voices/{self.id}.ogg"


BUILTIN_VOICES = (VoiceChoice("en_US-joe-medium", "Joe · US English, male · Piper (CC0)"),)


def voice_choice(voice_id: str) -> VoiceChoice:
    """The built-in voice ``voice_id``. Raises KeyError for an unknown id."""
    for voice in BUILTIN_VOICES:
        if voice.id == voice_id:
            return voice
    raise KeyError(voice_id)
