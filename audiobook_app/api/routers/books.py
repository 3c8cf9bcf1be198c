"""``/api/v1/books``: make a book of a manuscript (uploaded in the same call, or an
upload's ``file_id``), which queues its inspection; list books; get one with what the
inspection found (chapters, speakers, words, estimated duration) and the cost quote;
its chapters and their text; the quote for a selection; delete a book. Services:
:mod:`audiobook_app.library`, :mod:`audiobook_app.user_files`,
:func:`audiobook_app.billing.pricing.quote`. Routes run in FastAPI's thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Response, UploadFile
from fastapi import File as FormFile
from sqlmodel import Session

from audiobook_app import library, user_files
from audiobook_app.api.common import read_upload
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import (
    AUTHED,
    MAX_ID,
    BookList,
    BookOut,
    BookSummary,
    ChapterIndex,
    ChapterOut,
    ChapterText,
    QuoteOut,
    Speaker,
    errors,
    next_offset,
)
from audiobook_app.billing import pricing
from audiobook_app.db.models import Book, BookStatus, Job
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings, get_settings
from audiobook_app.state.clients import redis_conn, storage
from pipeline.errors import InputError, NotFoundError

router = APIRouter(tags=["books"], responses=AUTHED)
BookId = Annotated[int, Path(ge=1, le=MAX_ID, description="a book id")]
Speed = Annotated[float, Query(ge=0.5, le=2.0, description="1 = the voices' own pace")]


def _summary(book: Book, job: Job | None) -> dict:
    return {
        "id": book.id,
        "title": book.title or book.source_filename,
        "status": str(book.status),
        "source_filename": book.source_filename,
        "words": book.words,
        "estimated_duration_s": book.estimated_duration_s,
        "latest_job_id": job.id if job else None,
        "latest_job_status": str(job.status) if job else None,
        "created_at": book.created_at,
    }


def _chapter(row: dict) -> ChapterOut:
    return ChapterOut(
        index=int(row["index"]), title=str(row.get("title", "")), words=int(row.get("words", 0))
    )


def _quote(settings: Settings, book: Book, chosen: list[int], speed: float) -> QuoteOut:
    found = pricing.quote(settings, book, chosen, speed)
    return QuoteOut(
        chapters=chosen, speed=speed, audio_s=found.audio_s, credits=found.credits,
        reserve=found.reserve,
    )  # fmt: skip


def book_out(session: Session, settings: Settings, book: Book) -> BookOut:
    """The API's view of one of the caller's books (ownership checked by the caller)."""
    every = [c["index"] for c in book.chapters]
    ready = book.status == BookStatus.READY and every
    return BookOut(
        **_summary(book, library.latest_job(session, book.id)),
        author=book.author,
        language=book.language,
        source_format=book.source_format,
        error=book.error,
        chapters=[_chapter(c) for c in book.chapters],
        speakers=[Speaker(name=str(s.get("name", "")), lines=int(s.get("lines", 0)))
                  for s in book.speakers],
        quote=_quote(settings, book, every, 1.0) if ready else None,
    )  # fmt: skip


def _get(user_id: int, book_id: int) -> BookOut:
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        return book_out(session, settings, library.owned_book(session, user_id, book_id))


@router.post(
    "/books", status_code=201, response_model=BookOut, responses=errors(400, 404, 409, 413)
)
def create_book(
    caller: CallerDep,
    file: Annotated[UploadFile | None, FormFile(description="the manuscript")] = None,
    file_id: Annotated[int | None, Form(ge=1, le=MAX_ID, description="an upload's id")] = None,
) -> BookOut:
    """Make a book of a manuscript sent as ``file``, or of an upload (``file_id``, from
    ``POST /files``), and queue its inspection: the book is ``uploaded`` until it is read,
    then ``ready`` (chapters and quote filled in) or ``rejected`` (``error`` says why)."""
    settings = get_settings()
    if (file is None) == (file_id is None):
        raise InputError("send either the manuscript as 'file' or an upload's 'file_id'")
    if file is not None:
        data = read_upload(file, settings.max_upload_bytes)
        book_id = library.add_manuscript(
            redis_conn(), settings, storage(), caller.user_id, file.filename or "manuscript", data
        )
    else:
        book_id = user_files.add_book_from_upload(
            redis_conn(), settings, storage(), caller.user_id, file_id
        )
    return _get(caller.user_id, book_id)


@router.get("/books", response_model=BookList)
def list_books(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> BookList:
    """The caller's books, newest first, each with its latest job."""
    with session_scope(get_settings().database_url) as session:
        page = library.history(session, caller.user_id)[offset : offset + limit]
        items = [BookSummary(**_summary(item.book, item.job)) for item in page]
    return BookList(
        items=items, limit=limit, offset=offset, next_offset=next_offset(len(items), limit, offset)
    )


@router.get("/books/{book_id}", response_model=BookOut, responses=errors(404))
def get_book(caller: CallerDep, book_id: BookId) -> BookOut:
    """One of the caller's books: status, what the inspection found, the quote for all
    its chapters at normal speed (None until it is ready)."""
    return _get(caller.user_id, book_id)


@router.get("/books/{book_id}/chapters", response_model=list[ChapterOut], responses=errors(404))
def list_chapters(caller: CallerDep, book_id: BookId) -> list[ChapterOut]:
    """The book's chapters (empty until it is ready)."""
    return _get(caller.user_id, book_id).chapters


@router.get("/books/{book_id}/chapters/{index}", response_model=ChapterText, responses=errors(404))
def get_chapter(
    caller: CallerDep, book_id: BookId, index: Annotated[int, Path(ge=1, le=100_000)]
) -> ChapterText:
    """One chapter of the book and its plain text."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        book = library.owned_book(session, caller.user_id, book_id)
        chapter = next((c for c in book.chapters if c["index"] == index), None)
        if chapter is None:
            raise NotFoundError(f"book {book_id} has no chapter {index}")
        text = library.chapter_texts(storage(), book).get(index, "")
    return ChapterText(**_chapter(chapter).model_dump(), text=text)


@router.get("/books/{book_id}/quote", response_model=QuoteOut, responses=errors(400, 404))
def get_quote(
    caller: CallerDep,
    book_id: BookId,
    chapters: Annotated[list[ChapterIndex] | None, Query(max_length=10_000)] = None,
    speed: Speed = 1.0,
) -> QuoteOut:
    """What converting ``chapters`` (repeat the parameter; omitted: all) at ``speed``
    costs: the estimate, and the credits Start would reserve."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        book = library.owned_book(session, caller.user_id, book_id)
        every = [c["index"] for c in book.chapters]
        chosen = sorted(set(chapters)) if chapters else every
        if not every or not set(chosen) <= set(every):
            raise InputError(
                f"book {book_id} has chapters {every or 'none yet'}: choose among them"
            )
        return _quote(settings, book, chosen, speed)


@router.delete("/books/{book_id}", status_code=204, responses=errors(404))
def delete_book(caller: CallerDep, book_id: BookId) -> Response:
    """Delete a book: its running job is cancelled and every file of it removed."""
    library.delete_book(redis_conn(), get_settings(), storage(), caller.user_id, book_id)
    return Response(status_code=204)
