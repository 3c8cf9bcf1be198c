"""``/api/v1/jobs/{job_id}/segments``: what speech verification heard in a finished job
(every segment, or only the flagged ones, with WER, takes and expiring audio links);
regenerating one segment with new text or as another take of the same text, or a whole
chapter (``/api/v1/jobs/{job_id}/chapters/{index}/regenerate``). Each is a new job of the
same chapters in which only the touched segments are synthesized again and only their
chapter mastered again. Service: :mod:`audiobook_app.segment_review`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from audiobook_app import segment_review
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.routers.jobs import JobId, job_detail
from audiobook_app.api.schemas import AUTHED, JobDetail, errors
from audiobook_app.db.session import session_scope
from audiobook_app.downloads import signed_url
from audiobook_app.settings import get_settings
from audiobook_app.state.clients import redis_conn, storage

router = APIRouter(tags=["segments"], responses=AUTHED)


class TakeOut(BaseModel):
    """One take of a segment: its number, WER (0..), what the recognizer heard, whether it
    passed, and a link to its audio (null when the segment has one take only)."""

    take: int
    wer: float
    heard: str
    passed: bool
    audio_url: str | None


class SegmentOut(BaseModel):
    """One segment as verification heard it (see :class:`segment_review.SegmentRow`)."""

    chapter_index: int
    position: int
    segment_id: str
    text: str
    wer: float
    flagged: bool
    chosen: int
    takes: list[TakeOut]
    audio_url: str


class RegenerateChapter(BaseModel):
    """A voice id (``GET /voices``) to read the chapter; omitted or null: another take of
    every segment with the voices it had."""

    voice: str | None = Field(None, max_length=100)


class Regenerate(BaseModel):
    """New text for the segment; omitted or null: another take of the same text."""

    text: str | None = Field(None, max_length=segment_review.MAX_FIX_CHARS)


@router.get("/jobs/{job_id}/segments", response_model=list[SegmentOut], responses=errors(404))
def job_segments(
    caller: CallerDep,
    job_id: JobId,
    flagged: Annotated[bool, Query(description="only the segments still flagged")] = False,
) -> list[SegmentOut]:
    """The segments of a finished job in reading order, as its report lists them; 404
    until the job has a report."""
    settings, store = get_settings(), storage()
    with session_scope(settings.database_url) as session:
        rows = segment_review.job_segments(
            session, store, caller.user_id, job_id, flagged_only=flagged
        )

    def url(key: str | None) -> str | None:
        return signed_url(settings, store, key) if key else None

    return [
        SegmentOut(
            chapter_index=row.chapter_index,
            position=row.position,
            segment_id=row.segment_id,
            text=row.text,
            wer=row.wer,
            flagged=row.flagged,
            chosen=row.chosen,
            audio_url=signed_url(settings, store, row.audio_key),
            takes=[
                TakeOut(
                    take=t.take,
                    wer=t.wer,
                    heard=t.heard,
                    passed=t.passed,
                    audio_url=url(t.audio_key),
                )
                for t in row.takes
            ],
        )
        for row in rows
    ]


@router.post(
    "/jobs/{job_id}/segments/{chapter_index}/{position}/regenerate",
    status_code=202,
    response_model=JobDetail,
    responses=errors(400, 402, 404, 409),
)
def regenerate(
    caller: CallerDep,
    job_id: JobId,
    chapter_index: Annotated[int, Path(ge=0, le=100_000)],
    position: Annotated[int, Path(ge=0, le=1_000_000)],
    body: Regenerate,
) -> JobDetail:
    """Regenerate one segment of a finished job (new text, or another take) as a new job
    of the same chapters (returned; billed like a start). 409 when the job has not
    completed or another job of the book runs."""
    new_id = segment_review.regenerate_segment(
        redis_conn(),
        get_settings(),
        storage(),
        caller.user_id,
        job_id,
        chapter_index,
        position,
        body.text,
    )
    return job_detail(caller.user_id, new_id)


@router.post(
    "/jobs/{job_id}/chapters/{chapter_index}/regenerate",
    status_code=202,
    response_model=JobDetail,
    responses=errors(400, 402, 404, 409),
)
def regenerate_chapter(
    caller: CallerDep,
    job_id: JobId,
    chapter_index: Annotated[int, Path(ge=0, le=100_000)],
    body: RegenerateChapter | None = None,
) -> JobDetail:
    """Regenerate a whole chapter of a finished job as a new job of the same chapters
    (returned; billed like a start): read by another ``voice`` (a voice id of
    ``GET /voices``; kept for the book's later jobs), or without one another take of
    every segment. Only that chapter is synthesized and mastered again. 400 for a voice
    not in the caller's library, 409 when the job has not completed or another job of
    the book runs."""
    new_id = segment_review.regenerate_chapter(
        redis_conn(),
        get_settings(),
        storage(),
        caller.user_id,
        job_id,
        chapter_index,
        body.voice if body else None,
    )
    return job_detail(caller.user_id, new_id)
