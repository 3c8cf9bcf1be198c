"""The author's track layout of a book, edited on the book page before Start.

Each function takes a session and the acting user's id, checks ownership like
:mod:`audiobook_app.library` (another author's book raises :class:`NotFoundError`),
re-makes the tracks from the stored outline (:mod:`pipeline.structure`), and stores
``Book.layout`` (``Layout.to_dict()``) and ``Book.chapters`` (the rows of
:mod:`audiobook_app.tracks`); the job's ``prepare`` makes the same tracks from the
manuscript. A track made of the same sections as before keeps its title; one whose
sections changed is titled from the book again (a rename of it is dropped). The
chapter choice (``Book.chosen_chapters``) goes back to "all".

Refusals: :class:`ChapterSelectionError` for a book that is not read yet, has no
outline (read before outlines were stored), or has been started (the layout is fixed
from the first Start on: its chapters and audio are numbered by it); :class:`LayoutError` (a ChapterSelectionError) for an
edit that does not fit the book (no such level, track or sub-heading).
"""

from __future__ import annotations

from sqlmodel import Session

from audiobook_app import library, tracks
from audiobook_app.db import repo
from audiobook_app.db.models import Book, BookStatus
from pipeline import structure
from pipeline.errors import ChapterSelectionError, LayoutError
from pipeline.structure import Layout, SectionInfo


def set_split_level(session: Session, user_id: int, book_id: int, level: int) -> Book:
    """Make every section at ``level`` or above start a track (1 = top), dropping any
    merge or split made before. Raises
    NotFoundError, ChapterSelectionError, LayoutError (level outside 1..deepest)."""
    book, info = _editable(session, user_id, book_id)
    structure.check_level(info, level)
    return _store(session, user_id, book, info, Layout(split_level=level))


def merge_with_next(session: Session, user_id: int, book_id: int, track: int) -> Book:
    """Join track ``track`` (1-based, as ``Book.chapters`` numbers it) and the one after
    it. Raises NotFoundError, ChapterSelectionError, LayoutError (no next track)."""
    book, info = _editable(session, user_id, book_id)
    layout = Layout.from_dict(book.layout)
    try:
        starts = structure.merge(info, structure.resolve_starts(info, layout), track)
    except LayoutError:
        raise LayoutError(
            f"chapter {track} cannot be merged with the next: the book has "
            f"{len(book.chapters)} chapters"
        ) from None
    return _store(session, user_id, book, info, _with_starts(layout, starts, info))


def split_at(session: Session, user_id: int, book_id: int, section: int) -> Book:
    """Start a new track at sub-heading ``section`` (an index into ``Book.outline``, as
    :func:`tracks.sub_headings` lists them). Raises NotFoundError,
    ChapterSelectionError, LayoutError (not a sub-heading inside a track)."""
    book, info = _editable(session, user_id, book_id)
    layout = Layout.from_dict(book.layout)
    try:
        starts = structure.split(info, structure.resolve_starts(info, layout), section)
    except LayoutError:
        raise LayoutError(
            "there is no sub-heading to split at there: split a chapter at one of the "
            "headings listed under it"
        ) from None
    return _store(session, user_id, book, info, _with_starts(layout, starts, info))


def reset_layout(session: Session, user_id: int, book_id: int) -> Book:
    """Back to the default split level, without merges or splits. Raises NotFoundError
    and ChapterSelectionError."""
    book, info = _editable(session, user_id, book_id)
    return _store(session, user_id, book, info, Layout())


def _editable(session: Session, user_id: int, book_id: int) -> tuple[Book, tuple[SectionInfo, ...]]:
    book = library.owned_book(session, user_id, book_id)
    if book.status != BookStatus.READY:
        raise ChapterSelectionError(
            f"book {book_id} is not ready ({book.status}): wait until it is read"
        )
    if not book.outline:
        raise ChapterSelectionError(
            "this book was read before its chapters could be re-divided: upload the "
            "manuscript again to do so"
        )
    if library.latest_job(session, book_id) is not None:
        raise ChapterSelectionError(
            "the chapters are fixed once the book has been started: upload the manuscript "
            "again to divide it differently"
        )
    return book, tracks.outline_info(book.outline)


def _with_starts(layout: Layout, starts: tuple[int, ...], info: tuple[SectionInfo, ...]) -> Layout:
    return Layout(split_level=layout.split_level, starts=starts, sections=len(info))


def _store(
    session: Session, user_id: int, book: Book, info: tuple[SectionInfo, ...], layout: Layout
) -> Book:
    starts = structure.resolve_starts(info, layout)
    book.layout = layout.to_dict()
    book.chapters = tracks.track_rows(info, starts, book.chapters)
    book.chosen_chapters = None
    session.add(book)
    repo.audit(session, user_id, "book.layout", "book", str(book.id), tracks=len(book.chapters))
    return book
