"""``/api/v1/jobs``: start a conversion (chapters, speed), list jobs, get one with its
progress and chapters, cancel, retry a failed or cancelled one (it goes on from where
it stopped: segments already made are reused), and expiring download links for its
files. Start and retry reserve the quote's credits (402 when the balance is short) and
count against the job-start rate limit (429). Services: :mod:`audiobook_app.library`.
Routes run in FastAPI's thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session

from audiobook_app import library
from audiobook_app.api.common import download_link
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import (
    AUTHED,
    MAX_ID,
    DownloadLink,
    JobChapter,
    JobDetail,
    JobList,
    JobOut,
    JobStart,
    errors,
    next_offset,
)
from audiobook_app.billing import ledger
from audiobook_app.db.models import Job, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from audiobook_app.state.clients import redis_conn, storage
from audiobook_app.voice_library.catalog import file_ids

router = APIRouter(tags=["jobs"], responses=AUTHED)
JobId = Annotated[str, Path(min_length=1, max_length=64, description="a job id")]


def job_out(session: Session, job: Job) -> JobOut:
    """The API's view of a job (ownership checked by the caller)."""
    return JobOut(
        id=job.id,
        book_id=job.book_id,
        status=str(job.status),
        stage=job.stage,
        progress=round(job.progress, 4),
        chapter_index=job.chapter_index,
        segments_done=job.segments_done,
        segments_total=job.segments_total,
        eta_s=job.eta_s,
        error=job.error,
        chapters_spec=job.chapters_spec,
        audio_s=round(job.audio_s, 2),
        credits_reserved=ledger.job_reservation(session, job.id),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def job_detail(user_id: int, job_id: str) -> JobDetail:
    with session_scope(get_settings().database_url) as session:
        job = library.owned_job(session, user_id, job_id)
        chapters = library.job_chapters(session, user_id, job_id)
        ids = file_ids(session, [c.audio_key or "" for c in chapters])
        return JobDetail(
            **job_out(session, job).model_dump(),
            chapters=[
                JobChapter(
                    index=c.index,
                    title=c.title,
                    status=str(c.status),
                    duration_s=c.duration_s,
                    audio_file_id=ids.get(c.audio_key or ""),
                )
                for c in chapters
            ],
        )


@router.post(
    "/jobs", status_code=202, response_model=JobDetail, responses=errors(400, 402, 404, 409)
)
def start_job(caller: CallerDep, body: JobStart) -> JobDetail:
    """Start converting a ready book: ``chapters`` (omitted: all) at ``speed``, with the
    book's cast and lexicon. Reserves the quote's credits (``GET /books/{id}/quote``):
    402 when the balance is short, 409 while another job of the book runs."""
    settings = get_settings()
    chosen = body.chapters
    if not chosen:
        with session_scope(settings.database_url) as session:
            book = library.owned_book(session, caller.user_id, body.book_id)
            chosen = [c["index"] for c in book.chapters]
    job_id = library.start(
        redis_conn(), settings, caller.user_id, body.book_id, chosen=chosen, speed=body.speed
    )
    return job_detail(caller.user_id, job_id)


@router.post(
    "/books/{book_id}/chapters/{index}/preview",
    status_code=202,
    response_model=JobDetail,
    responses=errors(400, 402, 404, 409),
)
def preview_chapter(
    caller: CallerDep,
    book_id: Annotated[int, Path(ge=1, le=MAX_ID, description="a book id")],
    index: Annotated[int, Path(ge=1, le=100_000, description="a chapter index")],
) -> JobDetail:
    """Convert one chapter of a ready book to hear it before the whole book is made
    (the book's chosen chapters stay; a later job reuses what it made). Billed and
    refused like ``POST /jobs``."""
    job_id = library.preview(redis_conn(), get_settings(), caller.user_id, book_id, index)
    return job_detail(caller.user_id, job_id)


@router.get("/jobs", response_model=JobList, responses=errors(404))
def list_jobs(
    caller: CallerDep,
    book_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> JobList:
    """The caller's jobs, newest first (of one book, or in one status)."""
    with session_scope(get_settings().database_url) as session:
        jobs = library.list_jobs(
            session, caller.user_id, book_id=book_id, status=status, limit=limit, offset=offset
        )
        items = [job_out(session, j) for j in jobs]
    return JobList(
        items=items, limit=limit, offset=offset, next_offset=next_offset(len(items), limit, offset)
    )


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=errors(404))
def get_job(caller: CallerDep, job_id: JobId) -> JobDetail:
    """One of the caller's jobs: status, stage, progress, ETA and its chapters."""
    return job_detail(caller.user_id, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobDetail, responses=errors(404))
def cancel_job(caller: CallerDep, job_id: JobId) -> JobDetail:
    """Cancel a job (its reserved credits are released); a job that ended stays as it is."""
    library.cancel(redis_conn(), get_settings(), caller.user_id, job_id)
    return job_detail(caller.user_id, job_id)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobDetail,
    responses=errors(402, 404, 409),
)
def retry_job(caller: CallerDep, job_id: JobId) -> JobDetail:
    """Run a failed or cancelled job again as a new job (returned) that reuses what the
    old one made. 409 when the job did not fail or another job of the book runs."""
    new_id = library.retry(redis_conn(), get_settings(), caller.user_id, job_id)
    return job_detail(caller.user_id, new_id)


@router.get("/jobs/{job_id}/downloads", response_model=list[DownloadLink], responses=errors(404))
def job_downloads(caller: CallerDep, job_id: JobId) -> list[DownloadLink]:
    """Expiring signed links to the job's files (M4B first, then chapter files and the
    report); empty until the job made some."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        rows = library.job_files(session, caller.user_id, job_id)
        return [download_link(settings, storage(), row) for row in rows]
