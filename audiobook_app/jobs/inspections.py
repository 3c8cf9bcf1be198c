"""The ``inspect`` RQ job, watched like a job's tasks (lease, heartbeat, watchdog).

A manuscript added on the dashboard (:func:`audiobook_app.library.add_manuscript`) is
read by one ``worker.tasks.inspect`` RQ job on the ``cpu`` queue. The book row is the
record of that work, as :class:`Task` rows are for a job:

* ``inspect_rq_job_id``: the current run's RQ job id, ``inspect-<book id>-a<n>``
  (:func:`mark_enqueued`, before the transaction commits; :func:`enqueue` after it);
* ``inspect_attempts``: runs started (RQ retries and resumes alike), counted by
  :func:`start_run` in the worker;
* ``inspect_lease_expires_at``: a grace lease of ``settings.inspect_lease_s`` at
  enqueue, renewed by the running worker's heartbeat (:func:`renew_lease`, every
  ``heartbeat_interval_s``).

:func:`reconcile` (the workers' watchdog, in the same pass as
:func:`audiobook_app.jobs.queue.reconcile`) looks at books still ``uploaded`` whose
lease expired: one whose RQ job vanished (Redis flushed or restarted empty), ended
without recording a result, or is stuck ``started`` (its worker was SIGKILLed; RQ keeps
it started for minutes) is enqueued again under a new id; after
``settings.max_task_attempts`` runs it is ``rejected`` with a message saying so. A run
that lost the book to a newer one neither renews nor records (:func:`finish_run`).

While it reads, the run reports which of :data:`STEPS` it is at (:func:`report_step`, in
Redis for an hour: progress is only shown, never the record), so the book page of a big
manuscript says more than "Reading the manuscript…" (:func:`progress_text`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from rq import Retry
from rq.job import JobStatus as RQStatus
from sqlalchemy import update
from sqlmodel import Session, col, select

from audiobook_app.db.models import Book, BookStatus, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from audiobook_app.storage import size_text

log = logging.getLogger(__name__)
FUNCTION = "worker.tasks.inspect"
_RQ_WAITING = {  # states of an RQ job that will still run
    RQStatus.CREATED,
    RQStatus.QUEUED,
    RQStatus.SCHEDULED,
    RQStatus.DEFERRED,
    RQStatus.RATE_LIMITED,
    RQStatus.READY_TO_ENQUEUE,
}


# What a run does, in order (report_step's step is an index into this)
STEPS = (
    "fetching the file",
    "finding the chapters",
    "reading the text and who speaks",
    "laying out the tracks",
    "storing the cover and chapter texts",
)
PROGRESS_TTL_S = 3600


def _progress_key(settings: Settings, book_id: int) -> str:
    return f"{settings.queue_prefix}:inspect-progress:{book_id}"


def report_step(
    conn: redis.Redis, settings: Settings, book_id: int, step: int, size_bytes: int
) -> None:
    """Record that the inspection of ``book_id`` (a manuscript of ``size_bytes``) is at
    ``STEPS[step]``. A Redis failure is logged, never raised: the reading goes on."""
    value = json.dumps({"step": step, "size_bytes": size_bytes})
    try:
        conn.set(_progress_key(settings, book_id), value, ex=PROGRESS_TTL_S)
    except redis.RedisError as exc:
        log.warning("progress of the inspect of book %s not recorded: %s", book_id, exc)


def progress_text(conn: redis.Redis, settings: Settings, book_id: int) -> str:
    """Where the inspection of ``book_id`` stands, for the book page: ``"step 2 of 5:
    finding the chapters (61.2 MB)"``; "" before the first step is reported or when Redis
    cannot say."""
    try:
        raw = conn.get(_progress_key(settings, book_id))
        data = json.loads(raw) if raw else None
    except (redis.RedisError, ValueError):
        return ""
    if not isinstance(data, dict) or not 0 <= data.get("step", -1) < len(STEPS):
        return ""
    step = int(data["step"])
    size = size_text(int(data.get("size_bytes", 0)))
    return f"step {step + 1} of {len(STEPS)}: {STEPS[step]} ({size})"


@dataclass(frozen=True)
class InspectRun:
    """What a started inspect run reads: the book's stored upload and its layout."""

    book_id: int
    owner_id: int
    source_key: str
    source_filename: str
    layout: dict


def rq_job_id(book: Book) -> str:
    """The RQ job id of the next run of ``book``'s inspection."""
    return f"inspect-{book.id}-a{book.inspect_attempts + 1}"


def mark_enqueued(session: Session, settings: Settings, book: Book) -> str:
    """Give ``book``'s inspection a fresh RQ job id and a grace lease; return the id.
    Call inside the transaction that records the book, then :func:`enqueue` after commit."""
    book.inspect_rq_job_id = rq_job_id(book)
    book.inspect_lease_expires_at = utcnow() + timedelta(seconds=settings.inspect_lease_s)
    session.add(book)
    return book.inspect_rq_job_id


def enqueue(conn: redis.Redis, settings: Settings, book_id: int, job_id: str) -> None:
    """Put the inspection of ``book_id`` on the cpu queue as RQ job ``job_id`` (with RQ's
    ``Retry`` for transient failures). A Redis failure is logged, not raised: the
    watchdog enqueues it once Redis is back."""
    retries = len(settings.retry_backoff_s)
    try:
        queue.queue(conn, settings, "cpu").enqueue(
            FUNCTION,
            book_id,
            job_id=job_id,
            job_timeout=settings.prepare_timeout_s,
            result_ttl=600,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=retries, interval=list(settings.retry_backoff_s)) if retries else None,
            description=f"inspect book {book_id}",
        )
    except redis.RedisError as exc:
        log.warning("inspect of book %s not enqueued now (%s); the watchdog will", book_id, exc)


def start_run(settings: Settings, book_id: int, run_id: str | None) -> InspectRun | None:
    """Begin run ``run_id`` (the RQ job id; None outside RQ) of ``book_id``'s inspection:
    count the attempt and take the lease. None (nothing to do) when the book is gone,
    deleted, already read, or owned by a newer run."""
    with session_scope(settings.database_url) as session:
        book = session.get(Book, book_id)
        if book is None or book.deleted_at is not None or book.status != BookStatus.UPLOADED:
            log.info("inspect of book %s skipped: gone, deleted or already read", book_id)
            return None
        if run_id is not None and book.inspect_rq_job_id not in (None, run_id):
            log.info("stale inspect run %s skipped (current: %s)", run_id, book.inspect_rq_job_id)
            return None
        book.inspect_attempts += 1
        book.inspect_lease_expires_at = utcnow() + timedelta(seconds=settings.inspect_lease_s)
        session.add(book)
        return InspectRun(
            book.id, book.owner_id, book.source_key, book.source_filename, dict(book.layout or {})
        )


def _owned(book_id: int, run_id: str | None):
    query = (
        update(Book).where(col(Book.id) == book_id).where(col(Book.status) == BookStatus.UPLOADED)
    )
    return query.where(col(Book.inspect_rq_job_id) == run_id) if run_id is not None else query


def renew_lease(settings: Settings, book_id: int, run_id: str | None) -> bool:
    """The heartbeat of a running inspection: push its lease ``inspect_lease_s`` on.
    False when the run no longer owns the book (resumed elsewhere, read, or deleted)."""
    lease = utcnow() + timedelta(seconds=settings.inspect_lease_s)
    with session_scope(settings.database_url) as session:
        result = session.execute(_owned(book_id, run_id).values(inspect_lease_expires_at=lease))
        return result.rowcount > 0


def finish_run(settings: Settings, book_id: int, run_id: str | None, **values) -> bool:
    """Record what run ``run_id`` read (book columns: status, error, title, chapters...)
    if it still owns the book; False (nothing written) when a newer run took it over."""
    with session_scope(settings.database_url) as session:
        result = session.execute(
            _owned(book_id, run_id).values(inspect_lease_expires_at=None, **values)
        )
        return result.rowcount > 0


def reconcile(conn: redis.Redis, settings: Settings) -> list[int]:
    """One watchdog pass over inspections (see the module doc); the ids of the books
    re-enqueued or given up on. Many workers may call it: a Redis lock lets one pass run."""
    return queue.locked_pass(conn, settings, "watchdog:inspect", lambda: _reconcile(conn, settings))


def _reconcile(conn: redis.Redis, settings: Settings) -> list[int]:
    requeue: list[tuple[int, str]] = []
    touched: list[int] = []
    with session_scope(settings.database_url) as session:
        stale = session.exec(
            select(Book)
            .where(col(Book.status) == BookStatus.UPLOADED)
            .where(col(Book.deleted_at).is_(None))
            .where(col(Book.inspect_rq_job_id).is_not(None))
            .where(col(Book.inspect_lease_expires_at) <= utcnow())
        ).all()
        for book in stale:
            rq_job = queue.fetch_rq_job(conn, book.inspect_rq_job_id)
            rq_status = rq_job.get_status(refresh=False) if rq_job else None
            if rq_status in _RQ_WAITING:
                continue  # waiting in the queue, or for a retry
            log.warning(
                "inspect of book %s %s; %s",
                book.id,
                "abandoned (lease expired)"
                if rq_status == RQStatus.STARTED
                else f"has no live RQ job ({rq_status})",
                "giving up" if book.inspect_attempts >= settings.max_task_attempts else "resuming",
            )
            touched.append(book.id)
            if rq_job is not None:
                rq_job.delete(remove_from_queue=True)
            if book.inspect_attempts >= settings.max_task_attempts:
                _give_up(book)
            else:
                requeue.append((book.id, mark_enqueued(session, settings, book)))
            session.add(book)
    for book_id, job_id in requeue:
        enqueue(conn, settings, book_id, job_id)
    return touched


def _give_up(book: Book) -> None:
    book.status = BookStatus.REJECTED
    book.inspect_lease_expires_at = None
    book.error = (
        f"reading {book.source_filename} was interrupted {book.inspect_attempts} times "
        "(a worker stopped while reading it); upload it again, or ask the admin to check "
        "the workers"
    )
