"""The voice library: list, clone, design, delete and try voices (what the Voices page
and, later, the REST API call; never each other).

An author sees the built-in voices (the bundled Piper voice and its variants, and the
Qwen3-TTS CustomVoice speakers where a model folder is configured) and their own cloned
and designed voices, never another author's. Library ids are strings (see
:mod:`.catalog`). Heavy work never runs in these functions: trying a voice and designing
one are RQ jobs (:mod:`worker.voice_tasks`); only the transcription of an upload sent
without its transcript (faster-whisper tiny.en, about 15x real time on CPU) runs in the
caller's thread, so call :func:`create_clone` from a thread, not an event loop.

Modules: :mod:`.catalog` (entries, lookup, :func:`voice_config` for workers),
:mod:`.clones` (clone from an upload, delete), :mod:`.design` (design from a
description), :mod:`.trials` (try a voice, its history).
"""

from audiobook_app.voice_library.catalog import (
    QWEN,
    QWEN_PREFIX,
    VoiceEntry,
    get_voice,
    list_voices,
    qwen_speakers,
    voice_config,
    voice_params,
)
from audiobook_app.voice_library.clones import create_clone, delete_voice
from audiobook_app.voice_library.design import (
    DesignSample,
    DesignView,
    choose_design_sample,
    design_status,
    design_unavailable,
    start_design,
)
from audiobook_app.voice_library.trials import (
    MAX_TRIAL_CHARS,
    TrialEntry,
    get_trial,
    list_trials,
    start_trial,
)

__all__ = [
    "MAX_TRIAL_CHARS",
    "QWEN",
    "QWEN_PREFIX",
    "DesignSample",
    "DesignView",
    "TrialEntry",
    "VoiceEntry",
    "choose_design_sample",
    "create_clone",
    "delete_voice",
    "design_status",
    "design_unavailable",
    "get_trial",
    "get_voice",
    "list_trials",
    "list_voices",
    "qwen_speakers",
    "start_design",
    "start_trial",
    "voice_config",
    "voice_params",
]
