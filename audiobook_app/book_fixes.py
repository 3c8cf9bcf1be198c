"""Fixing a book after it was converted: its pronunciation lexicon, "hear it", and what a
fix costs.

The lexicon (term -> respelling) lives in ``Book.config_overrides["lexicon"]`` and goes
into every job's config (:func:`audiobook_app.book_cast.pipeline_config`). :func:`fix_impact`
compares the plans of the book's last finished conversion with those a new config gives
(:func:`pipeline.revision.revise`): segments are stored per book under ids that hash their
text and voice, so a new job synthesizes exactly the new ids, and only the touched
chapters sound different. :func:`pending_fix` is that for the book's stored cast and
lexicon; :func:`apply_fix` starts the job.

Each function checks ownership like :mod:`audiobook_app.library` (another author's book
raises :class:`NotFoundError`); a refused entry raises :class:`LexiconEntryError` saying
what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis
from sqlmodel import Session, col, select

from audiobook_app import book_cast, library, tracks, voice_library
from audiobook_app.db import repo
from audiobook_app.db.models import Book, Job, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, job_key, segment_key
from pipeline.config import PipelineConfig
from pipeline.convert import parse_chapter_selection, plan_book, select_chapters
from pipeline.errors import LexiconEntryError, NotFoundError
from pipeline.models import plan_from_dict
from pipeline.parse import parse_bytes
from pipeline.revision import Revision, revise

MAX_TERM_CHARS = 80
MAX_RESPELLING_CHARS = 200
MAX_LEXICON_ENTRIES = 500
HEAR_LINE = "Here is how it sounds: {}."  # "hear it" speaks the respelling in this line
# Respelling one of these would change it all through the book: refused as a term.
COMMON_WORDS = frozenset(
    "a about after all also an and any are as at be been but by can could did do for from "
    "had has have he her him his how i if in into is it its just like me more my no not "
    "now of on one only or our out said she so some than that the their them then there "
    "these they this to up us was we were what when which who will with would you your".split()
)


@dataclass(frozen=True)
class LexiconEntry:
    """One entry of a book's lexicon as the page lists it."""

    term: str
    respelling: str


# --- The lexicon


def lexicon_of(session: Session, user_id: int, book_id: int) -> dict[str, str]:
    """The pronunciation lexicon of one of the user's books, terms in alphabetical
    order. Raises NotFoundError."""
    return _lexicon(library.owned_book(session, user_id, book_id))


def lexicon_entries(session: Session, user_id: int, book_id: int) -> list[LexiconEntry]:
    """:func:`lexicon_of` as a list of entries. Raises NotFoundError."""
    return [LexiconEntry(t, r) for t, r in lexicon_of(session, user_id, book_id).items()]


def _lexicon(book: Book) -> dict[str, str]:
    entries = dict((book.config_overrides or {}).get("lexicon") or {})
    return dict(sorted(entries.items(), key=lambda e: e[0].casefold()))


def _store_lexicon(session: Session, book: Book, lexicon: dict[str, str]) -> dict[str, str]:
    book.config_overrides = {**(book.config_overrides or {}), "lexicon": lexicon}
    session.add(book)
    return _lexicon(book)


def clean_respelling(respelling: str) -> str:
    """``respelling`` with its whitespace collapsed. Raises LexiconEntryError when empty
    or over :data:`MAX_RESPELLING_CHARS` characters."""
    respelling = " ".join((respelling or "").split())
    if not respelling:
        raise LexiconEntryError("type how the term should be said (for example Ay-hab)")
    if len(respelling) > MAX_RESPELLING_CHARS:
        raise LexiconEntryError(
            f"the respelling is {len(respelling)} characters; at most {MAX_RESPELLING_CHARS}"
        )
    return respelling


def clean_term(term: str) -> str:
    """``term`` with its whitespace collapsed. Raises LexiconEntryError when empty, over
    :data:`MAX_TERM_CHARS` characters, without a letter or digit, or a common word."""
    term = " ".join((term or "").split())
    if not term:
        raise LexiconEntryError("type the word or name to respell")
    if len(term) > MAX_TERM_CHARS:
        raise LexiconEntryError(f"the term is {len(term)} characters; at most {MAX_TERM_CHARS}")
    if not any(ch.isalnum() for ch in term):
        raise LexiconEntryError("a term needs a letter or a digit")
    if term.casefold() in COMMON_WORDS:
        raise LexiconEntryError(
            f"{term!r} is a common word: respelling it would change it all through the "
            "book; add the phrase it is part of instead"
        )
    return term


def save_lexicon_entry(
    session: Session, user_id: int, book_id: int, term: str, respelling: str
) -> dict[str, str]:
    """Add or replace (a term matches case-insensitively) an entry of the book's lexicon;
    return the lexicon. Raises NotFoundError and LexiconEntryError (see
    :func:`clean_term`, :func:`clean_respelling`; a respelling equal to its term; a
    lexicon already holding :data:`MAX_LEXICON_ENTRIES` entries)."""
    term, respelling = clean_term(term), clean_respelling(respelling)
    if respelling.casefold() == term.casefold():
        raise LexiconEntryError(f"the respelling of {term!r} is the term itself")
    book = library.owned_book(session, user_id, book_id)
    lexicon = {t: r for t, r in _lexicon(book).items() if t.casefold() != term.casefold()}
    if len(lexicon) >= MAX_LEXICON_ENTRIES:
        raise LexiconEntryError(f"a book's lexicon holds at most {MAX_LEXICON_ENTRIES} entries")
    repo.audit(session, user_id, "book.lexicon", "book", str(book_id), term=term)
    return _store_lexicon(session, book, {**lexicon, term: respelling})


def delete_lexicon_entry(session: Session, user_id: int, book_id: int, term: str) -> dict[str, str]:
    """Remove ``term`` (matched case-insensitively; absent: nothing changes) from the
    book's lexicon; return the lexicon. Raises NotFoundError."""
    book = library.owned_book(session, user_id, book_id)
    key = " ".join((term or "").split()).casefold()
    return _store_lexicon(
        session, book, {t: r for t, r in _lexicon(book).items() if t.casefold() != key}
    )


def hear_respelling(
    session: Session,
    conn: redis.Redis,
    settings: Settings,
    user_id: int,
    book_id: int,
    respelling: str,
) -> int:
    """Queue "hear it": :data:`HEAR_LINE` with ``respelling`` in it, spoken by the book's
    narrator through the voice library's try-a-voice; returns the trial id
    (:func:`voice_library.get_trial` says when its audio is ready). Commits ``session``.
    Raises NotFoundError, LexiconEntryError (empty or over-long respelling), CastError
    (the narrator's voice is gone from the library), QueueError."""
    narrator = book_cast.cast_of(session, user_id, book_id).narrator
    line = HEAR_LINE.format(clean_respelling(respelling))
    book_cast.check_voice(session, settings, user_id, narrator, "the narrator")
    return voice_library.start_trial(session, conn, settings, user_id, narrator, line)


# --- What a change costs


def last_finished_job(session: Session, book_id: int) -> Job | None:
    """The book's newest completed job (check ownership of the book first)."""
    return session.exec(
        select(Job)
        .where(Job.book_id == book_id, Job.status == JobStatus.COMPLETED)
        .order_by(col(Job.created_at).desc())
    ).first()


def fix_impact(
    session: Session,
    storage: Storage,
    user_id: int,
    book_id: int,
    config_after: PipelineConfig,
) -> Revision:
    """What converting the chapters of the book's last finished job again with
    ``config_after`` costs: the segments to synthesize and the chapters that change
    (:func:`pipeline.revision.revise` of that job's ``plan.json`` and the plans the
    manuscript gives now, laid out and chosen as the job's ``prepare`` does), less the
    segments an earlier job stored (a fix undone costs no synthesis). Parses the
    manuscript: call it from a thread. Raises NotFoundError (not the user's book, or no
    finished conversion to compare with), StorageError, and the parser's InputError."""
    book = library.owned_book(session, user_id, book_id)
    job = last_finished_job(session, book_id)
    if job is None:
        raise NotFoundError(f"book {book_id} has no finished conversion to compare with")
    doc = json.loads(storage.get_bytes(job_key(job.owner_id, job.id, "plan.json")))
    before = [plan_from_dict(p) for p in doc["chapters"]]
    parsed = parse_bytes(storage.get_bytes(book.source_key), book.source_filename)
    parsed, _ = tracks.lay_out(parsed, book.layout, book.chapters, book.outline)
    _, after = plan_book(select_chapters(parsed, job.chapters_spec), config_after)
    revision = revise(before, after)
    new = [
        s for s in revision.segments if not storage.exists(segment_key(job.owner_id, book_id, s))
    ]
    return Revision(tuple(new), revision.chapters)


def pending_fix(
    session: Session,
    settings: Settings,
    storage: Storage,
    user_id: int,
    book_id: int,
    speed: float = 1.0,
) -> Revision | None:
    """:func:`fix_impact` of the book's stored cast and lexicon at ``speed``; None when
    the book has no finished conversion. Raises as :func:`fix_impact` and
    :func:`book_cast.pipeline_config`."""
    book = library.owned_book(session, user_id, book_id)
    if last_finished_job(session, book_id) is None:
        return None
    config = book_cast.pipeline_config(session, settings, user_id, book, speed)
    return fix_impact(session, storage, user_id, book_id, config)


def describe(revision: Revision) -> str:
    """``revision`` in words for the author ("3 segments in 2 chapters will be
    re-synthesized")."""
    segments, chapters = len(revision.segments), len(revision.chapters)
    in_chapters = f"{chapters} chapter{'s' * (chapters != 1)}"
    if segments:
        return f"{segments} segment{'s' * (segments != 1)} in {in_chapters} will be re-synthesized"
    if chapters:
        return f"{in_chapters} will be re-assembled from segments already synthesized"
    return "Nothing changes: the last conversion already sounds like this"


def fixed_chapters(session: Session, user_id: int, book_id: int) -> list[int]:
    """The chapters a fix converts again: those of the book's last finished job.
    Raises NotFoundError (not the user's book, or no finished job)."""
    book = library.owned_book(session, user_id, book_id)
    job = last_finished_job(session, book_id)
    if job is None:
        raise NotFoundError(f"book {book_id} has no finished conversion to fix")
    chosen = parse_chapter_selection(job.chapters_spec, len(book.chapters))
    return list(chosen or (c["index"] for c in book.chapters))


def apply_fix(
    conn: redis.Redis, settings: Settings, user_id: int, book_id: int, speed: float = 1.0
) -> str:
    """Start a job of the last finished job's chapters with the book's stored cast and
    lexicon at ``speed`` (:func:`library.start`); return its id. Only the segments
    :func:`pending_fix` counts are synthesized. Raises NotFoundError and what
    :func:`library.start` raises."""
    with session_scope(settings.database_url) as session:
        chosen = fixed_chapters(session, user_id, book_id)
    return library.start(conn, settings, user_id, book_id, chosen=chosen, speed=speed)
