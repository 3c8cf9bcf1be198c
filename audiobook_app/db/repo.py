"""Repository functions: every query the platform runs, each taking the session first.

Callers (CLI, workers, web handlers) never build queries inline. Functions flush but do
not commit; the caller's :func:`audiobook_app.db.session.session_scope` commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from audiobook_app.db.models import (
    AuditLog,
    Book,
    Chapter,
    ChapterStatus,
    File,
    FilePurpose,
    Job,
    JobStatus,
    Segment,
    SegmentStatus,
    Task,
    TaskKind,
    TaskStatus,
    UsageEvent,
    User,
    UserRole,
    utcnow,
)
from pipeline.errors import NotFoundError

ACTIVE_TASK = (TaskStatus.QUEUED, TaskStatus.RUNNING)


def get_or_create_user(session: Session, email: str, role: UserRole = UserRole.AUTHOR) -> User:
    """The user with ``email`` (case-insensitive), created without a password if absent."""
    email = email.strip().lower()
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, role=role)
        session.add(user)
        session.flush()
    return user


def get_job(session: Session, job_id: str, owner_id: int | None = None) -> Job:
    """The job ``job_id`` (owned by ``owner_id`` when given). Raises NotFoundError."""
    job = session.get(Job, job_id)
    if job is None or (owner_id is not None and job.owner_id != owner_id):
        raise NotFoundError(
            f"no job {job_id!r}; `audiobook status` takes the id `audiobook submit` printed"
        )
    return job


def get_task(session: Session, task_id: str) -> Task:
    """The task ``task_id``. Raises NotFoundError."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"no task {task_id!r}")
    return task


def add_file(
    session: Session,
    owner_id: int,
    key: str,
    size_bytes: int,
    mime: str,
    purpose: FilePurpose,
    *,
    book_id: int | None = None,
    job_id: str | None = None,
) -> File:
    """Record a stored object (replacing the row of an object re-written under ``key``)."""
    row = session.exec(select(File).where(File.key == key)).first() or File(
        key=key, owner_id=owner_id, size_bytes=0, mime=mime, purpose=purpose
    )
    row.size_bytes, row.mime, row.purpose, row.book_id, row.job_id = (
        size_bytes,
        mime,
        purpose,
        book_id,
        job_id,
    )
    session.add(row)
    session.flush()
    return row


def job_files(session: Session, job_id: str) -> list[File]:
    """Output files of a job, M4B first, then chapter files by key."""
    rows = session.exec(select(File).where(File.job_id == job_id)).all()
    return sorted(rows, key=lambda f: (f.purpose != FilePurpose.M4B, f.key))


def add_task(
    session: Session,
    job: Job,
    kind: TaskKind,
    *,
    chapter_index: int | None = None,
    batch: int | None = None,
    queue: str | None = None,
) -> Task:
    """Create a queued task of ``job`` with a deterministic id (so a duplicate insert fails);
    ``queue`` ("gpu") overrides the kind's queue (``audiobook_app.jobs.queue.QUEUE_OF``)."""
    suffix = kind.value if chapter_index is None else f"{kind.value}-{chapter_index}-{batch or 0}"
    task = Task(
        id=f"{job.id}-{suffix}",
        job_id=job.id,
        kind=kind,
        chapter_index=chapter_index,
        batch=batch,
        queue=queue,
    )
    session.add(task)
    session.flush()
    return task


def job_tasks(
    session: Session, job_id: str, kind: TaskKind | None = None, *, chapter_index: int | None = None
) -> list[Task]:
    """Tasks of a job (of one kind, of one chapter, when given), by id."""
    query = select(Task).where(Task.job_id == job_id)
    if kind is not None:
        query = query.where(Task.kind == kind)
    if chapter_index is not None:
        query = query.where(Task.chapter_index == chapter_index)
    return list(session.exec(query.order_by(Task.id)).all())


def active_tasks(session: Session) -> list[Task]:
    """Queued or running tasks of jobs that are not final: what the watchdog watches."""
    query = (
        select(Task)
        .join(Job, col(Task.job_id) == col(Job.id))
        .where(col(Task.status).in_(ACTIVE_TASK))
        .where(col(Job.status).in_((JobStatus.QUEUED, JobStatus.PROCESSING)))
    )
    return list(session.exec(query).all())


def renew_lease(session: Session, task_id: str, run_id: str | None, lease_s: float) -> bool:
    """Push a running task's lease ``lease_s`` seconds into the future (its heartbeat).
    Returns False when the task is no longer this run's (``run_id``: the RQ job id):
    the watchdog gave it to another run, or it ended."""
    query = (
        update(Task).where(col(Task.id) == task_id).where(col(Task.status) == TaskStatus.RUNNING)
    )
    if run_id is not None:
        query = query.where(col(Task.rq_job_id) == run_id)
    result = session.execute(query.values(lease_expires_at=utcnow() + timedelta(seconds=lease_s)))
    return result.rowcount > 0


def stop_active_tasks(session: Session, job_id: str, status: TaskStatus) -> list[Task]:
    """Mark every queued/running task of a job ``status``; return them (for RQ clean-up)."""
    tasks = [t for t in job_tasks(session, job_id) if t.status in ACTIVE_TASK]
    for task in tasks:
        task.status, task.finished_at = status, utcnow()
        session.add(task)
    session.flush()
    return tasks


def add_chapters_and_segments(
    session: Session, job: Job, rows: Sequence[tuple[Chapter, Sequence[Segment]]]
) -> None:
    """Insert a job's chapters and their segments (prepare stage)."""
    for chapter, segments in rows:
        session.add(chapter)
        session.add_all(segments)
    job.segments_total = sum(len(segs) for _, segs in rows)
    session.add(job)
    session.flush()


def job_segments(session: Session, job_id: str, chapter_index: int | None = None) -> list[Segment]:
    """Segments of a job (one chapter when given), in reading order."""
    query = select(Segment).where(Segment.job_id == job_id)
    if chapter_index is not None:
        query = query.where(Segment.chapter_index == chapter_index)
    return list(session.exec(query.order_by(Segment.chapter_index, Segment.position)).all())


def segment_totals(session: Session, job_id: str) -> dict[str, float]:
    """Counts for progress: ``done``/``total`` segments, ``chars_done``/``chars_total``,
    ``chars_synthesized`` (done in this job, not reused), ``audio_s``."""
    done = Segment.status == SegmentStatus.COMPLETED
    row = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Segment.chars), 0),
            func.count().filter(done),
            func.coalesce(func.sum(Segment.chars).filter(done), 0),
            func.coalesce(func.sum(Segment.chars).filter(done, col(Segment.attempts) > 0), 0),
            func.coalesce(func.sum(Segment.duration_s), 0.0),
        ).where(Segment.job_id == job_id)
    ).one()
    keys = ("total", "chars_total", "done", "chars_done", "chars_synthesized", "audio_s")
    return dict(zip(keys, (float(v) for v in row)))


def mark_chapter(
    session: Session, job_id: str, index: int, status: ChapterStatus, **values
) -> None:
    """Set a chapter's status (and e.g. ``audio_key``, ``duration_s``); a completed
    chapter never goes back to processing (a late batch of a resumed task)."""
    query = update(Chapter).where(col(Chapter.job_id) == job_id).where(col(Chapter.index) == index)
    if status != ChapterStatus.COMPLETED:
        query = query.where(col(Chapter.status) != ChapterStatus.COMPLETED)
    session.execute(query.values(status=status, **values))


def start_chapter(session: Session, job_id: str, index: int) -> None:
    """A synthesis task of the chapter started: ``processing``, attempts + 1."""
    session.execute(
        update(Chapter)
        .where(col(Chapter.job_id) == job_id)
        .where(col(Chapter.index) == index)
        .where(col(Chapter.status) != ChapterStatus.COMPLETED)
        .values(status=ChapterStatus.PROCESSING, attempts=col(Chapter.attempts) + 1)
    )


def add_usage(
    session: Session, user_id: int, job_id: str, kind: str, quantity: float, unit: str
) -> UsageEvent:
    """Record a metered quantity (e.g. seconds of audio a job generated)."""
    event = UsageEvent(user_id=user_id, job_id=job_id, kind=kind, quantity=quantity, unit=unit)
    session.add(event)
    session.flush()
    return event


def audit(
    session: Session, actor_id: int | None, action: str, target_type: str, target_id: str, **detail
) -> None:
    """Append an audit-log row ("job.cancel", "job", job id, ...)."""
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            detail=detail,
        )
    )


def get_book(session: Session, book_id: int) -> Book:
    """The book ``book_id``. Raises NotFoundError."""
    book = session.get(Book, book_id)
    if book is None:
        raise NotFoundError(f"no book {book_id}")
    return book


def get_segment(session: Session, job_id: str, chapter_index: int, position: int) -> Segment:
    """One segment row of a job. Raises NotFoundError."""
    row = session.exec(
        select(Segment).where(
            Segment.job_id == job_id,
            Segment.chapter_index == chapter_index,
            Segment.position == position,
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no segment {chapter_index}/{position} in job {job_id}")
    return row
