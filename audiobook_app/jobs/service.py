"""Submitting books as jobs: what the CLI's ``submit`` and the web app's Start call.

:func:`submit` checks and stores the upload, records the book and a ``queued`` job with
its ``prepare`` task, and enqueues it. Everything after that happens in workers
(``worker.tasks``); follow it with :func:`audiobook_app.jobs.events.subscribe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import redis

from audiobook_app.db import repo
from audiobook_app.db.models import Book, FilePurpose, Job, JobStatus, TaskKind, User, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import events, queue
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, check_upload, safe_filename, user_key
from pipeline.config import PipelineConfig


@dataclass(frozen=True)
class Submission:
    """What :func:`submit` created: ids to follow and show."""

    job_id: str
    book_id: int
    source_key: str


def submit(conn: redis.Redis, settings: Settings, storage: Storage, user: User, filename: str, data: bytes,
           *, chapters: str | None = None, config: PipelineConfig | None = None) -> Submission:
    """Store ``data`` (a manuscript called ``filename``) for ``user`` and queue its conversion.

    ``chapters`` is a selection such as "1-3,5" (validated once the book is parsed);
    ``config`` the job's settings (defaults when None). Raises
    :class:`pipeline.errors.UploadRejectedError` for an empty, oversized or mistyped
    upload (nothing is stored then) and StorageError when storage fails.
    """
    name = PurePath(filename).name or "manuscript"
    mime = check_upload(name, data, settings.max_upload_bytes)
    config = config or PipelineConfig()
    with session_scope(settings.database_url) as session:
        book = Book(owner_id=user.id, title=PurePath(name).stem, source_filename=name, source_key="",
                    casting={"narrator": config.voice.narrator})
        session.add(book)
        session.flush()
        book.source_key = user_key(user.id, "books", str(book.id), "source", safe_filename(name))
        storage.put_bytes(book.source_key, data, mime)
        repo.add_file(session, user.id, book.source_key, len(data), mime, FilePurpose.SOURCE, book_id=book.id)
        job = Job(book_id=book.id, owner_id=user.id, status=JobStatus.QUEUED, stage="queued",
                  chapters_spec=chapters, config=config.model_dump(mode="json"), updated_at=utcnow())
        session.add(job)
        session.flush()
        task = repo.add_task(session, job, TaskKind.PREPARE)
        queue.mark_enqueued(session, settings, task)
        repo.audit(session, user.id, "job.submit", "job", job.id, filename=name, chapters=chapters)
    queue.enqueue(conn, settings, task)
    events.publish(conn, settings, job)
    return Submission(job.id, book.id, book.source_key)
