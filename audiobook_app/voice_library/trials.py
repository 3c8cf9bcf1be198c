"""Try a voice: up to 500 characters spoken by one voice, kept in a history.

:func:`start_trial` records a :class:`VoiceTrial` and enqueues the ``try_voice`` RQ job
(:mod:`worker.voice_tasks`) on the ``tts`` queue for Piper voices and the ``gpu`` queue
for Qwen3-TTS ones (refused at once when no worker listens there:
:func:`require_gpu_worker`); the job calls :func:`queued_trial`, then
:func:`finish_trial` (the audio as MP3 under ``users/<id>/trials/``, with a File row, so
the page plays and downloads it at ``/files/<id>``) or :func:`fail_trial` with the
engine's message.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import numpy as np
import redis
import soundfile as sf
from rq import Worker
from sqlmodel import Session, col, select

from audiobook_app import ratelimit
from audiobook_app.db import repo
from audiobook_app.db.models import FilePurpose, TrialStatus, VoiceTrial
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, user_key
from audiobook_app.voice_library.catalog import (
    DATE_FORMAT,
    QWEN,
    VoiceEntry,
    file_ids,
    get_voice,
)
from pipeline.errors import NotFoundError, NoWorkerError, QueueError, VoiceRequestError

MAX_TRIAL_CHARS = 500
TRIAL_TIMEOUT_S = 600  # one trial: 500 characters, a model load included
TRIAL_PEAK_DBFS = -3.0  # trials are peak-normalised to this level (Piper's audio is not)


@dataclass(frozen=True)
class TrialEntry:
    """One row of the try-a-voice history: ``status`` queued, done or failed; the
    ``audio_url``/``download_url`` are "" until done; ``duration_s`` in seconds."""

    id: int
    voice_id: str
    voice_name: str
    text: str
    status: str
    created: str
    audio_url: str = ""
    download_url: str = ""
    duration_s: float = 0.0
    error: str = ""


def check_trial_text(text: str) -> str:
    """The text to speak, trimmed. Raises VoiceRequestError when empty or over
    :data:`MAX_TRIAL_CHARS` characters."""
    text = (text or "").strip()
    if not text:
        raise VoiceRequestError("type something for the voice to say")
    if len(text) > MAX_TRIAL_CHARS:
        raise VoiceRequestError(
            f"the text is {len(text)} characters; a try has at most {MAX_TRIAL_CHARS}"
        )
    return text


def queue_kind(entry: VoiceEntry) -> str:
    """The queue a voice speaks on: ``gpu`` for Qwen3-TTS, ``tts`` for Piper (CPU)."""
    return "gpu" if entry.engine == QWEN else "tts"


def require_gpu_worker(conn: redis.Redis, settings: Settings) -> None:
    """Refuse a Qwen3-TTS request that no worker would take: the ``gpu`` queue has
    workers only where the operator runs ``audiobook worker --queues gpu``, and a trial
    or design queued there without one would show "Speaking…" forever. A worker counts
    while it is registered on the queue (RQ's ``Worker.all(queue=...)``: alive, or dead
    for less than its TTL, a few minutes). Raises NoWorkerError (none), QueueError
    (Redis is down)."""
    try:
        workers = Worker.all(queue=queue.queue(conn, settings, "gpu"))
    except redis.RedisError as exc:
        raise QueueError(f"the queue is unavailable; try again in a minute ({exc})") from exc
    if not workers:
        raise NoWorkerError(
            "no GPU worker is running, so Qwen3-TTS voices cannot speak now: the operator "
            "starts one with `audiobook worker --queues gpu` on a machine with the "
            "Qwen3-TTS models"
        )


def start_trial(
    session: Session,
    conn: redis.Redis,
    settings: Settings,
    user_id: int,
    voice_id: str,
    text: str,
) -> int:
    """Queue "try a voice": ``text`` (1 to 500 characters) spoken by ``voice_id``; returns
    the trial id. Commits ``session`` (the worker must see the trial row), then enqueues
    ``worker.voice_tasks.try_voice`` on the voice's queue (:func:`queue_kind`).

    Counts against the author's ``settings.rate_voice_tries`` (shared with designs and
    clones). Raises VoiceRequestError (text empty or too long), NotFoundError (a voice
    the author may not use), NoWorkerError (a Qwen3-TTS voice and no gpu worker: nothing
    is recorded), RateLimitedError (too many tries: nothing is recorded), QueueError
    (Redis is down: the trial is marked failed).
    """
    text = check_trial_text(text)
    entry = get_voice(session, settings, user_id, voice_id)
    if queue_kind(entry) == "gpu":
        require_gpu_worker(conn, settings)
    ratelimit.hit(settings, "voice_tries", "user", user_id)
    trial = VoiceTrial(owner_id=user_id, voice_id=entry.id, voice_name=entry.name, text=text)
    session.add(trial)
    session.commit()
    try:
        queue.queue(conn, settings, queue_kind(entry)).enqueue(
            "worker.voice_tasks.try_voice",
            trial.id,
            job_timeout=TRIAL_TIMEOUT_S,
            result_ttl=600,
            failure_ttl=24 * 3600,
            description=f"try voice {entry.id} (trial {trial.id})",
        )
    except redis.RedisError as exc:
        fail_trial(session, trial.id, "the queue is unavailable; try again in a minute")
        session.commit()
        raise QueueError(f"could not queue the trial: {exc}") from exc
    return trial.id


def _trial_entry(trial: VoiceTrial, ids: dict[str, int]) -> TrialEntry:
    file_id = ids.get(trial.audio_key or "")
    return TrialEntry(
        id=trial.id,
        voice_id=trial.voice_id,
        voice_name=trial.voice_name,
        text=trial.text,
        status=str(trial.status),
        created=trial.created_at.strftime(DATE_FORMAT),
        audio_url=f"/files/{file_id}" if file_id else "",
        download_url=f"/files/{file_id}?download=1" if file_id else "",
        duration_s=round(trial.duration_s or 0.0, 1),
        error=trial.error or "",
    )


def list_trials(session: Session, user_id: int, limit: int = 50) -> list[TrialEntry]:
    """The author's latest ``limit`` trials, newest first."""
    rows = session.exec(
        select(VoiceTrial)
        .where(VoiceTrial.owner_id == user_id)
        .order_by(col(VoiceTrial.created_at).desc(), col(VoiceTrial.id).desc())
        .limit(limit)
    ).all()
    ids = file_ids(session, [r.audio_key or "" for r in rows])
    return [_trial_entry(r, ids) for r in rows]


def get_trial(session: Session, user_id: int, trial_id: int) -> TrialEntry:
    """One of the author's trials. Raises NotFoundError (another author's reads as missing)."""
    trial = session.get(VoiceTrial, trial_id)
    if trial is None or trial.owner_id != user_id:
        raise NotFoundError(f"no trial {trial_id}")
    return _trial_entry(trial, file_ids(session, [trial.audio_key or ""]))


def queued_trial(session: Session, trial_id: int) -> VoiceTrial | None:
    """The trial a worker is to speak, or None when it is unknown or no longer queued."""
    trial = session.get(VoiceTrial, trial_id)
    return trial if trial is not None and trial.status == TrialStatus.QUEUED else None


def encode_mp3(audio: np.ndarray, sample_rate_hz: int) -> bytes:
    """Mono float32 ``audio`` peak-normalised to :data:`TRIAL_PEAK_DBFS` as MP3 bytes
    (libsndfile's LAME, variable bit rate)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0:
        audio = audio * (10 ** (TRIAL_PEAK_DBFS / 20) / peak)
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, dtype=np.float32), sample_rate_hz, format="MP3")
    return buffer.getvalue()


def finish_trial(
    session: Session, storage: Storage, trial_id: int, audio: np.ndarray, sample_rate_hz: int
) -> None:
    """Store a trial's audio (MP3, with a File row) and mark it done with its duration.
    Raises NotFoundError, StorageError."""
    trial = session.get(VoiceTrial, trial_id)
    if trial is None:
        raise NotFoundError(f"no trial {trial_id}")
    data = encode_mp3(audio, sample_rate_hz)
    key = user_key(trial.owner_id, "trials", f"trial-{trial.id}-{uuid.uuid4().hex[:8]}.mp3")
    storage.put_bytes(key, data, "audio/mpeg")
    repo.add_file(session, trial.owner_id, key, len(data), "audio/mpeg", FilePurpose.VOICE_SAMPLE)
    trial.status, trial.audio_key, trial.error = TrialStatus.DONE, key, None
    trial.duration_s = len(audio) / sample_rate_hz
    session.add(trial)


def fail_trial(session: Session, trial_id: int, message: str) -> None:
    """Mark a trial failed with ``message`` (shown to the author)."""
    trial = session.get(VoiceTrial, trial_id)
    if trial is not None:
        trial.status, trial.error = TrialStatus.FAILED, message[:2000]
        session.add(trial)
