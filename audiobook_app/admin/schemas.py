"""Request and response models of the admin API (``/api/v1/admin``,
:mod:`audiobook_app.api.routers.admin`): the admin services' dataclasses as pydantic
models (read from their attributes), named ``Admin*`` so the OpenAPI document keeps
them apart from the author API's models. Times are naive UTC; credits whole numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from audiobook_app.billing.ledger import MAX_GRANT


class _Out(BaseModel):
    """A response model read from a service dataclass's attributes."""

    model_config = ConfigDict(from_attributes=True)


class AdminUser(_Out):
    """An account: ``balance`` spendable credits, ``reserved`` held by running jobs,
    ``minutes_generated`` minutes of audio produced, ``books`` not deleted."""

    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    balance: int
    reserved: int
    minutes_generated: float
    books: int


class AdminUserPage(_Out):
    """One page of accounts: ``items`` from ``offset`` of ``total``."""

    items: list[AdminUser]
    total: int
    limit: int
    offset: int


class AdminGrantIn(BaseModel):
    """Credits to add (> 0) or remove (< 0), and why (kept in the ledger)."""

    credits: int = Field(ge=-MAX_GRANT, le=MAX_GRANT)
    reason: str = Field(min_length=1, max_length=500)


class AdminGrant(_Out):
    """The ledger entry written: ``delta`` credits, ``actor_id`` the admin."""

    id: int
    user_id: int
    delta: int
    reason: str
    note: str | None
    actor_id: int | None
    created_at: datetime
    balance: int


class AdminRoleIn(BaseModel):
    """The role to give."""

    role: Literal["admin", "author"]


class AdminJob(_Out):
    """A job: owner, book, status and stage, ``progress`` 0..1, ``audio_s`` seconds."""

    id: str
    status: str
    stage: str
    progress: float
    owner_id: int
    owner_email: str
    book_id: int
    book_title: str
    chapters: str | None
    audio_s: float
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AdminJobPage(_Out):
    """One page of jobs: ``items`` from ``offset`` of ``total``."""

    items: list[AdminJob]
    total: int
    limit: int
    offset: int


class AdminTask(_Out):
    """A task (one RQ job) of a job: runs started (``attempts``), its queue kind."""

    id: str
    kind: str
    chapter_index: int | None
    batch: int | None
    status: str
    attempts: int
    queue: str
    rq_job_id: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class AdminChapter(_Out):
    """A chapter of a job: synthesis status, runs, seconds of audio once mastered."""

    index: int
    title: str
    words: int
    status: str
    attempts: int
    duration_s: float | None


class AdminLedgerRow(_Out):
    """A credit movement of the job (``delta`` credits)."""

    id: int
    created_at: datetime
    reason: str
    delta: int
    note: str | None


class AdminJobDetail(_Out):
    """A job with segments' progress, wall seconds per stage, tasks, chapters, credits."""

    job: AdminJob
    segments_done: int
    segments_total: int
    eta_s: float | None
    synth_started_at: datetime | None
    timings: dict[str, float]
    tasks: list[AdminTask]
    chapters: list[AdminChapter]
    ledger: list[AdminLedgerRow]


class AdminRetry(BaseModel):
    """The job a retry created."""

    job_id: str = Field(description="the new job")


class AdminQueue(_Out):
    """RQ jobs of one queue: waiting, running, failed, scheduled."""

    kind: str
    name: str
    queued: int
    started: int
    failed: int
    scheduled: int


class AdminWorker(_Out):
    """A live worker: its queues, RQ state, the RQ job it runs now ("" when idle)."""

    name: str
    queues: list[str]
    state: str
    current_job_id: str
    current_job: str
    hostname: str
    pid: int | None
    last_heartbeat: datetime | None


class AdminFailedJob(_Out):
    """A failed RQ job: queue kind, description, end, last line of its error."""

    id: str
    kind: str
    queue: str
    description: str
    ended_at: datetime | None
    error: str


class AdminQueueAction(BaseModel):
    """The RQ job acted on and its queue."""

    id: str
    queue: str


class AdminRecover(BaseModel):
    """What one watchdog pass touched."""

    tasks: list[str] = Field(description="ids of the tasks enqueued again or given up on")


class AdminDayUsage(_Out):
    """One UTC day: minutes generated, credits charged and sold, revenue in cents of
    ``currency``, purchases, credits refunded."""

    day: date
    minutes_generated: float
    credits_charged: int
    credits_sold: int
    revenue_cents: int
    purchases: int
    credits_refunded: int


class AdminUsage(BaseModel):
    """Usage per day, oldest first; money in cents of ``currency``."""

    currency: str
    days: list[AdminDayUsage]


class AdminAuditRow(_Out):
    """An audit row: ``actor_email`` "" for the system."""

    id: int
    created_at: datetime
    actor_id: int | None
    actor_email: str
    action: str
    target_type: str
    target_id: str
    detail: dict


class AdminAuditPage(_Out):
    """One page of audit rows: ``items`` from ``offset`` of ``total``."""

    items: list[AdminAuditRow]
    total: int
    limit: int
    offset: int
