"""Response and request models shared by the API's routers, and the error responses
each route declares (so the OpenAPI document lists every status a route can answer).

Times are UTC, RFC 3339 (``2026-11-03T14:05:09Z``; the database keeps naive UTC);
durations are seconds (``_s``); sizes bytes; credits whole numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from audiobook_app.accounts.ownership import MAX_ROW_ID
from audiobook_app.db.models import File


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Utc = Annotated[datetime, AfterValidator(_as_utc)]  # a time, UTC (naive ones are UTC)
MAX_ID = MAX_ROW_ID  # the largest row id (PostgreSQL integer); in a URL, larger ones are 404
ChapterIndex = Annotated[int, Field(ge=1, le=100_000)]  # a 1-based chapter index

# What each error status means in this API (the descriptions in the OpenAPI document).
ERROR_MEANING: dict[int, str] = {
    400: "The request was understood but refused (e.g. a manuscript that is not one)",
    401: "No API key, or an unknown or revoked one",
    402: "Not enough credits for the conversion",
    403: "The caller lacks the role this needs",
    404: "No such object (another author's objects, and ids out of range, read as missing)",
    409: "The object is not in a state that allows this",
    413: "The upload is larger than the server's limit, or would take the author's stored "
    "files over their storage quota (`storage_quota_exceeded`)",
    422: "The request's parameters or body are invalid",
    429: "Too many requests: wait the `Retry-After` seconds",
    503: "A part of the service (queue, storage) is unavailable: try again later",
}


class ErrorDetail(BaseModel):
    """``code``: a snake_case name of the error (``insufficient_credits``); ``message``:
    what happened and what to do, for people."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these error statuses (401, 422, 429 and 503 are
    added to every route with an API key by :data:`AUTHED`)."""
    found: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        entry: dict[str, Any] = {"model": ErrorBody, "description": ERROR_MEANING[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            }
        found[status] = entry
    return found


AUTHED = errors(401, 422, 429, 503)  # every router's default responses


class Page(BaseModel):
    """Paging of a list: ``next_offset`` is the offset of the next page, None at the end."""

    limit: int
    offset: int
    next_offset: int | None


def next_offset(count: int, limit: int, offset: int) -> int | None:
    """The next page's offset when this page was full, else None."""
    return offset + limit if count >= limit else None


# --- Files


class FileOut(BaseModel):
    """A stored file of the caller's: an upload waiting to become a book (``purpose``
    ``source``, no ``book_id``), a book's manuscript, a job's output (m4b, mp3, flac,
    wav, report) or a voice's sample."""

    id: int
    name: str
    purpose: str
    mime: str
    size_bytes: int
    book_id: int | None
    job_id: str | None
    created_at: Utc

    @classmethod
    def of(cls, row: File) -> FileOut:
        """The model of a File row."""
        return cls(
            id=row.id,
            name=row.key.rsplit("/", 1)[-1],
            purpose=str(row.purpose),
            mime=row.mime,
            size_bytes=row.size_bytes,
            book_id=row.book_id,
            job_id=row.job_id,
            created_at=row.created_at,
        )


class FileList(Page):
    """A page of the caller's files, newest first."""

    items: list[FileOut]


class DownloadLink(BaseModel):
    """An expiring signed URL that downloads one file without an API key."""

    file_id: int
    name: str
    purpose: str
    mime: str
    size_bytes: int
    url: str
    expires_at: Utc


class FileDetail(FileOut):
    """A file and a signed link to download it."""

    download: DownloadLink


# --- Books


class ChapterOut(BaseModel):
    """A chapter (track) of a book as inspected: 1-based ``index``, title, words."""

    index: int
    title: str
    words: int


class ChapterText(ChapterOut):
    """A chapter and its plain text."""

    text: str


class Speaker(BaseModel):
    """Someone who speaks in the book, and how many quoted lines are theirs."""

    name: str
    lines: int


class QuoteOut(BaseModel):
    """The cost of converting chapters: ``audio_s`` estimated seconds of audio,
    ``credits`` their price, ``reserve`` what Start holds (the most the job costs)."""

    chapters: list[int]
    speed: float
    audio_s: float
    credits: int
    reserve: int


class BookSummary(BaseModel):
    """A book in the caller's list, with its latest job (None before a Start)."""

    id: int
    title: str
    status: str = Field(description="uploaded (being read), ready, or rejected (see error)")
    source_filename: str
    words: int
    estimated_duration_s: float
    latest_job_id: str | None
    latest_job_status: str | None
    created_at: Utc


class BookOut(BookSummary):
    """A book and the inspect job's result: chapters, speakers, and the quote for
    converting every chapter at normal speed."""

    author: str | None
    language: str | None
    source_format: str | None
    error: str | None
    chapters: list[ChapterOut]
    speakers: list[Speaker]
    quote: QuoteOut | None


class BookList(Page):
    """A page of the caller's books, newest first."""

    items: list[BookSummary]


# --- Jobs


class JobStart(BaseModel):
    """Options of a conversion: ``chapters`` (1-based indices; omitted: all) and
    ``speed`` (1 = the voices' own pace)."""

    book_id: int = Field(ge=1, le=MAX_ID)
    chapters: list[ChapterIndex] | None = Field(default=None, min_length=1, max_length=10_000)
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class JobChapter(BaseModel):
    """A chapter of a job: status, seconds of audio once made, its MP3's file id."""

    index: int
    title: str
    status: str
    duration_s: float | None
    audio_file_id: int | None


class JobOut(BaseModel):
    """A conversion and how far it got: ``progress`` 0..1 over the whole job, ``stage``
    (queued, prepare, synthesize, assemble...), segments done of total, ``eta_s``."""

    id: str
    book_id: int
    status: str = Field(description="queued, processing, completed, failed or cancelled")
    stage: str
    progress: float
    chapter_index: int | None
    segments_done: int
    segments_total: int
    eta_s: float | None
    error: str | None
    chapters_spec: str | None
    audio_s: float
    credits_reserved: int
    created_at: Utc
    started_at: Utc | None
    finished_at: Utc | None


class JobDetail(JobOut):
    """A job with its chapters."""

    chapters: list[JobChapter]


class JobList(Page):
    """A page of the caller's jobs, newest first."""

    items: list[JobOut]


# --- Voices


class VoiceOut(BaseModel):
    """A voice the caller may use: ``kind`` builtin, designed or cloned; ``owned``: the
    caller's own (deletable); ``sample_url``: a public sample path for built-ins;
    ``sample_file_id``: the caller's own voice's sample (``GET /files/{id}``)."""

    id: str
    name: str
    kind: str
    engine: str
    language: str
    description: str
    owned: bool
    sample_url: str | None
    sample_file_id: int | None


class TrialIn(BaseModel):
    """Try a voice: ``text`` (1 to 500 characters) spoken by ``voice_id``."""

    voice_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=500)


class TrialOut(BaseModel):
    """A voice try: ``status`` queued, done or failed; the audio's file id once done."""

    id: int
    voice_id: str
    voice_name: str
    text: str
    status: str
    duration_s: float
    audio_file_id: int | None
    error: str


class DesignIn(BaseModel):
    """Design a voice from a ``description``; ``text`` is what each take says."""

    description: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=500)


class DesignTake(BaseModel):
    """One take of a design (0-based ``index``) and its audio's file id."""

    index: int
    file_id: int | None


class DesignOut(BaseModel):
    """A design request: ``status`` running, ready (takes to choose from) or failed."""

    id: str
    status: str
    description: str
    text: str
    takes: list[DesignTake]
    error: str


class DesignChoice(BaseModel):
    """Keep take ``index`` of a design as a voice called ``name``."""

    index: int = Field(ge=0, le=100)
    name: str = Field(min_length=1, max_length=200)


# --- Account


class BookUsageOut(BaseModel):
    """Credits charged and minutes generated for one book."""

    book_id: int
    title: str
    jobs: int
    audio_min: float
    credits: int


class LedgerEntryOut(BaseModel):
    """One movement of credits: ``delta`` (+ in, - out), ``reason`` (grant, purchase,
    reservation, charge, release, refund), the job it belongs to, a note."""

    id: int
    delta: int
    reason: str
    job_id: str | None
    note: str | None
    created_at: Utc


class LedgerPage(Page):
    """A page of the caller's ledger, newest first."""

    items: list[LedgerEntryOut]
