"""Admin job services on SQLite and PostgreSQL (real Redis for retry and cancel):
every author's jobs with filters, newest first, paged; details with tasks, chapters,
timings and ledger rows; retry for the owner and cancel, audited with the admin."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import redis
from sqlmodel import select

from audiobook_app.admin import jobs
from audiobook_app.billing import ledger
from audiobook_app.db.models import AuditLog, Chapter, Job, JobStatus, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from pipeline.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from tests.admin.factory import make_book, make_job, make_user

DAY1, DAY2, DAY3 = datetime(2026, 3, 1, 9), datetime(2026, 3, 2, 23, 59), datetime(2026, 3, 3, 0)


def _list(settings: Settings, **filters):
    with session_scope(settings.database_url) as session:
        page = jobs.list_jobs(session, **filters)
        return page.total, [j.id for j in page.items]


def test_every_authors_jobs_filtered_newest_first_and_paged(settings: Settings):
    alice = make_user(settings, "alice@example.com")
    bob = make_user(settings, "bob@writers.test")
    moby = make_book(settings, alice, "Moby-Dick")
    emma = make_book(settings, bob, "Emma 100%")
    a1 = make_job(settings, moby, JobStatus.COMPLETED, created_at=DAY1, audio_s=600)
    a2 = make_job(settings, moby, JobStatus.FAILED, created_at=DAY2, error="the worker died")
    b1 = make_job(settings, emma, JobStatus.PROCESSING, created_at=DAY3)

    assert _list(settings) == (3, [b1, a2, a1])
    assert _list(settings, status="failed") == (1, [a2])
    assert _list(settings, email="ALICE") == (2, [a2, a1])
    assert _list(settings, title="moby") == (2, [a2, a1])
    assert _list(settings, title="100%") == (1, [b1])
    assert _list(settings, since=date(2026, 3, 2)) == (2, [b1, a2])
    assert _list(settings, until=date(2026, 3, 2)) == (2, [a2, a1])  # the whole day counts
    assert _list(settings, since=date(2026, 3, 2), until=date(2026, 3, 2)) == (1, [a2])
    assert _list(settings, email="alice", status="completed") == (1, [a1])
    assert _list(settings, limit=1, offset=1) == (3, [a2])
    with pytest.raises(InputError, match="choose one of"):
        _list(settings, status="exploded")
    with pytest.raises(InputError, match="after it ends"):
        _list(settings, since=date(2026, 3, 3), until=date(2026, 3, 1))

    with session_scope(settings.database_url) as session:
        row = jobs.list_jobs(session, status="completed").items[0]
    assert (row.owner_email, row.book_title, row.audio_s, row.status) == (
        "alice@example.com",
        "Moby-Dick",
        600.0,
        "completed",
    )


def test_details_have_tasks_chapters_timings_and_the_jobs_ledger_rows(settings: Settings):
    alice = make_user(settings, "alice@example.com")
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    job_id = make_job(settings, make_book(settings, alice), JobStatus.FAILED, error="boom")
    with session_scope(settings.database_url) as session:
        session.add(Chapter(job_id=job_id, index=1, title="One", words=100, attempts=2))
        ledger.grant(session, alice, 10, actor_id=root, note="test")
        ledger.reserve(session, alice, job_id, 4)
        ledger.release(session, session.get(Job, job_id))
    with session_scope(settings.database_url) as session:
        detail = jobs.job_detail(session, job_id)
        with pytest.raises(NotFoundError):
            jobs.job_detail(session, "nope")
    assert (detail.job.id, detail.job.error, detail.timings) == (job_id, "boom", {"prepare": 1.5})
    [task] = detail.tasks
    assert (task.kind, task.status, task.attempts, task.queue, task.error) == (
        "prepare",
        "completed",
        1,
        "cpu",
        "boom",
    )
    assert [(c.index, c.title, c.attempts) for c in detail.chapters] == [(1, "One", 2)]
    assert [(r.reason, r.delta) for r in detail.ledger] == [("reservation", -4), ("release", 4)]


def test_retry_runs_again_for_the_owner_and_cancel_releases(settings: Settings, conn: redis.Redis):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    with session_scope(settings.database_url) as session:
        ledger.grant(session, alice, 10, actor_id=root, note="test")
    failed = make_job(settings, make_book(settings, alice), JobStatus.FAILED, error="boom")

    with pytest.raises(ForbiddenError):
        jobs.retry_job(conn, settings, alice, failed)  # the owner is no admin
    new_id = jobs.retry_job(conn, settings, root, failed)
    with session_scope(settings.database_url) as session:
        new = session.get(Job, new_id)
        assert (new.owner_id, new.status) == (alice, "queued")
        assert ledger.reserved(session, alice) == 1  # the owner's credits, as at Start
    assert queue.queue(conn, settings, "cpu").count == 1  # its prepare task is queued
    with pytest.raises(ConflictError):
        jobs.retry_job(conn, settings, root, failed)  # the book has a running job now

    cancelled = jobs.cancel_job(conn, settings, root, new_id)
    assert cancelled.status == "cancelled"
    assert jobs.cancel_job(conn, settings, root, new_id).status == "cancelled"  # no-op
    with pytest.raises(NotFoundError):
        jobs.cancel_job(conn, settings, root, "nope")
    with session_scope(settings.database_url) as session:
        assert ledger.reserved(session, alice) == 0
        rows = session.exec(select(AuditLog).where(AuditLog.actor_id == root)).all()
    assert [(a.action, a.target_id) for a in rows if a.action.startswith(("admin.", "job."))] == [
        ("admin.job.retry", failed),
        ("job.cancel", new_id),
    ]
