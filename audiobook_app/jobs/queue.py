"""RQ plumbing: queues, enqueueing tasks, cancelling, and the watchdog.

The database is the record of what must run (:class:`Task` rows); RQ only carries it.
Each run of a task is an RQ job with id ``<task id>_a<attempt>``, on the ``cpu`` queue
(prepare, master, assemble), the ``tts`` queue (synthesize) or the ``gpu`` queue (a
Qwen3-TTS synthesize, retake), serialized as JSON, with RQ's
``Retry`` for transient failures (backoff ``settings.retry_backoff_s``; workers run
with the scheduler) and a per-kind timeout.

The watchdog (:func:`reconcile`, run by every worker every ``watchdog_interval_s``
under a Redis lock, and once at worker start) repairs what crashes leave behind:

* a *running* task whose lease (renewed by the worker's heartbeat every
  ``heartbeat_interval_s``) expired ``task_lease_s`` ago: its worker was killed or its
  machine lost. The stale RQ job is deleted and the task enqueued again. Worst case
  detection = lease + interval = 60 s with the defaults (RQ alone: 10+ minutes).
* a *queued* task whose RQ job is gone (Redis restarted without persistence, or was
  flushed) or ended without the task ending: enqueued again.

Tasks are idempotent (segments already stored are skipped), so a repeated run costs
only the segments that were in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.serializers import JSONSerializer
from sqlmodel import Session

from audiobook_app.billing import ledger
from audiobook_app.db import repo
from audiobook_app.db.models import Job, JobStatus, Task, TaskKind, TaskStatus, utcnow
from audiobook_app.db.session import retrying, session_scope
from audiobook_app.jobs import events
from audiobook_app.settings import Settings
from pipeline.errors import QueueError

log = logging.getLogger(__name__)
T = TypeVar("T")
QUEUE_OF = {
    TaskKind.PREPARE: "cpu",
    TaskKind.MASTER: "cpu",
    TaskKind.ASSEMBLE: "cpu",
    TaskKind.SYNTHESIZE: "tts",
    TaskKind.RETAKE: "gpu",
}
FUNCTION_OF = {kind: f"worker.tasks.{kind.value}" for kind in TaskKind}
_RQ_ENDED = {RQStatus.FINISHED, RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED}


def queue_kind(task: Task) -> str:
    """The queue kind ``task`` runs on: its own ``queue`` ("gpu" for a Qwen3-TTS batch)
    or its kind's (:data:`QUEUE_OF`)."""
    return task.queue or QUEUE_OF[TaskKind(task.kind)]


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings.redis_url`` (short timeouts, health checks)."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def queue(conn: redis.Redis, settings: Settings, kind: str) -> Queue:
    """The RQ queue for ``kind`` ("cpu", "tts" or "gpu"), JSON-serialized."""
    return Queue(settings.queue_name(kind), connection=conn, serializer=JSONSerializer)


def _timeout_s(settings: Settings, kind: TaskKind) -> int:
    return {
        TaskKind.PREPARE: settings.prepare_timeout_s,
        TaskKind.SYNTHESIZE: settings.synth_timeout_s,
        TaskKind.RETAKE: settings.synth_timeout_s,
        TaskKind.MASTER: settings.assemble_timeout_s,
        TaskKind.ASSEMBLE: settings.assemble_timeout_s,
    }[kind]


def mark_enqueued(session: Session, settings: Settings, task: Task) -> str:
    """Give ``task`` a fresh RQ job id and a grace lease; return the id. Call inside the
    transaction that creates or re-queues the task, then :func:`enqueue` after commit."""
    task.rq_job_id = f"{task.id}_a{task.attempts + 1}"
    task.status = TaskStatus.QUEUED
    task.lease_expires_at = utcnow() + timedelta(seconds=settings.task_lease_s)
    session.add(task)
    return task.rq_job_id


def enqueue(conn: redis.Redis, settings: Settings, task: Task) -> None:
    """Put ``task`` (already given its RQ id by :func:`mark_enqueued`) on its queue.
    A Redis failure is logged: the watchdog enqueues it once Redis is back."""
    retries = len(settings.retry_backoff_s)
    try:
        queue(conn, settings, queue_kind(task)).enqueue(
            FUNCTION_OF[TaskKind(task.kind)],
            task.id,
            job_id=task.rq_job_id,
            job_timeout=_timeout_s(settings, TaskKind(task.kind)),
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=retries, interval=list(settings.retry_backoff_s)) if retries else None,
            description=f"{task.kind} {task.id}",
        )
    except redis.RedisError as exc:
        log.warning("task %s not enqueued now (%s); the watchdog will retry", task.id, exc)


def fetch_rq_job(conn: redis.Redis, rq_job_id: str | None) -> RQJob | None:
    """The RQ job ``rq_job_id`` (None when there is no id or Redis lost the job)."""
    if not rq_job_id:
        return None
    try:
        return RQJob.fetch(rq_job_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def cancel(
    conn: redis.Redis,
    settings: Settings,
    job_id: str,
    *,
    actor_id: int | None = None,
    owner_id: int | None = None,
) -> Job:
    """Cancel a job: final status ``cancelled`` now; queued RQ jobs are deleted; a task
    that is running sees the status at its next segment (within seconds) and stops.
    Cancelling a job that already ended changes nothing. Raises NotFoundError."""
    with session_scope(settings.database_url) as session:
        job = repo.get_job(session, job_id, owner_id)
        if JobStatus(job.status).is_final:
            return job
        stopped = _end_job(session, job, JobStatus.CANCELLED)
        repo.audit(session, actor_id, "job.cancel", "job", job_id)
    try:
        for task in stopped:
            if (
                task.rq_job_id
                and (rq_job := fetch_rq_job(conn, task.rq_job_id))
                and rq_job.get_status() != RQStatus.STARTED
            ):
                rq_job.delete(remove_from_queue=True)
    except redis.RedisError as exc:
        log.warning("cancel of job %s: RQ clean-up skipped (%s)", job_id, exc)
    events.publish(conn, settings, job)
    return job


def reconcile(conn: redis.Redis, settings: Settings) -> list[str]:
    """One watchdog pass (see module doc); returns the ids of tasks it re-enqueued or
    failed. Safe to run from many workers at once: a Redis lock lets one pass run."""
    return locked_pass(conn, settings, "watchdog", lambda: _reconcile(conn, settings))


def locked_pass(
    conn: redis.Redis, settings: Settings, name: str, body: Callable[[], list[T]]
) -> list[T]:
    """Run one watchdog pass ``body()`` (database errors retried for 10 s) unless another
    worker runs the pass ``name`` right now (a Redis lock of twice the watchdog
    interval, at least 30 s); ``[]`` when it does."""
    lock = conn.lock(
        f"{settings.queue_prefix}:{name}",
        timeout=max(30, settings.watchdog_interval_s * 2),
        blocking=False,
    )
    if not lock.acquire():
        return []
    try:
        return retrying(body, window_s=10)
    finally:
        try:
            lock.release()
        except redis.RedisError:
            pass


def _reconcile(conn: redis.Redis, settings: Settings) -> list[str]:
    now = utcnow()
    requeue: list[Task] = []
    touched: list[str] = []
    with session_scope(settings.database_url) as session:
        for task in repo.active_tasks(session):
            if task.lease_expires_at and task.lease_expires_at > now:
                continue
            rq_job = fetch_rq_job(conn, task.rq_job_id)
            rq_status = rq_job.get_status(refresh=False) if rq_job else None
            if (
                task.status == TaskStatus.QUEUED
                and rq_status is not None
                and rq_status not in _RQ_ENDED
            ):
                continue  # waiting in a queue, or scheduled for a retry
            if task.status == TaskStatus.RUNNING:
                log.warning(
                    "task %s abandoned (lease expired %s); resuming it",
                    task.id,
                    task.lease_expires_at,
                )
            else:
                log.warning(
                    "task %s has no live RQ job (%s); enqueueing it again", task.id, rq_status
                )
            touched.append(task.id)
            if rq_job is not None:
                rq_job.delete(remove_from_queue=True)
            if task.attempts >= settings.max_task_attempts:
                _give_up(session, conn, settings, task)
                continue
            mark_enqueued(session, settings, task)
            requeue.append(task)
    for task in requeue:
        enqueue(conn, settings, task)
    return touched


def _give_up(session: Session, conn: redis.Redis, settings: Settings, task: Task) -> None:
    job = repo.get_job(session, task.job_id)
    message = f"{task.kind} of job {job.id} was interrupted {task.attempts} times; giving up"
    fail_job(session, job, message)
    events.publish(conn, settings, job)


def fail_job(session: Session, job: Job, message: str) -> None:
    """Mark ``job`` failed with a user-facing ``message`` and stop its other tasks."""
    job.error = message
    _end_job(session, job, JobStatus.FAILED)


def _end_job(session: Session, job: Job, status: JobStatus) -> list[Task]:
    """Give ``job`` its final ``status``, release its credit reservation and cancel its
    queued/running tasks (returned)."""
    job.status, job.finished_at, job.updated_at, job.eta_s = status, utcnow(), utcnow(), None
    session.add(job)
    ledger.release(session, job)
    return repo.stop_active_tasks(session, job.id, TaskStatus.CANCELLED)


def ping(settings: Settings) -> None:
    """Raise :class:`QueueError` when Redis does not answer."""
    try:
        connect(settings).ping()
    except redis.RedisError as exc:
        raise QueueError(f"Redis at {settings.redis_url} is unreachable: {exc}") from exc
