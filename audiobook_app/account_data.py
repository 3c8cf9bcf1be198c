"""An author's own data: everything of theirs in one ZIP, and deleting the account.

:func:`export_zip` writes::

    README.txt      what is where
    account.json    email, role, created; sign-in methods, API keys (names and prefixes,
                    never secrets), sessions, balance
    books.json      every book: metadata, chapters, outline, casting, lexicon and
                    settings (config_overrides), playback position
    jobs.json       every conversion: status, settings, timings, chapters
    voices.json     the author's own voices (designed, cloned) and their transcripts
    trials.json     every voice try
    files.json      every stored file the database knows (key, purpose, size)
    ledger.csv      every credit ledger entry
    usage.csv       every metered usage event
    files/...       every object stored under the author's prefix ``users/<id>/``, at
                    its key without that prefix: manuscripts, covers, output M4B/MP3s,
                    segments, mastered chapters, voice references and uploads, trials

Stored files are streamed through a temporary file one at a time (memory stays flat)
and stored uncompressed (ZIP_STORED) unless they are text.

:func:`delete_account` removes every stored object and every row of the user (see its
docstring), after cancelling their running jobs.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import redis
from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, col, or_, select

from audiobook_app.billing import ledger
from audiobook_app.db import repo
from audiobook_app.db.models import (
    ApiKey,
    AuditLog,
    Book,
    Chapter,
    File,
    Job,
    JobStatus,
    LedgerEntry,
    OAuthIdentity,
    PasswordResetToken,
    Segment,
    Task,
    UsageEvent,
    User,
    UserRole,
    UserSession,
    Voice,
    VoiceTrial,
    utcnow,
)
from audiobook_app.db.session import session_scope
from audiobook_app.downloads import spooled
from audiobook_app.jobs import events, queue
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, validate_key
from pipeline.errors import ConflictError, InputError, NotFoundError

log = logging.getLogger(__name__)
FILES_DIR = "files"
TEXT_SUFFIXES = {".json", ".txt", ".text", ".md", ".markdown", ".csv"}  # worth deflating
LEDGER_COLUMNS = ("id", "created_at", "delta", "reason", "job_id", "note", "external_ref", "detail")
USAGE_COLUMNS = ("id", "created_at", "kind", "quantity", "unit", "job_id")
BOOK_INTERNAL = {"inspect_rq_job_id", "inspect_attempts", "inspect_lease_expires_at"}
README = """Your data from Audiobook Studio, exported {when} UTC.

account.json  your account: email, role, sign-in methods, API keys (names only), sessions
books.json    your books: metadata, chapters, casting, lexicon and settings
jobs.json     your conversions and their chapters
voices.json   your own voices; trials.json: your voice tries
files.json    the stored files the studio lists for you
ledger.csv    every credit movement; usage.csv: metered usage
files/        every file stored for you (manuscripts, audiobooks, voices, trials...)
"""


def user_prefix(user_id: int) -> str:
    """The storage folder prefix holding every object of ``user_id`` (``users/<id>/``)."""
    return validate_key(f"users/{int(user_id)}/", prefix=True)


def export_filename() -> str:
    """The download name of an export made now (``audiobook-studio-data-YYYY-MM-DD.zip``)."""
    return f"audiobook-studio-data-{utcnow():%Y-%m-%d}.zip"


def _rows(session: Session, model: type[SQLModel], *where) -> list:
    return list(session.exec(select(model).where(*where).order_by(model.id)).all())


def _dump(row: SQLModel, exclude: set[str] | None = None) -> dict:
    # warnings off: enum columns load as plain strings, which serialize the same
    return row.model_dump(mode="json", exclude=exclude, warnings=False)


def _csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    return out.getvalue()


def _documents(session: Session, user: User) -> dict[str, str]:
    """The metadata documents of the export (name -> text)."""
    uid = user.id
    jobs = _rows(session, Job, Job.owner_id == uid)
    chapters = _rows(session, Chapter, col(Chapter.job_id).in_([j.id for j in jobs]))
    account = {
        **_dump(user, exclude={"password_hash"}),
        "password_set": user.password_hash is not None,
        "balance": ledger.balance(session, uid),
        "oauth_identities": [
            _dump(r) for r in _rows(session, OAuthIdentity, OAuthIdentity.user_id == uid)
        ],
        "api_keys": [_dump(r, {"key_hash"}) for r in _rows(session, ApiKey, ApiKey.user_id == uid)],
        "sessions": [
            _dump(r, {"token_hash"})
            for r in _rows(session, UserSession, UserSession.user_id == uid)
        ],
    }
    jobs_doc = [
        {**_dump(job), "chapters": [_dump(c) for c in chapters if c.job_id == job.id]}
        for job in jobs
    ]
    docs = {
        "account.json": account,
        "books.json": [_dump(b, BOOK_INTERNAL) for b in _rows(session, Book, Book.owner_id == uid)],
        "jobs.json": jobs_doc,
        "voices.json": [_dump(v) for v in _rows(session, Voice, Voice.owner_id == uid)],
        "trials.json": [_dump(t) for t in _rows(session, VoiceTrial, VoiceTrial.owner_id == uid)],
        "files.json": [_dump(f) for f in _rows(session, File, File.owner_id == uid)],
    }
    text = {name: json.dumps(doc, indent=2, ensure_ascii=False) for name, doc in docs.items()}
    entries = [_dump(e) for e in _rows(session, LedgerEntry, LedgerEntry.user_id == uid)]
    usage = [_dump(u) for u in _rows(session, UsageEvent, UsageEvent.user_id == uid)]
    text["ledger.csv"] = _csv(entries, LEDGER_COLUMNS)
    text["usage.csv"] = _csv(usage, USAGE_COLUMNS)
    return text


def export_file(settings: Settings, storage: Storage, user_id: int) -> tuple[BinaryIO, int]:
    """:func:`export_zip` into an unlinked temporary file: (the file rewound, its size in
    bytes), for a download (:func:`audiobook_app.downloads.attachment`). Raises as
    :func:`export_zip`."""

    def write(file: BinaryIO) -> None:
        with session_scope(settings.database_url) as session:
            export_zip(session, storage, user_id, file)

    return spooled(write)


def export_zip(session: Session, storage: Storage, user_id: int, file: BinaryIO) -> list[str]:
    """Write the ZIP of everything of ``user_id``'s (module doc) to ``file`` (a writable
    binary file; seekable or not); return the names written, in order. Raises
    NotFoundError (no such user), StorageError."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    prefix = user_prefix(user_id)
    names = ["README.txt"]
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(when=utcnow().strftime("%Y-%m-%d %H:%M")))
        for name, text in _documents(session, user).items():
            archive.writestr(name, text)
            names.append(name)
        with tempfile.TemporaryDirectory(prefix="export-") as scratch:
            local = Path(scratch) / "object"
            for key in storage.list_keys(prefix):
                name = f"{FILES_DIR}/{key.removeprefix(prefix)}"
                storage.get_file(key, local)
                compress = (
                    zipfile.ZIP_DEFLATED
                    if PurePosixPath(key).suffix.lower() in TEXT_SUFFIXES
                    else zipfile.ZIP_STORED
                )
                archive.write(local, name, compress_type=compress)
                local.unlink()
                names.append(name)
    return names


def _other_admins(session: Session, user_id: int) -> int:
    query = select(User.id).where(
        User.role == UserRole.ADMIN, User.id != user_id, col(User.disabled).is_(False)
    )
    return len(session.exec(query.with_for_update()).all())


def _check_deletable(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    if user.role == UserRole.ADMIN and not _other_admins(session, user_id):
        raise ConflictError(
            "this is the only admin account: make another user an admin before deleting it"
        )
    return user


def delete_account(
    conn: redis.Redis, settings: Settings, storage: Storage, user_id: int
) -> dict[str, int]:
    """Delete user ``user_id`` and everything of theirs; return what was removed
    (``stored_objects``, then rows per table name).

    In order: their running jobs are cancelled (:func:`queue.cancel`: queued RQ jobs
    deleted, running tasks stop at their next segment) and their progress streams
    dropped; every stored object under ``users/<id>/`` is deleted (uploads, outputs,
    segments, the mastered-chapter cache of ``worker.chapter_cache``, voice references,
    design takes, trials); then in one transaction every row of theirs: books, jobs,
    tasks, chapters, segments, files, voices, voice trials, usage events, ledger
    entries, sessions, reset tokens, OAuth identities, API keys, the audit rows they
    made, and the user; one ``account.delete`` audit row (actor none, target the user
    id) records it. The prefix is swept once more afterwards (a task still speaking
    writes its segment), and housekeeping sweeps it again for a week. Worker machines
    drop their cached copies of the voice references at their next scratch sweep.

    Raises NotFoundError (no such user), ConflictError (the only enabled admin: nobody
    could administer the studio, and the next sign-up would become the admin)."""
    with session_scope(settings.database_url) as session:
        _check_deletable(session, user_id)
        jobs = _rows(session, Job, Job.owner_id == user_id)
    for job in jobs:
        if not JobStatus(job.status).is_final:
            queue.cancel(conn, settings, job.id, actor_id=user_id, owner_id=user_id)
    _drop_streams(conn, settings, [job.id for job in jobs])
    prefix = user_prefix(user_id)
    removed = storage.delete_prefix(prefix)
    with session_scope(settings.database_url) as session:
        _check_deletable(session, user_id)  # again, under the admins' row locks
        counts = _delete_rows(session, user_id)
        repo.audit(
            session,
            None,
            "account.delete",
            "user",
            str(user_id),
            stored_objects=removed,
            rows=counts,
        )
    removed += storage.delete_prefix(prefix)
    log.info("deleted user %s: %d stored objects, rows %s", user_id, removed, counts)
    return {"stored_objects": removed, **counts}


def delete_confirmed(
    conn: redis.Redis, settings: Settings, storage: Storage, user_id: int, typed_email: str
) -> dict[str, int]:
    """:func:`delete_account`, once the user typed their account's email to confirm (the
    account page and ``DELETE /api/v1/account``; case and surrounding spaces do not
    matter). Raises InputError (400: the email typed is not the account's) and what
    :func:`delete_account` raises."""
    with session_scope(settings.database_url) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id}")
        email = user.email
    if " ".join((typed_email or "").split()).lower() != email.lower():
        raise InputError(
            "to delete your account, type its email address exactly as you sign in with it"
        )
    return delete_account(conn, settings, storage, user_id)


def _drop_streams(conn: redis.Redis, settings: Settings, job_ids: list[str]) -> None:
    """Delete the progress streams of ``job_ids`` (best effort: they are capped, and
    hold only progress)."""
    try:
        if job_ids:
            conn.delete(*[events.stream_key(settings, job_id) for job_id in job_ids])
    except redis.RedisError as exc:
        log.warning("progress streams of %d job(s) not deleted: %s", len(job_ids), exc)


def _delete_rows(session: Session, user_id: int) -> dict[str, int]:
    """Delete every row of ``user_id`` (children first); rows removed per table."""
    jobs = select(Job.id).where(Job.owner_id == user_id)
    books = select(Book.id).where(Book.owner_id == user_id)
    mine = {
        Segment: col(Segment.job_id).in_(jobs),
        Chapter: col(Chapter.job_id).in_(jobs),
        Task: col(Task.job_id).in_(jobs),
        UsageEvent: or_(UsageEvent.user_id == user_id, col(UsageEvent.job_id).in_(jobs)),
        File: or_(
            File.owner_id == user_id, col(File.job_id).in_(jobs), col(File.book_id).in_(books)
        ),
        # The ORM refuses to delete ledger rows (db.session: the ledger is append-only, so
        # no balance changes behind its back). Erasing an account erases its whole ledger
        # and its balance with it, so this one deliberate delete is a core statement.
        LedgerEntry: or_(LedgerEntry.user_id == user_id, col(LedgerEntry.job_id).in_(jobs)),
        Job: Job.owner_id == user_id,
        Book: Book.owner_id == user_id,
        VoiceTrial: VoiceTrial.owner_id == user_id,
        Voice: Voice.owner_id == user_id,
        UserSession: UserSession.user_id == user_id,
        PasswordResetToken: PasswordResetToken.user_id == user_id,
        OAuthIdentity: OAuthIdentity.user_id == user_id,
        ApiKey: ApiKey.user_id == user_id,
        AuditLog: AuditLog.actor_id == user_id,
    }
    # Credits this user granted others as an admin stay theirs: the entries keep their
    # amount, reason and note, and lose only the pointer to the deleted admin (a core
    # UPDATE for the same reason as above; nothing that sums to a balance changes).
    session.execute(
        update(LedgerEntry).where(LedgerEntry.actor_id == user_id).values(actor_id=None)
    )
    counts = {}
    for model, where in mine.items():
        counts[model.__tablename__] = session.execute(delete(model).where(where)).rowcount
    counts["users"] = session.execute(delete(User).where(User.id == user_id)).rowcount
    session.expunge_all()  # the rows loaded above are gone
    return counts
