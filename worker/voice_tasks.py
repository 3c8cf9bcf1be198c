"""RQ entry points of the voice library (:mod:`audiobook_app.voice_library`).

``try_voice`` (``tts`` queue for Piper voices, ``gpu`` for Qwen3-TTS): speak a trial's
text with its voice and store the audio, or mark the trial failed with the engine's
message. ``design_voice`` (``gpu`` queue): speak a design request's sample text with the
Qwen3-TTS VoiceDesign model a few times and store the takes; a refusal (no model
configured, the engine failed) is kept in the RQ job's ``meta["error"]`` for the page.

Loaded engines are kept per process, keyed by the voice's config, in the cache book
synthesis uses too (:func:`worker.engines.engine_for`); a clone's reference WAV is
cached under ``settings.work_dir/voices``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rq import get_current_job

from audiobook_app.db.session import retrying, session_scope
from audiobook_app.settings import get_settings
from audiobook_app.storage import build_storage
from audiobook_app.voice_library import catalog, design, trials
from pipeline.errors import AudiobookError
from worker.engines import engine_for

log = logging.getLogger(__name__)


def _cache_dir() -> Path:
    return Path(get_settings().work_dir) / "voices"


def try_voice(trial_id: int) -> None:
    """RQ job: speak trial ``trial_id`` (see the module docstring). A trial that is not
    queued any more (done, failed, unknown) is left alone."""
    settings, storage = get_settings(), build_storage(get_settings())
    try:
        with session_scope(settings.database_url) as session:
            trial = trials.queued_trial(session, trial_id)
            if trial is None:
                return
            owner, voice_id, text = trial.owner_id, trial.voice_id, trial.text
            config = catalog.voice_config(session, settings, storage, owner, voice_id, _cache_dir())
        engine = engine_for(config, settings.tts_threads)
        audio = engine.synthesize(text)
    except AudiobookError as exc:
        _fail(settings.database_url, trial_id, str(exc))
        return
    except Exception as exc:
        log.exception("trial %s failed", trial_id)
        _fail(settings.database_url, trial_id, f"internal error: {type(exc).__name__}: {exc}")
        return

    def finish() -> None:
        with session_scope(settings.database_url) as session:
            trials.finish_trial(session, storage, trial_id, audio, engine.sample_rate_hz)

    retrying(finish)


def _fail(database_url: str, trial_id: int, message: str) -> None:
    def write() -> None:
        with session_scope(database_url) as session:
            trials.fail_trial(session, trial_id, message)

    retrying(write)


def design_voice(user_id: int, design_id: str) -> None:
    """RQ job: make the takes of design request ``design_id`` (see the module docstring)."""
    from pipeline.tts.qwen import design_voice_samples  # torch: only on GPU workers

    settings, storage = get_settings(), build_storage(get_settings())
    description, text, n = design.design_request(storage, user_id, design_id)
    try:
        folder = catalog.model_folder(
            settings.qwen_voice_design_dir, "VoiceDesign", "AUDIOBOOK_QWEN_VOICE_DESIGN_DIR"
        )
        takes = design_voice_samples(folder, description, text, n=n)
    except AudiobookError as exc:
        job = get_current_job()
        if job is not None:
            job.meta["error"] = str(exc)
            job.save_meta()
        log.warning("voice design %s refused: %s", design_id, exc)
        return

    def store() -> None:
        with session_scope(settings.database_url) as session:
            design.store_design_samples(session, storage, user_id, design_id, takes)

    retrying(store)
