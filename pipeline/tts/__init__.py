"""TTS engines behind one interface (:class:`pipeline.tts.base.TTSEngine`).

``load_engine(voice_config, threads=...)`` builds the engine a :class:`VoiceConfig`
names. Piper (CPU) is the default and runs everywhere; Qwen3-TTS (``"qwen3-tts"``, GPU
workers: torch + qwen-tts, see :mod:`pipeline.tts.qwen`) reads a local model folder.
"""

from __future__ import annotations

from pipeline.config import VoiceConfig
from pipeline.errors import ConfigError
from pipeline.tts.base import TTSEngine

ENGINES = ("piper", "qwen3-tts")


def engine_settings(voice: VoiceConfig) -> dict[str, object]:
    """The settings of ``voice``'s engine that are hashed into segment ids, computed
    without loading the model. Raises :class:`ConfigError` for an unknown engine."""
    if voice.engine == "piper":
        from pipeline.tts.piper import piper_settings

        return piper_settings(voice)
    if voice.engine == "qwen3-tts":
        from pipeline.tts.qwen import qwen_settings

        return qwen_settings(voice)
    raise ConfigError(f"unknown TTS engine {voice.engine!r}; available: {', '.join(ENGINES)}")


def engine_sample_rate(voice: VoiceConfig) -> int:
    """The native sample rate in Hz of ``voice`` (what its segments are stored at), read
    from the voice's config without loading the model: 24000 for Qwen3-TTS (its 12 Hz
    codec's rate; ``QwenEngine.load(sample_rate_hz=...)`` resamples on request). Raises
    :class:`ConfigError` for an unknown engine and :class:`EngineError` when the voice
    cannot be found."""
    if voice.engine == "piper":
        from pipeline.tts.piper import piper_sample_rate

        return piper_sample_rate(voice)
    if voice.engine == "qwen3-tts":
        from pipeline.tts.qwen import NATIVE_RATE_HZ

        return NATIVE_RATE_HZ
    raise ConfigError(f"unknown TTS engine {voice.engine!r}; available: {', '.join(ENGINES)}")


def load_engine(voice: VoiceConfig, *, threads: int = 0) -> TTSEngine:
    """Load the engine and voice that ``voice`` names.

    ``threads`` caps the engine's CPU threads (0 = the runtime's default). Qwen3-TTS loads
    on cuda:0 when torch sees a GPU (bfloat16), else on the CPU (float32). Raises
    :class:`ConfigError` for an unknown engine or unusable voice settings and
    :class:`EngineError` when the voice cannot be loaded.
    """
    if voice.engine == "piper":
        from pipeline.tts.piper import PiperEngine

        return PiperEngine.load(voice, threads=threads)
    if voice.engine == "qwen3-tts":
        from pipeline.tts.qwen import QwenEngine

        return QwenEngine.load(voice, threads=threads)
    raise ConfigError(f"unknown TTS engine {voice.engine!r}; available: {', '.join(ENGINES)}")
