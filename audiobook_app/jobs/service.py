"""Submitting books as jobs: what the CLI's ``submit`` and the web app's Start call.

:func:`submit` checks and stores the upload, records the book and a ``queued`` job with
its ``prepare`` task, and enqueues it. Everything after that happens in workers
(``worker.tasks``); follow it with :func:`audiobook_app.jobs.events.subscribe`.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from audiobook_app import book_cast
from audiobook_app.db import repo
from audiobook_app.db.models import User
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import events, queue
from audiobook_app.library import queue_job, store_manuscript
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage
from pipeline.config import PipelineConfig


@dataclass(frozen=True)
class Submission:
    """What :func:`submit` created: ids to follow and show."""

    job_id: str
    book_id: int
    source_key: str


def submit(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user: User,
    filename: str,
    data: bytes,
    *,
    chapters: str | None = None,
    config: PipelineConfig | None = None,
) -> Submission:
    """Store ``data`` (a manuscript called ``filename``) for ``user`` and queue its conversion.

    ``chapters`` is a selection such as "1-3,5" (validated once the book is parsed);
    ``config`` the job's settings (defaults when None). This is the operator's CLI on
    the machine itself: it reserves and charges no credits (the manuscript is not parsed
    yet, so there is nothing to quote); its usage is still recorded. Raises
    :class:`pipeline.errors.UploadRejectedError` for an empty, oversized or mistyped
    upload (nothing is stored then) and StorageError when storage fails.
    """
    config = config or PipelineConfig()
    with session_scope(settings.database_url) as session:
        book = store_manuscript(session, storage, settings, user.id, filename, data)
        book.casting = book_cast.casting_of_config(config)
        job, task = queue_job(session, settings, book, chapters, config)
        repo.audit(
            session,
            user.id,
            "job.submit",
            "job",
            job.id,
            filename=book.source_filename,
            chapters=chapters,
        )
    queue.enqueue(conn, settings, task)
    events.publish(conn, settings, job)
    return Submission(job.id, book.id, book.source_key)
