"""The email an author gets when a book job ends: finished (with its length) or failed
(with the reason), with a link back to the book's page. Sent through the configured
mailer (an outbox folder of .eml files by default, SMTP when configured). A mail
failure is logged and never fails the job."""

from __future__ import annotations

import logging

from audiobook_app.accounts.mailer import build_mailer
from audiobook_app.db import repo
from audiobook_app.db.models import JobStatus, User
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import AudiobookError

log = logging.getLogger(__name__)


def job_ended_message(settings: Settings, job_id: str) -> tuple[str, str, str] | None:
    """(recipient, subject, text) for a completed or failed job; None for any other state."""
    with session_scope(settings.database_url) as session:
        job = repo.get_job(session, job_id)
        if job.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return None
        book, user = repo.get_book(session, job.book_id), session.get(User, job.owner_id)
        title, link = (
            book.title or book.source_filename,
            f"{settings.public_base_url.rstrip('/')}/books/{book.id}",
        )
        if job.status == JobStatus.COMPLETED:
            subject = f"Your audiobook is ready: {title}"
            text = (
                f"“{title}” is ready: {job.audio_s / 60:.1f} minutes of audio.\n\n"
                f"Listen and download it here: {link}\n"
            )
        else:
            subject = f"Your audiobook could not be made: {title}"
            text = f"Making “{title}” failed: {job.error or 'unknown error'}\n\nSee the book here: {link}\n"
        return user.email, subject, text


def notify_job_ended(settings: Settings, job_id: str) -> bool:
    """Email the owner of a job that just completed or failed; True when a mail was sent."""
    try:
        message = job_ended_message(settings, job_id)
        if message is None:
            return False
        build_mailer(settings).send(*message)
        return True
    except (AudiobookError, OSError, ValueError) as exc:
        log.warning("could not email the end of job %s: %s", job_id, exc)
        return False
