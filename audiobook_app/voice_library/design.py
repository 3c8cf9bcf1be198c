"""Design a voice from a description: samples to choose from, the chosen one kept.

:func:`start_design` stores the request (``users/<id>/designs/<design id>/design.json``:
description, sample text, number of samples) and enqueues the ``design_voice`` RQ job
(:mod:`worker.voice_tasks`, ``gpu`` queue, RQ job id ``design-<design id>``), which
speaks the sample text with the Qwen3-TTS VoiceDesign model ``n`` times and stores each
take with :func:`store_design_samples` (24 kHz WAV, with File rows so the page plays
them). :func:`design_status` tells the page how it goes. The author picks one take:
:func:`choose_design_sample` makes it a designed voice whose reference is that take and
whose transcript is the sample text, so the Base model clones the same voice for a whole
book; the other takes are deleted.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field

import numpy as np
import redis
import soundfile as sf
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.serializers import JSONSerializer
from sqlmodel import Session, col, select

from audiobook_app import ratelimit
from audiobook_app.db import repo
from audiobook_app.db.models import File, FilePurpose, Voice, VoiceKind
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, user_key
from audiobook_app.voice_library.catalog import VoiceEntry, active_user, row_entries
from audiobook_app.voice_library.clones import add_reference_voice, check_name
from audiobook_app.voice_library.trials import check_trial_text, require_gpu_worker
from pipeline.errors import ConfigError, NotFoundError, VoiceRequestError

DESIGN_SAMPLES = 3  # takes per design request
DESIGN_TIMEOUT_S = 900  # the design job: a model load and three takes of 500 characters
MAX_DESCRIPTION_CHARS = 500  # VoiceConfig.instruct's limit
SAMPLE_RATE_HZ = 24000  # what the VoiceDesign model speaks at
_DESIGN_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class DesignSample:
    """One take of a design: ``index`` (0-based) and the URL that plays it."""

    index: int
    url: str


@dataclass(frozen=True)
class DesignView:
    """A design request as the page shows it: ``status`` is running, ready or failed
    (``error`` then says why); ``samples`` are there once ready."""

    id: str = ""
    status: str = ""
    description: str = ""
    text: str = ""
    samples: list[DesignSample] = field(default_factory=list)
    error: str = ""


def design_unavailable(settings: Settings) -> str:
    """Why designing voices is off on this server, or "" when it is on (it needs the
    VoiceDesign model to make the takes and the Base model to speak the chosen one)."""
    if settings.qwen_voice_design_dir is None or settings.qwen_base_dir is None:
        return (
            "Designing a voice needs the Qwen3-TTS VoiceDesign and Base models on a GPU "
            "worker; this server has not been given them (the operator sets "
            "AUDIOBOOK_QWEN_VOICE_DESIGN_DIR and AUDIOBOOK_QWEN_BASE_DIR)."
        )
    return ""


def _prefix(user_id: int, design_id: str) -> str:
    if not _DESIGN_ID.match(design_id or ""):
        raise NotFoundError(f"no voice design {design_id!r}")
    return user_key(user_id, "designs", design_id) + "/"


def rq_job_id(design_id: str) -> str:
    """The RQ job id of a design request."""
    return f"design-{design_id}"


def start_design(
    session: Session,
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    description: str,
    text: str,
    n: int = DESIGN_SAMPLES,
) -> str:
    """Queue the design of a voice from ``description`` ("warm baritone, fifties, slight
    Scottish accent"), ``n`` takes of ``text`` (1 to 500 characters); returns the design id.

    Counts against the author's ``settings.rate_voice_tries`` (with tries and clones).
    Raises VoiceRequestError (no description, or one over 500 characters; text empty or
    too long), ConfigError (no VoiceDesign or Base model: :func:`design_unavailable`),
    NoWorkerError (no gpu worker runs: nothing is stored or queued), RateLimitedError
    (too many requests: nothing is stored or queued), NotFoundError (unknown user),
    StorageError, QueueError or redis errors when Redis is down.
    """
    active_user(session, user_id)
    description = " ".join((description or "").split())
    if not description:
        raise VoiceRequestError("describe the voice: who speaks, age, accent, tone")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise VoiceRequestError(f"a description has at most {MAX_DESCRIPTION_CHARS} characters")
    text = check_trial_text(text)
    if reason := design_unavailable(settings):
        raise ConfigError(reason)
    require_gpu_worker(conn, settings)
    ratelimit.hit(settings, "voice_tries", "user", user_id)
    design_id = uuid.uuid4().hex[:16]
    request = {"description": description, "text": text, "n": n}
    storage.put_bytes(
        _prefix(user_id, design_id) + "design.json",
        json.dumps(request).encode(),
        "application/json",
    )
    repo.audit(session, user_id, "voice.design", "design", design_id, description=description)
    queue.queue(conn, settings, "gpu").enqueue(
        "worker.voice_tasks.design_voice",
        user_id,
        design_id,
        job_id=rq_job_id(design_id),
        job_timeout=DESIGN_TIMEOUT_S,
        result_ttl=24 * 3600,
        failure_ttl=24 * 3600,
        description=f"design a voice for user {user_id} ({design_id})",
    )
    return design_id


def design_request(storage: Storage, user_id: int, design_id: str) -> tuple[str, str, int]:
    """(description, sample text, number of takes) of one of the author's design
    requests. Raises NotFoundError (unknown, chosen already, or not the author's)."""
    try:
        request = json.loads(storage.get_bytes(_prefix(user_id, design_id) + "design.json"))
    except NotFoundError:
        raise NotFoundError(f"no voice design {design_id!r}") from None
    return request["description"], request["text"], int(request["n"])


def _sample_key(user_id: int, design_id: str, index: int) -> str:
    return f"{_prefix(user_id, design_id)}sample-{index}.wav"


def store_design_samples(
    session: Session, storage: Storage, user_id: int, design_id: str, takes: list[np.ndarray]
) -> None:
    """Store the takes of a design (float32 mono at :data:`SAMPLE_RATE_HZ`) as 16-bit
    WAV files with File rows. Raises StorageError."""
    for index, audio in enumerate(takes):
        buffer = io.BytesIO()
        sf.write(buffer, np.clip(audio, -1, 1), SAMPLE_RATE_HZ, format="WAV", subtype="PCM_16")
        key, data = _sample_key(user_id, design_id, index), buffer.getvalue()
        storage.put_bytes(key, data, "audio/wav")
        repo.add_file(session, user_id, key, len(data), "audio/wav", FilePurpose.VOICE_SAMPLE)


def _takes(session: Session, prefix: str) -> list[File]:
    rows = session.exec(select(File).where(col(File.key).startswith(prefix + "sample-"))).all()
    return sorted(rows, key=lambda f: f.key)


def _job_failure(conn: redis.Redis, design_id: str) -> str | None:
    """Why the design job ended without takes; None while it is queued or running."""
    try:
        job = RQJob.fetch(rq_job_id(design_id), connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        return "the design request expired or was lost; start it again"
    status = job.get_status()
    if status in (RQStatus.FINISHED, RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED):
        return job.meta.get("error") or "the voice design failed (see the GPU worker's log)"
    return None


def design_status(
    session: Session, conn: redis.Redis, storage: Storage, user_id: int, design_id: str
) -> DesignView:
    """Where one of the author's design requests stands. Raises NotFoundError."""
    description, text, _ = design_request(storage, user_id, design_id)
    view = DesignView(id=design_id, status="running", description=description, text=text)
    takes = _takes(session, _prefix(user_id, design_id))
    if takes:
        samples = [DesignSample(i, f"/files/{f.id}") for i, f in enumerate(takes)]
        return DesignView(design_id, "ready", description, text, samples)
    error = _job_failure(conn, design_id)
    if error is not None:
        return DesignView(design_id, "failed", description, text, error=error)
    return view


def choose_design_sample(
    session: Session,
    storage: Storage,
    user_id: int,
    design_id: str,
    index: int,
    name: str,
) -> VoiceEntry:
    """Keep take ``index`` of a design as the author's designed voice ``name``: its
    reference is that take, its transcript the sample text, its description the
    design's; the design's takes are then deleted. Raises VoiceRequestError (no name),
    NotFoundError (unknown design or take), StorageError."""
    name = check_name(name)
    description, text, _ = design_request(storage, user_id, design_id)
    prefix = _prefix(user_id, design_id)
    takes = _takes(session, prefix)
    if not 0 <= index < len(takes):
        raise NotFoundError(f"no take {index + 1} in this voice design")
    voice = Voice(name=name, kind=VoiceKind.DESIGNED, engine="qwen3-tts", model="Base")
    voice.description, voice.reference_text, voice.language = description, text, "English"
    voice = add_reference_voice(
        session, storage, user_id, voice, storage.get_bytes(takes[index].key)
    )
    for take in takes:
        session.delete(take)
    storage.delete_prefix(prefix)
    return row_entries(session, [voice], user_id)[0]
