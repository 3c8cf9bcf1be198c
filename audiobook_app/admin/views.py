"""Display rows of the admin pages: the services' results as small frozen dataclasses of
strings and numbers, ready to show (times "YYYY-MM-DD HH:MM" UTC, minutes to one
decimal), so the page modules hold layout and events only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from audiobook_app.admin.audit import AuditRow
from audiobook_app.admin.jobs import JobDetail, JobSummary
from audiobook_app.admin.queues import FailedJob, QueueCounts, WorkerInfo
from audiobook_app.admin.usage import DayUsage
from audiobook_app.admin.users import UserSummary
from audiobook_app.db.models import JobStatus

DETAIL_CHARS = 200  # an audit row's detail, shortened for the table


def when(moment: datetime | None) -> str:
    """``moment`` (naive UTC) as "YYYY-MM-DD HH:MM", "" for None."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True)
class UserView:
    """A row of the users table."""

    id: int
    email: str
    role: str
    disabled: bool
    balance: int
    reserved: int
    minutes: str
    books: int
    created: str


def user_view(user: UserSummary) -> UserView:
    """The users table row of ``user``."""
    return UserView(
        id=user.id,
        email=user.email,
        role=user.role,
        disabled=user.disabled,
        balance=user.balance,
        reserved=user.reserved,
        minutes=f"{user.minutes_generated:.1f}",
        books=user.books,
        created=when(user.created_at),
    )


@dataclass(frozen=True)
class JobView:
    """A row of the jobs table; ``retryable``/``cancellable``: which buttons it gets."""

    id: str
    short_id: str
    status: str
    stage: str
    progress: str
    owner: str
    book: str
    chapters: str
    audio_min: str
    error: str
    created: str
    finished: str
    retryable: bool
    cancellable: bool


def job_view(job: JobSummary) -> JobView:
    """The jobs table row of ``job``."""
    status = JobStatus(job.status)
    return JobView(
        id=job.id,
        short_id=job.id[:8],
        status=job.status,
        stage=job.stage,
        progress=f"{job.progress * 100:.0f}%",
        owner=job.owner_email,
        book=job.book_title,
        chapters=job.chapters or "all",
        audio_min=f"{job.audio_s / 60:.1f}" if job.audio_s else "",
        error=job.error or "",
        created=when(job.created_at),
        finished=when(job.finished_at),
        retryable=status in (JobStatus.FAILED, JobStatus.CANCELLED),
        cancellable=not status.is_final,
    )


@dataclass(frozen=True)
class LineView:
    """One line of a detail list: a label and its text."""

    label: str
    text: str


@dataclass(frozen=True)
class JobDetailView:
    """The detail panel of a job: its row, facts (segments, ETA, stage timings), and
    lines for its tasks, chapters and ledger rows."""

    job: JobView
    facts: list[LineView]
    tasks: list[LineView]
    chapters: list[LineView]
    ledger: list[LineView]


def job_detail_view(detail: JobDetail) -> JobDetailView:
    """The detail panel of a job."""
    facts = [
        LineView("Segments", f"{detail.segments_done} of {detail.segments_total}"),
        LineView("Started", when(detail.job.started_at)),
        LineView("Synthesis started", when(detail.synth_started_at)),
        LineView("ETA", f"{detail.eta_s:.0f} s" if detail.eta_s is not None else ""),
        *[LineView(f"{stage} (s)", f"{seconds:.1f}") for stage, seconds in detail.timings.items()],
    ]
    tasks = [
        LineView(
            t.id,
            f"{t.kind} on {t.queue}: {t.status}, {t.attempts} run(s)"
            + (f" — {t.error}" if t.error else ""),
        )
        for t in detail.tasks
    ]
    chapters = [
        LineView(
            f"{c.index}. {c.title}",
            f"{c.status}, {c.words} words, {c.attempts} run(s)"
            + (f", {c.duration_s:.1f} s" if c.duration_s else ""),
        )
        for c in detail.chapters
    ]
    ledger = [
        LineView(
            when(e.created_at), f"{e.reason} {e.delta:+d}" + (f" ({e.note})" if e.note else "")
        )
        for e in detail.ledger
    ]
    return JobDetailView(job_view(detail.job), facts, tasks, chapters, ledger)


@dataclass(frozen=True)
class QueueView:
    """A row of the queue counts table."""

    kind: str
    name: str
    queued: int
    started: int
    failed: int
    scheduled: int


def queue_view(counts: QueueCounts) -> QueueView:
    """The counts table row of one queue."""
    return QueueView(
        counts.kind, counts.name, counts.queued, counts.started, counts.failed, counts.scheduled
    )


@dataclass(frozen=True)
class WorkerView:
    """A row of the workers table."""

    name: str
    queues: str
    state: str
    current: str
    host: str
    heartbeat: str


def worker_view(worker: WorkerInfo) -> WorkerView:
    """The workers table row of ``worker``."""
    return WorkerView(
        name=worker.name,
        queues=", ".join(worker.queues),
        state=worker.state,
        current=worker.current_job or worker.current_job_id,
        host=f"{worker.hostname} (pid {worker.pid})" if worker.pid else worker.hostname,
        heartbeat=when(worker.last_heartbeat),
    )


@dataclass(frozen=True)
class FailedView:
    """A row of the failed RQ jobs table."""

    id: str
    kind: str
    description: str
    ended: str
    error: str


def failed_view(failed: FailedJob) -> FailedView:
    """The failed-jobs table row of ``failed``."""
    return FailedView(
        failed.id, failed.kind, failed.description, when(failed.ended_at), failed.error
    )


@dataclass(frozen=True)
class DayView:
    """One day of the usage charts (``revenue``: in the currency's main unit)."""

    day: str
    minutes: float
    charged: int
    sold: int
    revenue: float
    purchases: int
    refunded: int


def day_view(day: DayUsage) -> DayView:
    """The usage row of one day (revenue in the main unit: cents / 100)."""
    return DayView(
        day=day.day,
        minutes=day.minutes_generated,
        charged=day.credits_charged,
        sold=day.credits_sold,
        revenue=round(day.revenue_cents / 100.0, 2),
        purchases=day.purchases,
        refunded=day.credits_refunded,
    )


@dataclass(frozen=True)
class AuditView:
    """A row of the audit log table (``detail`` as short ``key=value`` text)."""

    id: int
    when: str
    actor: str
    action: str
    target: str
    detail: str


def audit_view(row: AuditRow) -> AuditView:
    """The audit table row of ``row`` (empty detail values left out)."""
    detail = ", ".join(f"{k}={v}" for k, v in row.detail.items() if v not in (None, "", []))
    return AuditView(
        id=row.id,
        when=when(row.created_at),
        actor=row.actor_email or ("system" if row.actor_id is None else f"user {row.actor_id}"),
        action=row.action,
        target=f"{row.target_type}:{row.target_id}",
        detail=detail[:DETAIL_CHARS],
    )
