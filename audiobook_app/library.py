"""An author's library: books uploaded, inspected, configured, converted, deleted.

What the dashboard's handlers call (and ``jobs.service.submit`` for the CLI). Every
function takes the acting user's id and refuses, with :class:`NotFoundError`, any book or
job that is not theirs or was deleted: one user can never see, start, cancel, play or
download another's book. Heavy work never runs here: parsing is the ``inspect`` RQ job,
conversion the job's tasks (``worker.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import redis
from sqlmodel import Session, col, func, select

from audiobook_app import book_cast, ratelimit, tracks
from audiobook_app.accounts.ownership import get_owned
from audiobook_app.billing import ledger, pricing
from audiobook_app.db import repo
from audiobook_app.db.models import (
    Book,
    BookStatus,
    Chapter,
    File,
    FilePurpose,
    Job,
    JobStatus,
    Task,
    TaskKind,
    User,
    utcnow,
)
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import events, inspections, queue
from audiobook_app.settings import Settings
from audiobook_app.storage import (
    Storage,
    chapter_texts_key,
    check_upload,
    safe_filename,
    size_text,
    user_key,
)
from pipeline.config import PipelineConfig
from pipeline.convert import parse_chapter_selection
from pipeline.errors import (
    ChapterSelectionError,
    ConflictError,
    NotFoundError,
    StorageQuotaExceededError,
    UploadRejectedError,
)

PASTED_FILENAME = "pasted.txt"
MAX_PASTED_TITLE_CHARS = 120  # the title of pasted text (given, or its first line)
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class BookSummary:
    """One row of the author's history: the book and its latest job (None before Start)."""

    book: Book
    job: Job | None


def stored_bytes(session: Session, user_id: int, *, excluding_file: int | None = None) -> int:
    """The bytes stored for ``user_id``: the sum of their File rows' sizes (manuscripts,
    uploads, voices, every job's audio), leaving out File ``excluding_file``."""
    query = select(func.coalesce(func.sum(File.size_bytes), 0)).where(File.owner_id == user_id)
    if excluding_file is not None:
        query = query.where(File.id != excluding_file)
    return int(session.exec(query).one())


def check_storage_quota(
    session: Session,
    settings: Settings,
    user_id: int,
    name: str,
    size: int,
    *,
    excluding_file: int | None = None,
) -> None:
    """Refuse ``size`` more bytes (manuscript ``name``) that would take the user's stored
    files (:func:`stored_bytes`) over ``settings.storage_quota_bytes`` (0: no quota).
    Holds the user's account lock until the transaction ends, so concurrent uploads
    are counted one after the other. Raises :class:`StorageQuotaExceededError`."""
    quota = settings.storage_quota_bytes
    if not quota:
        return
    ledger.lock_account(session, user_id)
    used = stored_bytes(session, user_id, excluding_file=excluding_file)
    if used + size > quota:
        raise StorageQuotaExceededError(
            f"{name} ({size_text(size)}) does not fit in your storage: {size_text(used)} of "
            f"your {size_text(quota)} are used; delete books you no longer need, then add it "
            "again"
        )


def store_manuscript(
    session: Session,
    storage: Storage,
    settings: Settings,
    user_id: int,
    filename: str,
    data: bytes,
    *,
    replaces_file: int | None = None,
) -> Book:
    """Check and store an upload for ``user_id`` and record its book row (status
    ``uploaded``). Nothing is stored when it raises :class:`UploadTooLargeError` (over
    ``settings.max_upload_bytes``), :class:`StorageQuotaExceededError` (the author's
    files would go over ``settings.storage_quota_bytes``; File ``replaces_file``, an
    upload this manuscript replaces, is not counted) or :class:`UploadRejectedError`
    (empty or mistyped); StorageError when storage fails."""
    name = PurePath(filename).name or "manuscript"
    mime = check_upload(name, data, settings.max_upload_bytes)
    check_storage_quota(session, settings, user_id, name, len(data), excluding_file=replaces_file)
    book = Book(owner_id=user_id, title=PurePath(name).stem, source_filename=name, source_key="")
    session.add(book)
    session.flush()
    book.source_key = user_key(user_id, "books", str(book.id), "source", safe_filename(name))
    storage.put_bytes(book.source_key, data, mime)
    repo.add_file(
        session, user_id, book.source_key, len(data), mime, FilePurpose.SOURCE, book_id=book.id
    )
    return book


def add_manuscript(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    filename: str,
    data: bytes,
    *,
    replaces_file: int | None = None,
) -> int:
    """Store an uploaded manuscript and queue its inspection; return the book id. The
    one place the page, the REST API and (through :func:`store_manuscript`) the CLI
    store manuscripts: size limit and storage quota are checked before anything is
    stored. The inspection is watched like a job's tasks
    (:mod:`audiobook_app.jobs.inspections`: its RQ job id and lease are on the book row;
    the workers' watchdog redoes it when its worker dies or Redis loses it). Raises as
    :func:`store_manuscript` (``replaces_file``: see there)."""
    with session_scope(settings.database_url) as session:
        book = store_manuscript(
            session, storage, settings, user_id, filename, data, replaces_file=replaces_file
        )
        repo.audit(
            session, user_id, "book.upload", "book", str(book.id), filename=book.source_filename
        )
        book_id, rq_job_id = book.id, inspections.mark_enqueued(session, settings, book)
    inspections.enqueue(conn, settings, book_id, rq_job_id)
    return book_id


def pasted_title(text: str, title: str = "") -> str:
    """The title of pasted ``text``: ``title`` when given, else the text's first line
    (cut at a word near :data:`MAX_PASTED_TITLE_CHARS`); "Pasted" when both are blank."""
    for candidate in (title, *text.splitlines()):
        words = " ".join(candidate.replace("/", "-").replace("\\", "-").split())
        if words:
            if len(words) > MAX_PASTED_TITLE_CHARS:
                words = words[:MAX_PASTED_TITLE_CHARS].rsplit(" ", 1)[0]
            return words
    return PurePath(PASTED_FILENAME).stem.capitalize()


def add_pasted_text(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    text: str,
    title: str = "",
) -> int:
    """Store pasted text as a UTF-8 TXT manuscript named after its :func:`pasted_title`
    (the book's title: a file name that reads like a title is kept as it is) and queue
    its inspection; return the book id. Raises :class:`UploadRejectedError` for blank
    text."""
    if not text.strip():
        raise UploadRejectedError("the pasted text is empty: paste the manuscript's text, then Add")
    filename = f"{pasted_title(text, title)}.txt"
    return add_manuscript(conn, settings, storage, user_id, filename, text.encode("utf-8"))


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise NotFoundError(f"no user {user_id}")
    return user


def owned_book(session: Session, user_id: int, book_id: int) -> Book:
    """Book ``book_id`` if ``user_id`` owns it and it is not deleted. Raises NotFoundError
    (another user's book reads exactly like a missing one)."""
    book = get_owned(session, _user(session, user_id), Book, book_id)
    if book.deleted_at is not None:
        raise NotFoundError(f"no book {book_id}")
    return book


def owned_job(session: Session, user_id: int, job_id: str) -> Job:
    """Job ``job_id`` if ``user_id`` owns it and its book is not deleted. Raises NotFoundError."""
    job = get_owned(session, _user(session, user_id), Job, job_id)
    owned_book(session, user_id, job.book_id)
    return job


def owned_file(session: Session, user_id: int, file_id: int) -> File:
    """File ``file_id`` if ``user_id`` owns it and its book is not deleted. Raises NotFoundError."""
    row = get_owned(session, _user(session, user_id), File, file_id)
    if row.book_id is not None:
        owned_book(session, user_id, row.book_id)
    return row


def chapter_texts(storage: Storage, book: Book) -> dict[int, str]:
    """Chapter index -> plain text at the book's current layout, composed from the
    section texts the ``inspect`` job stored (:func:`tracks.track_texts`; empty before)."""
    key = chapter_texts_key(book.owner_id, book.id)
    if book.status != BookStatus.READY or not storage.exists(key):
        return {}
    return tracks.track_texts(storage.get_bytes(key), book.chapters)


def chapter_text(
    settings: Settings, storage: Storage, user_id: int, book_id: int, index: int
) -> str:
    """The text of chapter ``index`` of one of the user's books ("" when unknown or not
    read yet). Raises NotFoundError."""
    with session_scope(settings.database_url) as session:
        book = owned_book(session, user_id, book_id)
    return chapter_texts(storage, book).get(index, "")


def start(
    conn: redis.Redis,
    settings: Settings,
    user_id: int,
    book_id: int,
    *,
    chosen: list[int],
    titles: dict[int, str] | None = None,
    config: PipelineConfig | None = None,
    speed: float = 1.0,
    remember: bool = True,
) -> str:
    """Convert the chosen chapters (1-based indices) of a ready book, with the author's
        chapter ``titles`` (index -> title); return the job id. The job runs with ``config``
        when given, else with the book's stored cast and lexicon at ``speed``
        (:func:`book_cast.pipeline_config`). Start reserves the quote's credits
    (:func:`pricing.quote`); completion charges, failure or cancel releases them. Counts
    against the user's ``settings.rate_job_starts`` (with :func:`retry`). Raises
    InsufficientCreditsError (nothing recorded) when the balance is short, NotFoundError,
        ChapterSelectionError (nothing chosen, unknown chapter, or the book is not ready),
        ConflictError (a job of the book is running), RateLimitedError (too many starts),
        CastError and ConfigError (a cast voice that cannot be used), and QueueError when
        Redis is down after the job was recorded (the watchdog retries). ``remember`` False
        leaves the book's chosen chapters as they were (a preview, :func:`preview`)."""
    with session_scope(settings.database_url) as session:
        book = owned_book(session, user_id, book_id)
        if book.status != BookStatus.READY:
            raise ChapterSelectionError(
                f"book {book_id} is not ready ({book.status}): wait until it is read"
            )
        known = {c["index"] for c in book.chapters}
        chosen = sorted(set(chosen))
        if not chosen or not set(chosen) <= known:
            raise ChapterSelectionError("choose at least one of the book's chapters before Start")
        _refuse_running_job(session, book)
        ratelimit.hit(settings, "job_starts", "user", user_id)
        titles = {
            i: t.strip()[:MAX_TITLE_CHARS] for i, t in (titles or {}).items() if t and t.strip()
        }
        book.chapters = [{**c, "title": titles.get(c["index"], c["title"])} for c in book.chapters]
        if remember:
            book.chosen_chapters = chosen
        session.add(book)
        config = config or book_cast.pipeline_config(session, settings, user_id, book, speed)
        job, task = queue_job(session, settings, book, ",".join(map(str, chosen)), config)
        ledger.reserve(
            session, user_id, job.id, pricing.quote(settings, book, chosen, speed).reserve
        )
        repo.audit(session, user_id, "job.start", "job", job.id, book_id=book_id, chapters=chosen)
    queue.enqueue(conn, settings, task)
    events.publish(conn, settings, job)
    return job.id


def preview(
    conn: redis.Redis, settings: Settings, user_id: int, book_id: int, chapter_index: int
) -> str:
    """Convert one chapter of a ready book with its stored cast, lexicon and output
    choices, to hear it before the whole book is made; return the job id. The book's
    chosen chapters stay as they were, and a later job of the book reuses what the preview
    synthesized and mastered (segments and mastered chapters are kept per book). Billed
    and refused like :func:`start`."""
    return start(conn, settings, user_id, book_id, chosen=[chapter_index], remember=False)


def retry(conn: redis.Redis, settings: Settings, user_id: int, job_id: str) -> str:
    """Run a failed or cancelled job of the user's again, as a new job with the same
    chapters and config; return its id. It goes on from where the old one stopped:
    segments already synthesized are in the book's storage and are reused, not
    re-synthesized. Reserves credits like Start and counts as a start against
    ``settings.rate_job_starts``. Raises NotFoundError, ConflictError (the job did not
    fail or was not cancelled, or a newer job of the book runs), RateLimitedError,
    InsufficientCreditsError."""
    with session_scope(settings.database_url) as session:
        old = owned_job(session, user_id, job_id)
        if old.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise ConflictError(
                f"job {job_id} is {old.status}: only a failed or cancelled job is retried"
            )
        book = owned_book(session, user_id, old.book_id)
        _refuse_running_job(session, book)
        ratelimit.hit(settings, "job_starts", "user", user_id)
        config = PipelineConfig.model_validate(old.config)
        every = [c["index"] for c in book.chapters]
        chosen = list(parse_chapter_selection(old.chapters_spec, len(every)) or every)
        job, task = queue_job(session, settings, book, old.chapters_spec, config)
        ledger.reserve(session, user_id, job.id, pricing.quote(settings, book, chosen).reserve)
        repo.audit(session, user_id, "job.retry", "job", job.id, retry_of=job_id)
    queue.enqueue(conn, settings, task)
    events.publish(conn, settings, job)
    return job.id


def _refuse_running_job(session: Session, book: Book) -> None:
    """Raise ConflictError when a job of ``book`` has not ended (two jobs of one book
    would write the same segments). Takes the owner's account lock first, so two
    concurrent starts of one book cannot both pass (:func:`ledger.lock_account`)."""
    ledger.lock_account(session, book.owner_id)
    latest = latest_job(session, book.id)
    if latest is not None and not JobStatus(latest.status).is_final:
        raise ConflictError(f"book {book.id} has a running job ({latest.id}): wait or cancel it")


def queue_job(
    session: Session,
    settings: Settings,
    book: Book,
    chapters_spec: str | None,
    config: PipelineConfig,
) -> tuple[Job, Task]:
    """Record a queued job for ``book`` and its ``prepare`` task (enqueue the task with
    :func:`queue.enqueue` after the transaction commits)."""
    job = Job(
        book_id=book.id,
        owner_id=book.owner_id,
        status=JobStatus.QUEUED,
        stage="queued",
        chapters_spec=chapters_spec,
        config=config.model_dump(mode="json"),
        updated_at=utcnow(),
    )
    session.add(job)
    session.flush()
    task = repo.add_task(session, job, TaskKind.PREPARE)
    queue.mark_enqueued(session, settings, task)
    return job, task


def history(session: Session, user_id: int) -> list[BookSummary]:
    """The user's books (newest first, deleted ones left out), each with its latest job."""
    books = session.exec(
        select(Book)
        .where(Book.owner_id == user_id, col(Book.deleted_at).is_(None))
        .order_by(col(Book.created_at).desc(), col(Book.id).desc())
    ).all()
    return [BookSummary(book, latest_job(session, book.id)) for book in books]


def latest_job(session: Session, book_id: int) -> Job | None:
    """The newest job of a book (None before Start); check ownership of the book first."""
    return session.exec(
        select(Job).where(Job.book_id == book_id).order_by(col(Job.created_at).desc())
    ).first()


def list_jobs(
    session: Session,
    user_id: int,
    *,
    book_id: int | None = None,
    status: JobStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    """The user's jobs (of one book, or in one status, when given), newest first; jobs
    of deleted books are left out. Raises NotFoundError for a ``book_id`` not theirs."""
    if book_id is not None:
        owned_book(session, user_id, book_id)
    query = (
        select(Job)
        .join(Book, col(Book.id) == col(Job.book_id))
        .where(Job.owner_id == user_id, col(Book.deleted_at).is_(None))
    )
    if book_id is not None:
        query = query.where(Job.book_id == book_id)
    if status is not None:
        query = query.where(Job.status == status)
    query = query.order_by(col(Job.created_at).desc(), col(Job.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def job_chapters(session: Session, user_id: int, job_id: str) -> list[Chapter]:
    """The chapters of one of the user's jobs, in order, with status and audio key."""
    owned_job(session, user_id, job_id)
    return list(
        session.exec(select(Chapter).where(Chapter.job_id == job_id).order_by(Chapter.index)).all()
    )


def job_files(session: Session, user_id: int, job_id: str) -> list[File]:
    """Output files of one of the user's jobs (M4B first). Raises NotFoundError."""
    owned_job(session, user_id, job_id)
    return repo.job_files(session, job_id)


def cancel(conn: redis.Redis, settings: Settings, user_id: int, job_id: str) -> Job:
    """Cancel one of the user's jobs (see :func:`queue.cancel`). Raises NotFoundError."""
    with session_scope(settings.database_url) as session:
        owned_job(session, user_id, job_id)
    return queue.cancel(conn, settings, job_id, actor_id=user_id, owner_id=user_id)


def save_playback(
    settings: Settings, user_id: int, book_id: int, chapter_index: int, position_s: float
) -> None:
    """Remember where the user's player is in a book (chapter, seconds into it)."""
    with session_scope(settings.database_url) as session:
        book = owned_book(session, user_id, book_id)
        book.playback = {
            "chapter_index": int(chapter_index),
            "position_s": round(max(0.0, float(position_s)), 1),
        }
        session.add(book)


def delete_book(
    conn: redis.Redis, settings: Settings, storage: Storage, user_id: int, book_id: int
) -> int:
    """Delete a book: cancel its running job, remove every stored file of the book and
    its jobs, and mark the row deleted (rows stay for usage and audit). Returns the
    number of stored objects removed. Raises NotFoundError."""
    with session_scope(settings.database_url) as session:
        owned_book(session, user_id, book_id)
        jobs = session.exec(select(Job).where(Job.book_id == book_id)).all()
        active = [j.id for j in jobs if not JobStatus(j.status).is_final]
    for job_id in active:
        queue.cancel(conn, settings, job_id, actor_id=user_id, owner_id=user_id)
    removed = storage.delete_prefix(user_key(user_id, "books", str(book_id)) + "/")
    for job in jobs:
        removed += storage.delete_prefix(user_key(user_id, "jobs", job.id) + "/")
    with session_scope(settings.database_url) as session:
        book = owned_book(session, user_id, book_id)
        book.deleted_at = utcnow()
        session.add(book)
        for row in session.exec(select(File).where(File.book_id == book_id)).all():
            session.delete(row)
        repo.audit(session, user_id, "book.delete", "book", str(book_id), files_removed=removed)
    return removed
