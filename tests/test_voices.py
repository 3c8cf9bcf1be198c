"""The voice library: every built-in narrator has a sample line the dashboard can play,
spoken by that voice (a real Ogg Vorbis file of plausible length)."""

from __future__ import annotations

import soundfile as sf

from audiobook_app.voices import BUILTIN_VOICES, SAMPLE_LINE, voice_choice
from tests.conftest import REPO_ROOT


def test_every_builtin_voice_has_a_playable_sample():
    for voice in BUILTIN_VOICES:
        path = REPO_ROOT / "assets" / voice.sample_url.lstrip("/")
        info = sf.info(str(path))
        words = len(SAMPLE_LINE.split())
        assert info.format == "OGG" and info.channels == 1
        assert words / 4 < info.duration < words / 1.5, "about 1.5-4 words per second"
        assert voice_choice(voice.id) is voice
