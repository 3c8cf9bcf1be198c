"""Rows for the admin tests, written straight to the database (no argon2, no workers)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from audiobook_app.db.models import (
    Book,
    BookStatus,
    Job,
    JobStatus,
    Task,
    TaskKind,
    TaskStatus,
    User,
    UserRole,
    utcnow,
)
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.config import PipelineConfig

QUEUE_KINDS = ("cpu", "tts", "gpu")


def make_settings(db_url: str, tmp_path: Path, **overrides) -> Settings:
    """Settings of one test: its database, queues of its own, storage in ``tmp_path``."""
    values = {
        "database_url": db_url,
        "queue_prefix": f"abadmin-{uuid.uuid4().hex[:10]}",
        "storage_root": tmp_path / "storage",
        "mail_outbox_dir": tmp_path / "outbox",
        "free_credits": 0,
        "reservation_margin": 0.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def make_user(
    settings: Settings,
    email: str,
    role: UserRole = UserRole.AUTHOR,
    *,
    disabled: bool = False,
    created_at: datetime | None = None,
) -> int:
    """A user without a password; returns the id."""
    with session_scope(settings.database_url) as session:
        user = User(email=email, role=role, disabled=disabled, created_at=created_at or utcnow())
        session.add(user)
        session.flush()
        return user.id


def make_book(
    settings: Settings, owner_id: int, title: str = "Tiny", *, words: int = 100, deleted=False
) -> int:
    """A ready book of one chapter of ``words`` words; returns the id."""
    with session_scope(settings.database_url) as session:
        book = Book(
            owner_id=owner_id,
            title=title,
            source_filename="tiny.txt",
            source_key=f"users/{owner_id}/{uuid.uuid4().hex}.txt",
            status=BookStatus.READY,
            words=words,
            chapters=[{"index": 1, "title": "One", "words": words, "first": 0, "last": 0}],
            deleted_at=utcnow() if deleted else None,
        )
        session.add(book)
        session.flush()
        return book.id


def make_job(
    settings: Settings,
    book_id: int,
    status: JobStatus = JobStatus.COMPLETED,
    *,
    created_at: datetime | None = None,
    audio_s: float = 0.0,
    error: str | None = None,
) -> str:
    """A job of ``book_id`` (its owner's) with a prepare task; returns the id."""
    with session_scope(settings.database_url) as session:
        book = session.get(Book, book_id)
        job = Job(
            book_id=book_id,
            owner_id=book.owner_id,
            status=status,
            stage=str(status),
            chapters_spec="1",
            config=PipelineConfig().model_dump(mode="json"),
            audio_s=audio_s,
            error=error,
            created_at=created_at or utcnow(),
            timings={"prepare": 1.5},
        )
        session.add(job)
        session.flush()
        final = JobStatus(status).is_final
        session.add(
            Task(
                id=f"{job.id}-prepare",
                job_id=job.id,
                kind=TaskKind.PREPARE,
                status=TaskStatus.COMPLETED if final else TaskStatus.QUEUED,
                attempts=1,
                error=error,
            )
        )
        return job.id
