"""Database models (SQLModel). The schema changes only through Alembic (``alembic/``).

Conventions: integer primary keys except jobs and tasks (opaque hex ids, safe in URLs
and as RQ job ids); statuses are ``str`` enums stored as plain strings (no database
enum types, so PostgreSQL and SQLite migrate alike); times are naive UTC
(:func:`utcnow`), annotated ``NaiveDatetime`` (SQLModel maps a bare ``datetime`` to a
timezone-aware column type that rejects naive values); JSON columns hold small
structured data only (chapter lists, config overrides), never audio or text bodies.
The credit ledger is append-only: the ORM refuses updates and deletes of
:class:`LedgerEntry` rows (see ``db.session``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Every constraint gets a predictable name (Alembic, "The Importance of Naming
# Constraints"): later migrations can drop or alter it by that name on both databases,
# which SQLite batch mode needs (it cannot refer to an unnamed constraint).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time as naive UTC (what every timestamp column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    """A random 32-hex-digit id for jobs (unguessable, URL- and RQ-safe)."""
    return uuid.uuid4().hex


def _status(default: StrEnum) -> Any:
    return Field(default=default, sa_type=String(16), index=True)


def _json(default_factory=dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSON)


class UserRole(StrEnum):
    AUTHOR = "author"
    ADMIN = "admin"


class BookStatus(StrEnum):
    """A manuscript's life before any job: uploaded -> ready (parsed) | rejected (the
    parser's message is in ``Book.error``)."""

    UPLOADED = "uploaded"
    READY = "ready"
    REJECTED = "rejected"


class JobStatus(StrEnum):
    """A book job's life: pending -> queued -> processing -> completed | failed | cancelled."""

    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class TaskKind(StrEnum):
    """The RQ jobs one book job fans out into: ``prepare``, ``master`` (hear and master
    one chapter as soon as its segments are stored, so it can be played early) and
    ``assemble`` on the ``cpu`` queue, one ``synthesize`` per batch of a chapter's
    segments on ``tts`` (``gpu`` for a Qwen3-TTS voice), and ``retake`` on ``gpu``: the
    retakes a chapter's ``master`` asked for of its Qwen3-TTS segments."""

    PREPARE = "prepare"
    SYNTHESIZE = "synthesize"
    MASTER = "master"
    ASSEMBLE = "assemble"
    RETAKE = "retake"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ChapterStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class SegmentStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class FilePurpose(StrEnum):
    SOURCE = "source"  # the uploaded manuscript
    COVER = "cover"
    M4B = "m4b"
    MP3 = "mp3"
    WAV = "wav"
    FLAC = "flac"
    REPORT = "report"  # report.json (validation)
    VOICE_SAMPLE = "voice_sample"
    # the extras written after assembly (worker/extras.py; pipeline.extras)
    SUBTITLES = "subtitles"  # one WebVTT or SRT file of a chapter
    READALONG = "readalong"  # the EPUB 3 with Media Overlays (EPUB input)
    SAMPLE = "sample"  # the retail sample, sample.mp3
    ABS = "abs"  # abs.zip: the Audiobookshelf folder <Author>/<Title>/...


class VoiceKind(StrEnum):
    BUILTIN = "builtin"
    DESIGNED = "designed"
    CLONED = "cloned"


class LedgerReason(StrEnum):
    """Why credits moved (``audiobook_app.billing.ledger``). A job's life in the ledger:
    ``reservation`` (-estimate) at Start; at completion ``release`` (+reserved) and
    ``charge`` (-real); at failure or cancel ``release`` (+reserved) alone."""

    GRANT = "grant"  # the new-account gift, or an admin's grant (+) or removal (-)
    PURCHASE = "purchase"  # a Stripe Checkout payment (+)
    RESERVATION = "reservation"  # held at Start (-)
    CHARGE = "charge"  # a completed job's real minutes (-)
    RELEASE = "release"  # a reservation given back (+)
    REFUND = "refund"  # a purchase refunded at Stripe (-)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True, index=True)
    password_hash: str | None = Field(default=None, sa_type=String(255))  # None: OAuth-only
    role: UserRole = Field(default=UserRole.AUTHOR, sa_type=String(16))
    disabled: bool = False
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Book(SQLModel, table=True):
    """A manuscript an author uploaded (a project): source file, parse results, choices."""

    __tablename__ = "books"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    title: str = Field(default="", sa_type=String(500))
    author: str | None = Field(default=None, sa_type=String(500))
    language: str | None = Field(default=None, sa_type=String(35))
    source_filename: str = Field(sa_type=String(255))
    source_key: str = Field(sa_type=String(1024))
    source_format: str | None = Field(default=None, sa_type=String(8))
    words: int = 0
    estimated_duration_s: float = 0.0
    # The tracks at the current layout: [{index, title, words, first, last}] (first..last:
    # the sections of `outline` each is made of; see audiobook_app.book_structure)
    chapters: list[dict] = _json(list)
    outline: list[dict] = _json(list)  # [{level, title, words}] per section, as parsed
    layout: dict = _json()  # pipeline.structure.Layout.to_dict(); {} = the default level
    chosen_chapters: list[int] | None = Field(default=None, sa_type=JSON)  # None = all
    # who speaks, as the inspect job attributed the quotations: [{name, lines}], most first
    speakers: list[dict] = _json(list)
    # library voice ids: {"mode": single|dual|full, "narrator": id, "dialogue": id | None,
    # "characters": {name: id}} (audiobook_app.book_cast)
    casting: dict = _json()
    config_overrides: dict = _json()  # PipelineConfig sections, validated on use
    status: BookStatus = _status(BookStatus.UPLOADED)
    error: str | None = Field(default=None, sa_type=Text)  # why the parser rejected it
    cover_key: str | None = Field(default=None, sa_type=String(1024))
    playback: dict = _json()  # the player's last place: {"chapter_index": n, "position_s": x}
    # the inspect RQ job, watched like a job's tasks (worker watchdog): its RQ id, runs
    # started, and the lease its heartbeat renews
    inspect_rq_job_id: str | None = Field(default=None, sa_type=String(100))
    inspect_attempts: int = 0
    inspect_lease_expires_at: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    deleted_at: NaiveDatetime | None = None  # files removed; rows kept for usage and audit


class Job(SQLModel, table=True):
    """One generation run of a book. ``stage``/``progress``/``eta_s`` mirror the latest
    progress event, so a late subscriber sees the current state from the row alone."""

    __tablename__ = "jobs"

    id: str = Field(default_factory=new_id, primary_key=True, sa_type=String(32))
    book_id: int = Field(foreign_key="books.id", index=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    status: JobStatus = _status(JobStatus.PENDING)
    stage: str = Field(default="", sa_type=String(16))
    progress: float = 0.0  # 0..1 over the whole job
    chapter_index: int | None = None  # chapter being synthesized most recently
    segments_done: int = 0
    segments_total: int = 0
    eta_s: float | None = None
    error: str | None = Field(default=None, sa_type=Text)
    chapters_spec: str | None = Field(default=None, sa_type=String(200))  # "1-3,5"
    config: dict = _json()  # the PipelineConfig dump this job runs with
    audio_s: float = 0.0
    timings: dict = _json()  # stage -> wall seconds
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    started_at: NaiveDatetime | None = None
    synth_started_at: NaiveDatetime | None = None
    finished_at: NaiveDatetime | None = None
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    """One RQ job of a book job. The database, not Redis, is the record of what must
    run: the watchdog re-enqueues tasks whose RQ job vanished or whose lease expired."""

    __tablename__ = "tasks"

    id: str = Field(primary_key=True, sa_type=String(80))  # "<job id>-synth-3-0"
    job_id: str = Field(foreign_key="jobs.id", index=True, sa_type=String(32))
    kind: TaskKind = Field(sa_type=String(16))
    chapter_index: int | None = None
    batch: int | None = None
    status: TaskStatus = _status(TaskStatus.QUEUED)
    attempts: int = 0  # times a worker started it
    rq_job_id: str | None = Field(default=None, sa_type=String(100))
    queue: str | None = Field(default=None, sa_type=String(16))  # None: the kind's queue
    lease_expires_at: NaiveDatetime | None = None
    error: str | None = Field(default=None, sa_type=Text)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    started_at: NaiveDatetime | None = None
    finished_at: NaiveDatetime | None = None


class Chapter(SQLModel, table=True):
    """A chapter of a job: its synthesis status and, when assembled, its audio."""

    __tablename__ = "chapters"
    __table_args__ = (UniqueConstraint("job_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, sa_type=String(32))
    index: int  # 1-based, as `inspect` lists it
    title: str = Field(sa_type=String(500))
    words: int = 0
    status: ChapterStatus = _status(ChapterStatus.PENDING)
    attempts: int = 0
    audio_key: str | None = Field(default=None, sa_type=String(1024))  # the chapter MP3
    duration_s: float | None = None


class Segment(SQLModel, table=True):
    """A segment of a job's chapter. ``attempts`` counts syntheses: after a crash and
    resume every completed segment still reads 1."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("job_id", "chapter_index", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, sa_type=String(32))
    chapter_index: int
    position: int  # 0-based within the chapter
    segment_hash: str = Field(sa_type=String(64), index=True)  # pipeline Segment.id
    chars: int
    status: SegmentStatus = Field(default=SegmentStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    audio_key: str | None = Field(default=None, sa_type=String(1024))
    duration_s: float | None = None


class File(SQLModel, table=True):
    """A stored object a user owns (upload or output)."""

    __tablename__ = "files"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    book_id: int | None = Field(default=None, foreign_key="books.id", index=True)
    job_id: str | None = Field(default=None, foreign_key="jobs.id", index=True, sa_type=String(32))
    key: str = Field(sa_type=String(1024), unique=True)
    size_bytes: int
    mime: str = Field(sa_type=String(100))
    purpose: FilePurpose = Field(sa_type=String(16))
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Voice(SQLModel, table=True):
    """A narrator or character voice: built-in (owner None), designed or cloned."""

    __tablename__ = "voices"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    name: str = Field(sa_type=String(200))
    kind: VoiceKind = Field(default=VoiceKind.BUILTIN, sa_type=String(16))
    engine: str = Field(sa_type=String(32))  # "piper", "qwen3-tts"
    model: str = Field(sa_type=String(1024))  # engine's voice id or local path
    language: str | None = Field(default=None, sa_type=String(35))
    description: str | None = Field(default=None, sa_type=Text)
    sample_key: str | None = Field(default=None, sa_type=String(1024))
    params: dict = _json()  # pipeline.config.VoiceConfig fields (engine parameters)
    reference_key: str | None = Field(default=None, sa_type=String(1024))  # clone reference
    reference_text: str | None = Field(default=None, sa_type=Text)  # its transcript
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class TrialStatus(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class VoiceTrial(SQLModel, table=True):
    """One "try a voice" generation: up to 500 characters spoken by one voice."""

    __tablename__ = "voice_trials"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    voice_id: str = Field(sa_type=String(64))  # a library id ("joe-deep", "qwen:ryan", "v12")
    voice_name: str = Field(sa_type=String(200))  # as it was named when tried
    text: str = Field(sa_type=Text)
    status: TrialStatus = Field(default=TrialStatus.QUEUED, sa_type=String(16))
    audio_key: str | None = Field(default=None, sa_type=String(1024))
    duration_s: float | None = None
    error: str | None = Field(default=None, sa_type=Text)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class UsageEvent(SQLModel, table=True):
    """A metered unit of work (e.g. seconds of audio synthesized for a job)."""

    __tablename__ = "usage_events"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    job_id: str | None = Field(default=None, foreign_key="jobs.id", index=True, sa_type=String(32))
    kind: str = Field(sa_type=String(32))  # "audio_generated"
    quantity: float
    unit: str = Field(sa_type=String(16))  # "s"
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """Append-only credit ledger: a user's balance is the sum of ``delta``.
    ``external_ref`` (unique) makes purchases idempotent (Stripe event id)."""

    __tablename__ = "credit_ledger"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    delta: int  # credits: + grant/purchase/refund, - charge
    reason: LedgerReason = Field(sa_type=String(16))
    job_id: str | None = Field(default=None, foreign_key="jobs.id", sa_type=String(32))
    external_ref: str | None = Field(default=None, sa_type=String(255), unique=True)
    note: str | None = Field(default=None, sa_type=Text)
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # the admin, for grants
    detail: dict = _json()  # e.g. {"pack": id, "amount_cents": n, "payment_intent": id}
    created_at: NaiveDatetime = Field(default_factory=utcnow, index=True)


class AuditLog(SQLModel, table=True):
    """Who did what to which object (admin actions, cancels, deletes, sign-ins)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(sa_type=String(64))
    target_type: str = Field(sa_type=String(32))
    target_id: str = Field(sa_type=String(64))
    detail: dict = _json()
    created_at: NaiveDatetime = Field(default_factory=utcnow)


# --- Accounts. Secrets handed to a browser or an inbox (session tokens, reset links,
# OAuth states) are stored only as their SHA-256 hex digest (``accounts.tokens``), so a
# leaked database copy cannot sign anyone in.


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the token, the row its hash. ``expires_at``
    slides forward while the session is used (``accounts.sessions``)."""

    __tablename__ = "sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    user_agent: str | None = Field(default=None, sa_type=String(512))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    last_seen_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime = Field(index=True)


class PasswordResetToken(SQLModel, table=True):
    """An emailed password-reset link: single use (``used_at``), short-lived."""

    __tablename__ = "password_reset_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime
    used_at: NaiveDatetime | None = None


class OAuthState(SQLModel, table=True):
    """A sign-in started at an OAuth provider and not finished yet: what the callback
    must match (state, by hash) and what it needs (nonce, PKCE verifier). Deleted when
    the callback consumes it, so a state works once."""

    __tablename__ = "oauth_states"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(sa_type=String(64), unique=True)
    provider: str = Field(sa_type=String(32))
    redirect_uri: str = Field(sa_type=String(2048))
    nonce: str = Field(sa_type=String(128))
    code_verifier: str = Field(sa_type=String(128))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime = Field(index=True)


class OAuthIdentity(SQLModel, table=True):
    """A provider account (``provider`` + its stable ``subject``, the ID token's ``sub``)
    linked to a user, so a later sign-in finds the user even after an email change."""

    __tablename__ = "oauth_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    provider: str = Field(sa_type=String(32))
    subject: str = Field(sa_type=String(255))
    email: str = Field(sa_type=String(320))  # as the provider last asserted it
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    last_login_at: NaiveDatetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A personal REST API key: the key is shown once at creation; the row keeps its
    SHA-256 digest and its first characters (``prefix``) to tell keys apart."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(sa_type=String(100))
    prefix: str = Field(sa_type=String(16))
    key_hash: str = Field(sa_type=String(64), unique=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    last_used_at: NaiveDatetime | None = None
    revoked_at: NaiveDatetime | None = None
