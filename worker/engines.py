"""The loaded TTS engines of a worker process, shared by book synthesis
(:mod:`worker.tasks`) and the voice library's jobs (:mod:`worker.voice_tasks`).

Loading is slow (Piper about 2 s, a Qwen3-TTS model far longer, and a clone's prompt is
built from its reference at load), so an engine is loaded once per process and voice and
kept for the worker's life; a worker serves few voices, and the least recently used of
more than :data:`MAX_ENGINES` is dropped.
"""

from __future__ import annotations

from functools import lru_cache

from audiobook_app.settings import get_settings
from pipeline.config import VoiceConfig
from pipeline.tts import load_engine
from pipeline.tts.base import TTSEngine

MAX_ENGINES = 8


@lru_cache(maxsize=MAX_ENGINES)
def engine_for(voice: VoiceConfig, threads: int) -> TTSEngine:
    """The loaded engine of ``voice`` (its ``reference_audio``, for a clone, a local
    file), capped at ``threads`` CPU threads (0: the runtime's default). A Qwen3-TTS
    engine batches up to ``qwen_batch_size`` segments a generate call (settings); every
    engine speaks at its native rate. Cached per (voice, threads). Raises ConfigError
    (unusable voice settings) or EngineError (the engine or its model cannot load);
    a failed load is not cached."""
    if voice.engine == "qwen3-tts":
        from pipeline.tts.qwen import QwenEngine  # torch: only on GPU workers

        return QwenEngine.load(voice, threads=threads, max_batch=get_settings().qwen_batch_size)
    return load_engine(voice, threads=threads)
