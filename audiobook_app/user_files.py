"""An author's stored files as the REST API shows them: manuscripts uploaded on their
own (to become a book later), and the list of everything stored for the author.

An upload is kept under ``users/<id>/uploads/<token>/<file name>`` with a
:class:`File` row (purpose ``source``, no book) until :func:`add_book_from_upload`
makes a book of it (the manuscript then lives with the book, like a dashboard upload,
and the upload is removed) or the author deletes it. Uploads nobody made a book of are
temporary: housekeeping may remove them after ``settings.temp_upload_ttl_s``. Another
author's file reads exactly like a missing one (:class:`NotFoundError`).
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

import redis
from sqlmodel import Session, col, select

from audiobook_app import library
from audiobook_app.db import repo
from audiobook_app.db.models import Book, File, FilePurpose, User
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, check_upload, safe_filename, user_key
from pipeline.errors import ConflictError, NotFoundError

UPLOADS = "uploads"  # the key folder of uploads waiting to become books


def uploads_prefix(user_id: int) -> str:
    """The storage prefix of the user's uploads (ends with ``/``)."""
    return user_key(user_id, UPLOADS) + "/"


def is_upload(row: File) -> bool:
    """Whether ``row`` is an upload waiting to become a book."""
    return row.book_id is None and row.key.startswith(uploads_prefix(row.owner_id))


def store_upload(
    session: Session, storage: Storage, settings: Settings, user_id: int, filename: str, data: bytes
) -> File:
    """Check (:func:`check_upload`) and store a manuscript upload of ``user_id``; return
    its File row. Raises UploadTooLargeError (over ``settings.max_upload_bytes``),
    StorageQuotaExceededError (over ``settings.storage_quota_bytes``),
    UploadRejectedError (empty or not a manuscript), NotFoundError (unknown or disabled
    user), StorageError. Nothing is stored when it raises."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise NotFoundError(f"no user {user_id}")
    name = PurePath(filename.replace("\\", "/")).name or "manuscript"
    mime = check_upload(name, data, settings.max_upload_bytes)
    library.check_storage_quota(session, settings, user_id, name, len(data))
    key = f"{uploads_prefix(user_id)}{uuid.uuid4().hex[:16]}/{safe_filename(name)}"
    storage.put_bytes(key, data, mime)
    row = repo.add_file(session, user_id, key, len(data), mime, FilePurpose.SOURCE)
    repo.audit(session, user_id, "file.upload", "file", str(row.id), name=name)
    return row


def list_files(
    session: Session,
    user_id: int,
    *,
    purpose: FilePurpose | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[File]:
    """The user's stored files (of one ``purpose`` when given), newest first; files of
    deleted books are left out."""
    query = (
        select(File)
        .outerjoin(Book, col(Book.id) == col(File.book_id))
        .where(File.owner_id == user_id, col(Book.deleted_at).is_(None))
    )
    if purpose is not None:
        query = query.where(File.purpose == purpose)
    query = query.order_by(col(File.created_at).desc(), col(File.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def delete_upload(session: Session, storage: Storage, user_id: int, file_id: int) -> None:
    """Delete one of the user's uploads (object and row). Raises NotFoundError, and
    ConflictError for a file that belongs to a book, a job or a voice (delete that
    instead, which removes its files)."""
    row = library.owned_file(session, user_id, file_id)
    if not is_upload(row):
        owner = f"book {row.book_id}" if row.book_id is not None else "a voice or a voice try"
        raise ConflictError(
            f"file {file_id} belongs to {owner}: delete that instead, which removes its files"
        )
    storage.delete(row.key)
    session.delete(row)
    repo.audit(session, user_id, "file.delete", "file", str(file_id))
    session.flush()


def add_book_from_upload(
    conn: redis.Redis, settings: Settings, storage: Storage, user_id: int, file_id: int
) -> int:
    """Make a book of one of the user's uploads (:func:`library.add_manuscript`: stored
    with the book, inspection queued) and remove the upload; return the book id.
    Raises NotFoundError, ConflictError (the file is not an upload waiting to become a
    book), StorageError, QueueError."""
    with session_scope(settings.database_url) as session:
        row = library.owned_file(session, user_id, file_id)
        if not is_upload(row):
            raise ConflictError(
                f"file {file_id} is not an upload waiting to become a book: upload the "
                "manuscript (POST /files), then create the book from it"
            )
        key, name = row.key, row.key.rsplit("/", 1)[-1]
    book_id = library.add_manuscript(
        conn, settings, storage, user_id, name, storage.get_bytes(key), replaces_file=file_id
    )
    with session_scope(settings.database_url) as session:
        row = session.get(File, file_id)
        if row is not None:
            session.delete(row)
    storage.delete(key)
    return book_id
