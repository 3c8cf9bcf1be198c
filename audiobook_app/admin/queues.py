"""The RQ side of the platform for admins: queue counts, live workers, failed RQ jobs,
and abandoned-task recovery.

Queues are the settings' ``cpu``, ``tts`` and ``gpu`` (:meth:`Settings.queue_name`);
counts come from RQ's registries, read without their clean-up (reading the page never
moves a job). Workers are those registered on one of these queues (``rq.Worker.all``
per queue), so another studio sharing the Redis server stays out of the list. Failed RQ
jobs are the runs RQ gave up on (retries spent); the job's own record is the database's
task row, so requeueing one runs the task again only while its job is not final (a
task of a failed or cancelled job stops at once: ``worker.context``). Recovery is one
watchdog pass now (:func:`jobs.queue.reconcile`), the pass every worker runs on its own
every ``watchdog_interval_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from audiobook_app.admin.access import acting_admin
from audiobook_app.db import repo
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from pipeline.errors import InputError, NotFoundError

QUEUE_KINDS = ("cpu", "tts", "gpu")
MAX_FAILED = 200  # failed RQ jobs listed per queue


@dataclass(frozen=True)
class QueueCounts:
    """RQ jobs of one queue: waiting (``queued``), running (``started``), given up on
    (``failed``), waiting for a retry or a time (``scheduled``)."""

    kind: str
    name: str
    queued: int
    started: int
    failed: int
    scheduled: int


@dataclass(frozen=True)
class WorkerInfo:
    """A live RQ worker: its queue names, RQ state (``idle``, ``busy``...), the RQ job
    it runs now and that job's description ("" when idle), last heartbeat (naive UTC)."""

    name: str
    queues: list[str]
    state: str
    current_job_id: str
    current_job: str
    hostname: str
    pid: int | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class FailedJob:
    """A failed RQ job: its queue, what it ran, when it ended, the last line of its error."""

    id: str
    kind: str
    queue: str
    description: str
    ended_at: datetime | None
    error: str


def _kinds(kind: str | None) -> tuple[str, ...]:
    if kind is None or kind == "":
        return QUEUE_KINDS
    if kind not in QUEUE_KINDS:
        raise InputError(f"queue {kind!r}: choose one of {list(QUEUE_KINDS)}")
    return (kind,)


def queue_counts(conn: redis.Redis, settings: Settings) -> list[QueueCounts]:
    """Counts of every queue, cpu, tts then gpu."""
    counts = []
    for kind in QUEUE_KINDS:
        q = queue.queue(conn, settings, kind)
        counts.append(
            QueueCounts(
                kind=kind,
                name=q.name,
                queued=q.count,
                started=q.started_job_registry.get_job_count(cleanup=False),
                failed=q.failed_job_registry.get_job_count(cleanup=False),
                scheduled=q.scheduled_job_registry.get_job_count(cleanup=False),
            )
        )
    return counts


def _naive(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=None) if moment and moment.tzinfo else moment


def _worker_info(worker: Worker) -> WorkerInfo:
    current = None
    try:
        current = worker.get_current_job()
    except NoSuchJobError:
        current = None
    return WorkerInfo(
        name=worker.name,
        queues=worker.queue_names(),
        state=str(worker.get_state()),
        current_job_id=current.id if current else "",
        current_job=(current.description or current.func_name or "") if current else "",
        hostname=worker.hostname or "",
        pid=worker.pid,
        last_heartbeat=_naive(worker.last_heartbeat),
    )


def live_workers(conn: redis.Redis, settings: Settings) -> list[WorkerInfo]:
    """Workers registered on this studio's queues, by name."""
    found: dict[str, Worker] = {}
    for kind in QUEUE_KINDS:
        for worker in Worker.all(
            queue=queue.queue(conn, settings, kind), serializer=JSONSerializer
        ):
            found.setdefault(worker.name, worker)
    return [_worker_info(found[name]) for name in sorted(found)]


def _failed(rq_job: RQJob, kind: str, queue_name: str) -> FailedJob:
    result = rq_job.latest_result()
    error = (result.exc_string or "").strip().splitlines() if result else []
    return FailedJob(
        id=rq_job.id,
        kind=kind,
        queue=queue_name,
        description=rq_job.description or rq_job.func_name or "",
        ended_at=_naive(rq_job.ended_at),
        error=error[-1] if error else "",
    )


def failed_jobs(conn: redis.Redis, settings: Settings, kind: str | None = None) -> list[FailedJob]:
    """Failed RQ jobs of one queue kind (None: all three), newest failure first, at
    most :data:`MAX_FAILED` per queue. Raises InputError for an unknown kind."""
    found = []
    for k in _kinds(kind):
        registry = queue.queue(conn, settings, k).failed_job_registry
        ids = registry.get_job_ids(0, MAX_FAILED - 1, desc=True, cleanup=False)
        for rq_job in RQJob.fetch_many(ids, connection=conn, serializer=JSONSerializer):
            if rq_job is not None:
                found.append(_failed(rq_job, k, registry.name))
    return found


def _registry_of(conn: redis.Redis, settings: Settings, rq_job_id: str) -> FailedJobRegistry:
    for kind in QUEUE_KINDS:
        registry = queue.queue(conn, settings, kind).failed_job_registry
        if rq_job_id in registry:
            return registry
    raise NotFoundError(f"no failed RQ job {rq_job_id!r} on this studio's queues")


def _audit(settings: Settings, admin_id: int, action: str, target: str, **detail) -> None:
    with session_scope(settings.database_url) as session:
        repo.audit(session, admin_id, action, "rq_job", target, **detail)


def _check(settings: Settings, admin_id: int) -> None:
    with session_scope(settings.database_url) as session:
        acting_admin(session, admin_id)


def requeue_failed(conn: redis.Redis, settings: Settings, admin_id: int, rq_job_id: str) -> str:
    """Put failed RQ job ``rq_job_id`` back on its queue; returns the queue's name.
    Raises ForbiddenError, NotFoundError (not a failed job of these queues, or its data
    expired)."""
    _check(settings, admin_id)
    registry = _registry_of(conn, settings, rq_job_id)
    try:
        registry.requeue(rq_job_id)
    except (NoSuchJobError, InvalidJobOperation):
        raise NotFoundError(f"failed RQ job {rq_job_id!r} is gone (expired or requeued)") from None
    _audit(settings, admin_id, "admin.queue.requeue", rq_job_id, queue=registry.name)
    return registry.name


def delete_failed(conn: redis.Redis, settings: Settings, admin_id: int, rq_job_id: str) -> str:
    """Delete failed RQ job ``rq_job_id`` (its data and its registry entry); returns
    the queue's name. Raises ForbiddenError, NotFoundError."""
    _check(settings, admin_id)
    registry = _registry_of(conn, settings, rq_job_id)
    registry.remove(rq_job_id)
    try:
        RQJob.fetch(rq_job_id, connection=conn, serializer=JSONSerializer).delete()
    except NoSuchJobError:
        pass  # only the registry entry was left
    _audit(settings, admin_id, "admin.queue.delete", rq_job_id, queue=registry.name)
    return registry.name


def recover_abandoned(conn: redis.Redis, settings: Settings, admin_id: int) -> list[str]:
    """Run one watchdog pass now (:func:`jobs.queue.reconcile`): tasks whose lease
    expired or whose RQ job vanished are enqueued again, or their job failed after
    ``max_task_attempts``. Returns the ids of the tasks it touched (empty also when a
    worker's own pass held the lock at that moment). Raises ForbiddenError."""
    _check(settings, admin_id)
    touched = queue.reconcile(conn, settings)
    with session_scope(settings.database_url) as session:
        repo.audit(
            session, admin_id, "admin.queue.recover", "queue", settings.queue_prefix, tasks=touched
        )
    return touched
