"""The life of one task run inside a worker: start, heartbeat, finish, failure policy.

:func:`run_task` wraps every RQ entry point in ``worker.tasks``:

* start: the task becomes ``running`` (attempts + 1, a lease of ``task_lease_s``), the
  job ``processing``; a task whose job already ended (cancelled, failed) does nothing.
* heartbeat: a thread renews the lease every ``heartbeat_interval_s``; if the process
  dies the lease runs out and the watchdog resumes the task elsewhere.
* finish: the body returns a *finisher*, run in the same transaction that marks the
  task ``completed`` (it may create follow-up tasks, which are enqueued after commit).
* failure: :class:`InputError` (bad manuscript, bad chapter selection) fails the job at
  once with its user-facing message and no retry; :class:`JobCancelledError` stops
  quietly; anything else is transient: RQ retries it with backoff while retries are
  left, then the job fails with "internal error".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from rq import get_current_job
from sqlalchemy import case, update
from sqlmodel import Session, select

from audiobook_app.db import repo
from audiobook_app.db.models import Job, JobStatus, Task, TaskStatus, utcnow
from audiobook_app.db.session import retrying, session_scope
from audiobook_app.jobs import events, queue
from audiobook_app.jobs.notify import notify_job_ended
from audiobook_app.settings import Settings, get_settings
from audiobook_app.storage import Storage, build_storage
from pipeline.errors import InputError, JobCancelledError

log = logging.getLogger(__name__)
Finisher = Callable[[Session, Job], list[Task]]


@dataclass
class TaskContext:
    """What a task body gets: the task's ids and the platform's clients."""

    settings: Settings
    conn: redis.Redis
    storage: Storage
    task: Task
    job: Job
    superseded: threading.Event = field(default_factory=threading.Event)

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelledError` when the job ended meanwhile (cancelled by
        the user, or failed by another task), or when this run lost its lease and the
        watchdog gave the task to another run."""
        if self.superseded.is_set():
            raise JobCancelledError(f"task {self.task.id} was resumed by another run")
        status = retrying(lambda: self._job_status())
        if JobStatus(status).is_final:
            raise JobCancelledError(f"job {self.job.id} is {status}")

    def _job_status(self) -> str:
        with session_scope(self.settings.database_url) as session:
            return repo.get_job(session, self.job.id).status

    def update_job(self, **values) -> Job:
        """Set fields of the job row (stage, progress, eta_s...) and publish the event.

        ``progress`` never goes back: workers sharing a job each compute it from what they
        last read, so a late writer may bring an older value. It is written as
        ``max(stored, new)`` in the UPDATE itself, and the event is published after the
        commit (a subscriber that reads the row first must never miss it), where
        :func:`events.publish` drops an event older than the stream's last.
        """
        fields = {k: v for k, v in values.items() if k != "progress"}

        def write() -> Job:
            with session_scope(self.settings.database_url) as session:
                job = repo.get_job(session, self.job.id)
                if JobStatus(job.status).is_final:
                    raise JobCancelledError(f"job {job.id} is {job.status}")
                for name, value in fields.items():
                    setattr(job, name, value)
                job.updated_at = utcnow()
                session.add(job)
                session.flush()  # the fields above, before refresh() reloads the row
                if "progress" in values:
                    new = float(values["progress"])
                    session.execute(
                        update(Job)
                        .where(Job.id == job.id)
                        .values(progress=case((Job.progress > new, Job.progress), else_=new))
                    )
                    session.refresh(job)
                return job

        self.job = retrying(write)
        events.publish(self.conn, self.settings, self.job)
        return self.job


def run_task(task_id: str, body: Callable[[TaskContext], Finisher | None]) -> bool:
    """Run ``body`` as task ``task_id`` with the policy in the module docstring; True
    when this run completed the task (False: skipped, cancelled or failed)."""
    settings = get_settings()
    conn = queue.connect(settings)
    started = retrying(lambda: _start(settings, task_id))
    if started is None:
        return False
    task, job = started
    events.publish(conn, settings, job)
    ctx = TaskContext(settings, conn, build_storage(settings), task, job)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(settings, task, ctx.superseded, stop),
        daemon=True,
        name=f"lease {task_id}",
    )
    beat.start()
    try:
        finisher = body(ctx)
        followups = retrying(lambda: _complete(settings, task, finisher))
    except JobCancelledError:
        retrying(lambda: _end(settings, task, TaskStatus.CANCELLED, None))
        return False
    except InputError as exc:
        message = str(exc)
        retrying(lambda: _fail(settings, conn, task, message))
        return False
    except Exception as exc:
        rq_job, error = get_current_job(), f"{type(exc).__name__}: {exc}"
        if rq_job is not None and (rq_job.retries_left or 0) > 0:
            log.warning("task %s failed (%s); RQ retries it", task_id, error)
            retrying(lambda: _end(settings, task, TaskStatus.QUEUED, error))
        else:
            retrying(lambda: _fail(settings, conn, task, f"internal error in {task.kind}: {error}"))
        raise
    finally:
        stop.set()
    if followups is None:
        return False
    for followup in followups:
        queue.enqueue(conn, settings, followup)
    return True


def _start(settings: Settings, task_id: str) -> tuple[Task, Job] | None:
    with session_scope(settings.database_url) as session:
        task = repo.get_task(session, task_id)
        job = repo.get_job(session, task.job_id)
        if JobStatus(job.status).is_final or task.status in (
            TaskStatus.COMPLETED,
            TaskStatus.CANCELLED,
        ):
            log.info(
                "task %s skipped: job %s is %s, task %s", task_id, job.id, job.status, task.status
            )
            return None
        rq_job = get_current_job()
        if rq_job is not None and task.rq_job_id not in (None, rq_job.id):
            log.info(
                "stale run %s of task %s skipped (current run: %s)",
                rq_job.id,
                task_id,
                task.rq_job_id,
            )
            return None
        task.status, task.attempts, task.started_at = (
            TaskStatus.RUNNING,
            task.attempts + 1,
            utcnow(),
        )
        task.lease_expires_at = utcnow() + timedelta(seconds=settings.task_lease_s)
        if job.status == JobStatus.QUEUED:
            job.status, job.started_at = JobStatus.PROCESSING, job.started_at or utcnow()
        job.updated_at = utcnow()
        session.add_all([task, job])
        return task, job


def _heartbeat(
    settings: Settings, task: Task, superseded: threading.Event, stop: threading.Event
) -> None:
    while not stop.wait(settings.heartbeat_interval_s):
        try:
            with session_scope(settings.database_url) as session:
                renewed = repo.renew_lease(session, task.id, task.rq_job_id, settings.task_lease_s)
                mine = renewed or _own(session, task) is not None  # not renewed: ended by this run?
        except Exception as exc:  # a missed beat is retried next tick; the lease has slack
            log.warning("heartbeat of task %s failed: %s", task.id, exc)
            continue
        if renewed:
            continue
        if not mine:
            log.warning(
                "task %s (run %s) was resumed elsewhere; this run stops", task.id, task.rq_job_id
            )
            superseded.set()
        return


def _own(session: Session, task: Task) -> Task | None:
    """The task row if it still belongs to this run (same RQ job id), else None."""
    row = repo.get_task(session, task.id)
    return row if row.rq_job_id == task.rq_job_id else None


def _complete(settings: Settings, task: Task, finisher: Finisher | None) -> list[Task] | None:
    """Mark the task completed and run its finisher; the follow-up tasks, or None when
    this run no longer owns the task (or the job ended meanwhile)."""
    with session_scope(settings.database_url) as session:
        # Lock the job row so concurrent finishers of one job run one after another.
        job = session.exec(select(Job).where(Job.id == task.job_id).with_for_update()).one()
        row = _own(session, task)
        if JobStatus(job.status).is_final or row is None or row.status != TaskStatus.RUNNING:
            return None
        row.status, row.finished_at, row.error = TaskStatus.COMPLETED, utcnow(), None
        session.add(row)
        session.flush()
        followups = finisher(session, job) if finisher else []
        for followup in followups:
            queue.mark_enqueued(session, settings, followup)
        return followups


def _end(settings: Settings, task: Task, status: TaskStatus, error: str | None) -> None:
    with session_scope(settings.database_url) as session:
        row = _own(session, task)
        if row is not None and row.status == TaskStatus.RUNNING:
            row.status, row.error = status, error
            row.finished_at = utcnow() if status != TaskStatus.QUEUED else None
            row.lease_expires_at = utcnow() + timedelta(seconds=settings.task_lease_s)
            session.add(row)


def _fail(settings: Settings, conn: redis.Redis, task: Task, message: str) -> None:
    with session_scope(settings.database_url) as session:
        row, job = _own(session, task), repo.get_job(session, task.job_id)
        if row is None:
            return  # another run owns the task now
        row.status, row.error, row.finished_at = TaskStatus.FAILED, message, utcnow()
        session.add(row)
        if JobStatus(job.status).is_final:
            return
        queue.fail_job(session, job, message)
    events.publish(conn, settings, job)
    notify_job_ended(settings, job.id)
