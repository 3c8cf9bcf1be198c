"""Every author's jobs as an admin sees them: filtered lists, details, retry and cancel.

Retry and cancel act for the job's owner through the services the author's own buttons
use (:func:`library.retry` with the owner's id, so the new job reserves the owner's
credits; :func:`jobs.queue.cancel` with the admin as actor, which releases the
reservation) and record the admin in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import redis
from sqlalchemy import func
from sqlmodel import Session, col, select

from audiobook_app import library
from audiobook_app.admin.access import (
    DEFAULT_PAGE_SIZE,
    Page,
    acting_admin,
    bounds,
    contains,
    day_range,
)
from audiobook_app.db import repo
from audiobook_app.db.models import Book, Chapter, Job, JobStatus, LedgerEntry, User
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from pipeline.errors import InputError


@dataclass(frozen=True)
class JobSummary:
    """One job in the admin's list: its owner and book, where it is, its audio seconds
    (``audio_s``, 0 before assembly), times naive UTC (None until reached)."""

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


@dataclass(frozen=True)
class TaskInfo:
    """One task (RQ job) of a job: ``attempts`` runs started, ``queue`` its RQ queue kind."""

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


@dataclass(frozen=True)
class ChapterInfo:
    """One chapter of a job: synthesis status, runs, seconds of audio once mastered."""

    index: int
    title: str
    words: int
    status: str
    attempts: int
    duration_s: float | None


@dataclass(frozen=True)
class LedgerRow:
    """A credit movement of the job (reservation, release, charge): ``delta`` credits."""

    id: int
    created_at: datetime
    reason: str
    delta: int
    note: str | None


@dataclass(frozen=True)
class JobDetail:
    """A job with its segments' progress, wall seconds per stage (``timings``), tasks,
    chapters and ledger rows."""

    job: JobSummary
    segments_done: int
    segments_total: int
    eta_s: float | None
    synth_started_at: datetime | None
    timings: dict[str, float]
    tasks: list[TaskInfo]
    chapters: list[ChapterInfo]
    ledger: list[LedgerRow]


def _summary(job: Job, email: str, title: str) -> JobSummary:
    return JobSummary(
        id=job.id,
        status=str(job.status),
        stage=job.stage,
        progress=round(job.progress, 3),
        owner_id=job.owner_id,
        owner_email=email,
        book_id=job.book_id,
        book_title=title,
        chapters=job.chapters_spec,
        audio_s=round(job.audio_s, 1),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    email: str | None = None,
    title: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> Page[JobSummary]:
    """Jobs of every author, newest first, one page: only ``status`` (a JobStatus
    value), an owner whose email contains ``email``, a book whose title contains
    ``title`` (both case-insensitive), created on the UTC days ``since``..``until``
    (inclusive), when given. Raises InputError for an unknown status or a reversed range."""
    limit, offset = bounds(limit, offset)
    where = []
    if status:
        if status not in {s.value for s in JobStatus}:
            raise InputError(f"status {status!r}: choose one of {[s.value for s in JobStatus]}")
        where.append(Job.status == status)
    if needle := contains(email):
        where.append(func.lower(col(User.email)).contains(needle, autoescape=True))
    if needle := contains(title):
        where.append(func.lower(col(Book.title)).contains(needle, autoescape=True))
    start, end = day_range(since, until)
    if start:
        where.append(col(Job.created_at) >= start)
    if end:
        where.append(col(Job.created_at) < end)
    joined = (
        select(Job, User.email, Book.title)
        .join(User, col(User.id) == col(Job.owner_id))
        .join(Book, col(Book.id) == col(Job.book_id))
        .where(*where)
    )
    total = session.exec(select(func.count()).select_from(joined.subquery())).one()
    rows = session.exec(
        joined.order_by(col(Job.created_at).desc(), col(Job.id).desc()).offset(offset).limit(limit)
    ).all()
    return Page([_summary(j, e, t) for j, e, t in rows], int(total), limit, offset)


def job_detail(session: Session, job_id: str) -> JobDetail:
    """Everything about job ``job_id``. Raises NotFoundError."""
    job = repo.get_job(session, job_id)
    owner = session.get(User, job.owner_id)
    book = session.get(Book, job.book_id)
    tasks = [
        TaskInfo(
            id=t.id,
            kind=str(t.kind),
            chapter_index=t.chapter_index,
            batch=t.batch,
            status=str(t.status),
            attempts=t.attempts,
            queue=queue.queue_kind(t),
            rq_job_id=t.rq_job_id,
            error=t.error,
            started_at=t.started_at,
            finished_at=t.finished_at,
        )
        for t in repo.job_tasks(session, job_id)
    ]
    chapters = [
        ChapterInfo(c.index, c.title, c.words, str(c.status), c.attempts, c.duration_s)
        for c in session.exec(
            select(Chapter).where(Chapter.job_id == job_id).order_by(col(Chapter.index))
        ).all()
    ]
    moves = session.exec(
        select(LedgerEntry)
        .where(LedgerEntry.job_id == job_id)
        .order_by(col(LedgerEntry.created_at), col(LedgerEntry.id))
    ).all()
    return JobDetail(
        job=_summary(job, owner.email if owner else "", book.title if book else ""),
        segments_done=job.segments_done,
        segments_total=job.segments_total,
        eta_s=job.eta_s,
        synth_started_at=job.synth_started_at,
        timings={str(k): float(v) for k, v in (job.timings or {}).items()},
        tasks=tasks,
        chapters=chapters,
        ledger=[LedgerRow(e.id, e.created_at, str(e.reason), e.delta, e.note) for e in moves],
    )


def _owner_of(settings: Settings, admin_id: int, job_id: str) -> int:
    with session_scope(settings.database_url) as session:
        acting_admin(session, admin_id)
        return repo.get_job(session, job_id).owner_id


def retry_job(conn: redis.Redis, settings: Settings, admin_id: int, job_id: str) -> str:
    """Run a failed or cancelled job again for its owner (:func:`library.retry`: a new
    job reusing stored segments, reserving the owner's credits); returns the new job's
    id. Raises ForbiddenError, NotFoundError (also for a deleted book or disabled
    owner), ConflictError (the job did not fail, or a newer job of the book runs),
    InsufficientCreditsError (the owner's balance is short)."""
    owner_id = _owner_of(settings, admin_id, job_id)
    new_id = library.retry(conn, settings, owner_id, job_id)
    with session_scope(settings.database_url) as session:
        repo.audit(
            session, admin_id, "admin.job.retry", "job", job_id, new_job=new_id, owner_id=owner_id
        )
    return new_id


def cancel_job(conn: redis.Redis, settings: Settings, admin_id: int, job_id: str) -> JobSummary:
    """Cancel any author's job (:func:`jobs.queue.cancel`, audited as ``job.cancel``
    with the admin as actor; a job that ended already is left as it is); returns it.
    Raises ForbiddenError, NotFoundError."""
    _owner_of(settings, admin_id, job_id)
    queue.cancel(conn, settings, job_id, actor_id=admin_id)
    with session_scope(settings.database_url) as session:
        return job_detail(session, job_id).job
