"""Reviewing what speech verification heard, and regenerating a segment.

A finished job's ``report.json`` lists every segment with its word error rate, takes and
flag (:mod:`pipeline.verify`). :func:`job_segments` turns that into rows for the report
page and the API, each with the storage key of the audio kept (the book's segment) and
of every earlier take (:func:`review` adds the report and the book for the review page).
:func:`regenerate_segment` records the author's fix
of one segment in the book's config (``config_overrides["segment_fixes"]``, a
:class:`pipeline.config.SegmentFix`: new text, or one more regeneration of the same text)
and starts a job of the same chapters: the fix gives the segment a new id, so exactly it
is synthesized and heard again, and only its chapter is mastered again (the others are
restored from the chapter cache; :mod:`worker.chapter_cache`).

Ownership is checked like :mod:`audiobook_app.library` (another author's job raises
:class:`NotFoundError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis
from sqlmodel import Session

from audiobook_app import library
from audiobook_app.book_cast import resolve_voice
from audiobook_app.db.models import FilePurpose, Job, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, job_key, segment_key, take_key
from pipeline.config import PipelineConfig, SegmentFix
from pipeline.convert import parse_chapter_selection
from pipeline.errors import ConflictError, NotFoundError, SegmentFixError
from pipeline.models import plan_from_dict
from pipeline.verify import take_id

MAX_FIX_CHARS = 5000


@dataclass(frozen=True)
class TakeRow:
    """One take of a segment: number, WER, what was heard, whether it passed, and the
    storage key of its audio (None when only one take exists: it is the segment's)."""

    take: int
    wer: float
    heard: str
    passed: bool
    audio_key: str | None


@dataclass(frozen=True)
class SegmentRow:
    """One segment of a job as verification heard it: where it is (chapter index,
    position), its text, the WER of the take kept, whether it is still flagged, its takes,
    and the storage key of the audio kept (the book's segment)."""

    chapter_index: int
    position: int
    segment_id: str
    text: str
    wer: float
    flagged: bool
    chosen: int
    takes: tuple[TakeRow, ...]
    audio_key: str


def _job_and_report(
    session: Session, storage: Storage, user_id: int, job_id: str
) -> tuple[Job, dict]:
    job = library.owned_job(session, user_id, job_id)
    report = next(
        (f for f in library.job_files(session, user_id, job_id) if f.purpose == FilePurpose.REPORT),
        None,
    )
    if report is None:
        raise NotFoundError(f"job {job_id} has no report yet: it is {job.status}")
    return job, json.loads(storage.get_bytes(report.key))


def job_segments(
    session: Session,
    storage: Storage,
    user_id: int,
    job_id: str,
    *,
    flagged_only: bool = False,
) -> list[SegmentRow]:
    """The segments of a finished job of the user's, as its report lists them (every one,
    or only the flagged), in reading order. Empty when the job ran without verification.
    Raises NotFoundError (not the user's job, or it has no report yet)."""
    job, data = _job_and_report(session, storage, user_id, job_id)
    return _rows(job, data, flagged_only)


@dataclass(frozen=True)
class Review:
    """What the review page shows of one job: its book (id, title), the report and the
    segment rows (every one, or only the flagged)."""

    book_id: int
    title: str
    report: dict
    rows: list[SegmentRow]


def review(
    session: Session, storage: Storage, user_id: int, job_id: str, flagged_only: bool
) -> Review:
    """The :class:`Review` of a finished job of the user's. Raises NotFoundError (not the
    user's job, or it has no report yet)."""
    job, data = _job_and_report(session, storage, user_id, job_id)
    book = library.owned_book(session, user_id, job.book_id)
    title = book.title or book.source_filename
    return Review(book.id, title, data, _rows(job, data, flagged_only))


def _rows(job: Job, data: dict, flagged_only: bool) -> list[SegmentRow]:
    rows = []
    for chapter in data.get("chapters", []):
        for seg in chapter.get("segments", []):
            if flagged_only and not seg["flagged"]:
                continue
            several = len(seg["takes"]) > 1
            takes = tuple(
                TakeRow(
                    t["take"],
                    t["wer"],
                    t["heard"],
                    t["passed"],
                    take_key(job.owner_id, job.book_id, take_id(seg["segment_id"], t["take"]))
                    if several
                    else None,
                )
                for t in seg["takes"]
            )
            rows.append(
                SegmentRow(
                    chapter["index"],
                    seg["index"],
                    seg["segment_id"],
                    seg["text"],
                    seg["wer"],
                    seg["flagged"],
                    seg["chosen"],
                    takes,
                    segment_key(job.owner_id, job.book_id, seg["segment_id"]),
                )
            )
    return rows


def regenerate_segment(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    job_id: str,
    chapter_index: int,
    position: int,
    text: str | None = None,
) -> str:
    """Fix segment ``position`` of chapter ``chapter_index`` of the user's finished job
    ``job_id`` and start a job of the same chapters with it; return the new job's id.

    ``text`` (stripped, at most :data:`MAX_FIX_CHARS`) is spoken instead of the segment's
    text; None or the same text asks for one more regeneration of it. The fix is kept in
    the book's config for later jobs. The new job is billed like any start
    (:func:`library.start`). Raises NotFoundError (not the user's job, no such segment),
    ConflictError (the job has not completed), SegmentFixError (text too long), and what
    :func:`library.start` raises."""
    if text is not None and len(text.strip()) > MAX_FIX_CHARS:
        raise SegmentFixError(f"a segment's text is at most {MAX_FIX_CHARS} characters")
    return _regenerate(conn, settings, storage, user_id, job_id, chapter_index, position, text)


def regenerate_chapter(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    job_id: str,
    chapter_index: int,
    voice: str | None = None,
) -> str:
    """Regenerate every segment of chapter ``chapter_index`` of the user's finished job
    and start a job of the same chapters; return its id. With ``voice`` (a library voice
    id other than the one reading the chapter) the chapter is read by that voice
    wherever the narrator's voice read it (``PipelineConfig.chapter_voices``, kept in the
    book's config for later jobs; the narrator's own voice id puts it back); without, one
    more take of each segment, texts kept. Only that chapter is synthesized, heard and
    mastered again. Raises like :func:`regenerate_segment`, and CastError for a voice
    not in the user's library."""
    return _regenerate(conn, settings, storage, user_id, job_id, chapter_index, None, None, voice)


def _regenerate(
    conn: redis.Redis,
    settings: Settings,
    storage: Storage,
    user_id: int,
    job_id: str,
    chapter_index: int,
    position: int | None,
    text: str | None,
    voice: str | None = None,
) -> str:
    """Record the fixes (one segment at ``position``, or every segment of the chapter
    when None; or the chapter's own ``voice``) in the book's config and the job's, then
    start the new job."""
    with session_scope(settings.database_url) as session:
        job = library.owned_job(session, user_id, job_id)
        if job.status != JobStatus.COMPLETED:
            raise ConflictError(f"job {job_id} is {job.status}: regenerate from a finished job")
        plan_doc = json.loads(storage.get_bytes(job_key(job.owner_id, job.id, "plan.json")))
        plan = next(
            (plan_from_dict(p) for p in plan_doc["chapters"] if p["index"] == chapter_index),
            None,
        )
        if plan is None or (position is not None and not 0 <= position < len(plan.segments)):
            where = f"segment {position} in chapter" if position is not None else "chapter"
            raise NotFoundError(f"job {job_id} has no {where} {chapter_index}")
        config = PipelineConfig.model_validate(job.config)
        book = library.owned_book(session, user_id, job.book_id)
        overrides = dict(book.config_overrides or {})
        spoken = (
            resolve_voice(session, settings, user_id, voice, f"chapter {chapter_index}")
            if voice
            else None
        )
        if spoken is not None and spoken != config.chapter_voices.get(chapter_index, config.voice):
            overrides["chapter_voices"] = {
                **(overrides.get("chapter_voices") or {}),
                str(chapter_index): spoken.model_dump(),
            }
            config = config.with_overrides(chapter_voices={chapter_index: spoken.model_dump()})
        else:
            fixes = dict(overrides.get("segment_fixes") or {})
            chosen_segments = plan.segments if position is None else (plan.segments[position],)
            made = {}
            for segment in chosen_segments:
                key = f"{chapter_index}:{segment.index}"
                earlier = fixes.get(key) or (
                    config.segment_fixes[key].model_dump() if key in config.segment_fixes else None
                )
                made[key] = _fix(segment.text, earlier, text).model_dump()
            overrides["segment_fixes"] = fixes | made
            config = config.with_overrides(segment_fixes=made)
        book.config_overrides = overrides
        session.add(book)
        every = [c["index"] for c in book.chapters]
        chosen = list(parse_chapter_selection(job.chapters_spec, len(every)) or every)
    return library.start(conn, settings, user_id, job.book_id, chosen=chosen, config=config)


def _fix(planned: str, earlier: dict | None, text: str | None) -> SegmentFix:
    """The fix of a segment planned as ``planned`` (after ``earlier`` fixes): new
    ``text``, or (None, or the same text) one more take of it."""
    original = earlier["original"] if earlier else planned
    new_text = (text or "").strip()
    if not new_text or new_text == planned:
        return SegmentFix(
            original=original,
            text=earlier["text"] if earlier else "",
            take=(earlier["take"] if earlier else 0) + 1,
        )
    return SegmentFix(original=original, text=new_text, take=earlier["take"] if earlier else 0)


SHORT_TERM_STEP_S = 3.0  # pipeline.audio.LoudnessMeter: one short-term value per 3 s


def loudness_points(report: dict, chapter_index: int) -> list[dict]:
    """The "loudness over time" plot of one chapter from its report: ``[{"minute",
    "lufs"}]``, one point per 3 s (short-term loudness, EBU Tech 3341), values below
    -70 LUFS (room tone between paragraphs) clipped to -70 so the axis stays readable."""
    chapter = next((c for c in report.get("chapters", []) if c["index"] == chapter_index), None)
    curve = chapter.get("short_term_lufs", []) if chapter else []
    return [
        {"minute": round((i + 1) * SHORT_TERM_STEP_S / 60, 2), "lufs": max(v, -70.0)}
        for i, v in enumerate(curve)
    ]


def wer_points(report: dict) -> list[dict]:
    """The "WER per segment" plot: ``[{"segment": "<chapter>.<position>", "wer": percent,
    "flagged": 0 or 1}]`` in reading order."""
    return [
        {
            "segment": f"{c['index']}.{s['index']}",
            "wer": round(100 * s["wer"], 1),
            "flagged": int(s["flagged"]),
        }
        for c in report.get("chapters", [])
        for s in c.get("segments", [])
    ]
