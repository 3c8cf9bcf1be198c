"""The voice a synthesis fork server loads once, before it forks any worker.

:func:`pipeline.generate.start_fork_server` names this module among the server's preload
modules and passes the voice (a :class:`VoiceConfig` as JSON) in :data:`VOICE_ENV`. The
server imports this module before it forks anything, which loads the voice with one
onnxruntime thread: every worker then starts with it loaded (copy-on-write) instead of
loading it itself, which costs 2-5 s of CPU per worker, all at start-up, when the
workers and the caller's parsing compete for the cores. One onnxruntime thread means the
session has no thread pool, so forking it is safe.

Anywhere else (no variable set) importing it does nothing. A voice that fails to load
here is logged and left to the workers, which then raise the engine's own error.
"""

from __future__ import annotations

import logging
import os

from pipeline.config import VoiceConfig
from pipeline.tts import load_engine
from pipeline.tts.base import TTSEngine

log = logging.getLogger(__name__)

VOICE_ENV = "AUDIOBOOK_FORK_SERVER_VOICE"
# Engines whose loaded state survives fork(): CPU ones (a CUDA context does not).
FORKABLE_ENGINES = ("piper",)

_voice: VoiceConfig | None = None
_engine: TTSEngine | None = None


def _load_from_environment() -> None:
    global _voice, _engine
    spec = os.environ.pop(VOICE_ENV, None)  # the workers forked from here must not reload it
    if not spec:
        return
    try:
        voice = VoiceConfig.model_validate_json(spec)
        if voice.engine in FORKABLE_ENGINES:
            _voice, _engine = voice, load_engine(voice, threads=1)
    except Exception as exc:  # noqa: BLE001 - the fork server must keep running; workers report it
        log.warning("fork server did not preload the voice: %s", exc)


def engine_for(voice: VoiceConfig) -> TTSEngine | None:
    """The engine this process inherited for ``voice`` (loaded with one thread), or None
    when none was preloaded or it was for another voice."""
    return _engine if _engine is not None and voice == _voice else None


_load_from_environment()
