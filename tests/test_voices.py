"""The built-in voices: each has a sample line the dashboard can play, spoken by that
voice (a real Ogg Vorbis file of plausible length), and the Piper variants are pitched
where their settings say (median F0 measured on the samples), so a listener tells them
apart."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiobook_app.voices import BUILTIN_VOICES, SAMPLE_LINE, voice_choice
from pipeline.tts.piper import pitch_factor
from tests.conftest import REPO_ROOT


def _sample(voice_id: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(REPO_ROOT / "assets" / "voices" / f"{voice_id}.ogg"), dtype="float32")
    return audio, rate


def median_f0_hz(audio: np.ndarray, rate: int, low_hz: int = 50, high_hz: int = 400) -> float:
    """Median fundamental frequency of the voiced 40 ms frames (unbiased autocorrelation
    peak at least half the frame's energy; frames under -34 dBFS RMS skipped)."""
    n = int(0.04 * rate)
    f0s = []
    for start in range(0, len(audio) - n, n // 2):
        frame = audio[start : start + n] - audio[start : start + n].mean()
        if np.sqrt(np.mean(frame**2)) < 0.02:
            continue
        corr = np.correlate(frame, frame, "full")[n - 1 :] / np.arange(n, 0, -1)  # unbiased
        first, last = int(rate / high_hz), int(rate / low_hz)
        lag = first + int(np.argmax(corr[first:last]))
        if corr[lag] > 0.5 * corr[0]:
            f0s.append(rate / lag)
    return float(np.median(f0s))


def test_every_builtin_voice_has_a_playable_sample():
    for voice in BUILTIN_VOICES:
        path = REPO_ROOT / "assets" / voice.sample_url.lstrip("/")
        info = sf.info(str(path))
        words = len(SAMPLE_LINE.split())
        assert info.format == "OGG" and info.channels == 1
        assert words / 4 < info.duration < words / 1.5, f"{voice.id}: 1.5-4 words per second"
        assert voice_choice(voice.id) is voice


@pytest.mark.parametrize("voice", [v for v in BUILTIN_VOICES if v.config.pitch_semitones])
def test_variants_are_pitched_as_configured(voice):
    base = median_f0_hz(*_sample(BUILTIN_VOICES[0].id))
    shifted = median_f0_hz(*_sample(voice.id))
    expected = pitch_factor(voice.config.pitch_semitones)
    assert shifted / base == pytest.approx(expected, rel=0.1), (base, shifted)


def test_voice_ids_are_unique_and_unknown_ids_raise():
    assert len({v.id for v in BUILTIN_VOICES}) == len(BUILTIN_VOICES) >= 5
    with pytest.raises(KeyError):
        voice_choice("no-such-voice")
