"""Admin queue services against real Redis (SQLite and PostgreSQL for the audit rows):
counts per queue from RQ's registries, live workers with what they run, failed RQ jobs
listed, requeued and deleted, and abandoned-task recovery reporting what it touched."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlmodel import select

from audiobook_app.admin import queues
from audiobook_app.db.models import AuditLog, JobStatus, Task, TaskStatus, UserRole, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from pipeline.errors import ForbiddenError, InputError, NotFoundError
from tests.admin.factory import make_book, make_job, make_user
from tests.conftest import REPO_ROOT
from tests.platform.harness import wait_for

FAIL, HOLD = "tests.admin.rq_jobs.fail", "tests.admin.rq_jobs.hold"


def _counts(conn: redis.Redis, settings: Settings) -> dict[str, tuple[int, int, int, int]]:
    return {
        c.kind: (c.queued, c.started, c.failed, c.scheduled)
        for c in queues.queue_counts(conn, settings)
    }


def _fail_one(conn: redis.Redis, settings: Settings, kind: str) -> str:
    q = queue.queue(conn, settings, kind)
    rq_job = q.enqueue(FAIL, "no voice loaded", description=f"synthesize t-{kind}")
    SimpleWorker([q], connection=conn, serializer=JSONSerializer).work(burst=True)
    return rq_job.id


def _actions(settings: Settings, admin: int) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        rows = session.exec(select(AuditLog).where(AuditLog.actor_id == admin)).all()
        return [(a.action, a.target_id) for a in rows]


def test_counts_failed_requeue_and_delete(settings: Settings, conn: redis.Redis):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    cpu = queue.queue(conn, settings, "cpu")
    cpu.enqueue(HOLD, settings.redis_url, "never", 1)
    cpu.enqueue(HOLD, settings.redis_url, "never", 1)
    queue.queue(conn, settings, "tts").enqueue_in(timedelta(hours=1), FAIL)
    failed_id = _fail_one(conn, settings, "gpu")
    assert _counts(conn, settings) == {
        "cpu": (2, 0, 0, 0),
        "tts": (0, 0, 0, 1),
        "gpu": (0, 0, 1, 0),
    }
    assert [c.name for c in queues.queue_counts(conn, settings)] == [
        f"{settings.queue_prefix}-{k}" for k in ("cpu", "tts", "gpu")
    ]

    [failed] = queues.failed_jobs(conn, settings)
    assert (failed.id, failed.kind, failed.description) == (failed_id, "gpu", "synthesize t-gpu")
    assert failed.error == "RuntimeError: no voice loaded"
    assert failed.ended_at is not None
    assert queues.failed_jobs(conn, settings, "cpu") == []
    with pytest.raises(InputError):
        queues.failed_jobs(conn, settings, "disk")

    with pytest.raises(ForbiddenError):
        queues.requeue_failed(conn, settings, alice, failed_id)
    assert queues.requeue_failed(conn, settings, root, failed_id) == f"{settings.queue_prefix}-gpu"
    assert _counts(conn, settings)["gpu"] == (1, 0, 0, 0)
    with pytest.raises(NotFoundError):
        queues.requeue_failed(conn, settings, root, failed_id)  # not failed any more

    second = _fail_one(conn, settings, "gpu")  # the requeued one fails again, too
    assert _counts(conn, settings)["gpu"] == (0, 0, 2, 0)
    queues.delete_failed(conn, settings, root, second)
    assert _counts(conn, settings)["gpu"] == (0, 0, 1, 0)
    assert conn.exists(f"rq:job:{second}") == 0
    with pytest.raises(NotFoundError):
        queues.delete_failed(conn, settings, root, "no-such-job")
    assert _actions(settings, root) == [
        ("admin.queue.requeue", failed_id),
        ("admin.queue.delete", second),
    ]


def test_live_workers_show_what_they_run(settings: Settings, conn: redis.Redis):
    release = f"{settings.queue_prefix}:release"
    q = queue.queue(conn, settings, "tts")
    rq_job = q.enqueue(HOLD, settings.redis_url, release, 60, description="synthesize t-1")
    name = f"admin-test-{uuid.uuid4().hex[:8]}"
    script = (
        "import redis, sys; from rq import Queue, SimpleWorker; "
        "from rq.serializers import JSONSerializer as J; "
        "c = redis.Redis.from_url(sys.argv[1]); "
        "SimpleWorker([Queue(sys.argv[2], connection=c, serializer=J)], connection=c, "
        "serializer=J, name=sys.argv[3]).work(burst=True)"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, settings.redis_url, q.name, name],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        busy = wait_for(
            lambda: [w for w in queues.live_workers(conn, settings) if w.current_job_id],
            60,
            "the worker to take the job",
        )
        [info] = busy
        assert (info.name, info.queues, info.current_job_id, info.current_job) == (
            name,
            [q.name],
            rq_job.id,
            "synthesize t-1",
        )
        assert info.state == "busy" and info.pid == worker.pid
        assert _counts(conn, settings)["tts"] == (0, 1, 0, 0)
    finally:
        conn.rpush(release, "go")
        worker.wait(timeout=60)
    assert queues.live_workers(conn, settings) == []  # a burst worker leaves when done


def test_recover_requeues_an_abandoned_task_and_says_so(settings: Settings, conn: redis.Redis):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    job_id = make_job(settings, make_book(settings, alice), JobStatus.PROCESSING)
    task_id = f"{job_id}-prepare"
    with session_scope(settings.database_url) as session:
        task = session.get(Task, task_id)
        task.status, task.rq_job_id = TaskStatus.RUNNING, f"{task_id}_a1"
        task.lease_expires_at = utcnow() - timedelta(minutes=5)  # its worker died
        session.add(task)

    with pytest.raises(ForbiddenError):
        queues.recover_abandoned(conn, settings, alice)
    assert queues.recover_abandoned(conn, settings, root) == [task_id]
    with session_scope(settings.database_url) as session:
        task = session.get(Task, task_id)
        assert (task.status, task.rq_job_id) == ("queued", f"{task_id}_a2")
    assert queue.queue(conn, settings, "cpu").get_job_ids() == [f"{task_id}_a2"]
    assert queues.recover_abandoned(conn, settings, root) == []  # nothing left to do
    with session_scope(settings.database_url) as session:
        rows = session.exec(select(AuditLog).where(AuditLog.action == "admin.queue.recover")).all()
        assert [(a.actor_id, a.detail["tasks"]) for a in rows] == [(root, [task_id]), (root, [])]
