"""RQ entry points: a task id in; load, call the pipeline, persist, report progress.

``prepare`` (cpu queue): parse the stored upload, analyze, annotate and segment; store
the plan (``plan.json``) and the cover; record chapters, segments and one ``synthesize``
task per batch of about ``synth_batch_chars`` characters of a chapter.
``synthesize`` (tts queue): speak each segment of its batch that is not stored yet and
store it at once (``users/<id>/books/<id>/segments/<segment id>.flac``), so a killed
worker loses only the segment in flight; the last batch of a chapter queues ``master``
for it.
``master`` (cpu queue): hear the chapter's segments (speech verification,
:mod:`pipeline.verify`; a Piper retake is made right there), then master and encode one
chapter's file (MP3 unless the job asked for FLAC/WAV only) and mark the chapter
completed, so it can be played while later chapters are still being synthesized
(``assemble`` writes the same file again, bit for bit: mastering is per chapter and
seeded by the chapter number). The master that completes the job's last chapter queues
``assemble``. When a Qwen3-TTS segment needs a retake, the master stores what it heard
and queues ``retake`` instead of mastering.
``retake`` (gpu queue): make the takes the chapter's master asked for (recorded as
``pending`` in each segment's verification record), store them, and queue the chapter's
``master`` again, which hears them and goes on (at most ``verify.max_retakes`` rounds).
``inspect`` (cpu queue, an RQ job watched like a task through the book row:
``audiobook_app.jobs.inspections``): parse an uploaded manuscript for the dashboard and
record its title, author, cover, outline (every section) and tracks at the book's layout
on the book row, and each section's text for the preview (``audiobook_app.tracks``), or
the parser's message when it is rejected. ``prepare``
makes the same tracks: the author's layout and titles, then the chosen chapters.
``assemble`` (cpu queue): fetch the segments, master, encode and validate with the
pipeline, upload the M4B, chapter files and report, complete the job.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
from rq import get_current_job
from sqlmodel import Session, select

from audiobook_app import tracks
from audiobook_app.billing import ledger
from audiobook_app.db import repo
from audiobook_app.db.models import (
    BookStatus,
    Chapter,
    ChapterStatus,
    FilePurpose,
    Job,
    JobStatus,
    Segment,
    SegmentStatus,
    Task,
    TaskKind,
    utcnow,
)
from audiobook_app.db.session import retrying, session_scope
from audiobook_app.jobs import inspections
from audiobook_app.jobs.notify import notify_job_ended
from audiobook_app.jobs.queue import connect
from audiobook_app.settings import Settings, get_settings
from audiobook_app.storage import (
    Storage,
    build_storage,
    chapter_texts_key,
    take_key,
    user_key,
    verify_record_key,
)
from pipeline.analyze import analyze
from pipeline.assemble import BookInfo, master_chapter, master_rate
from pipeline.config import STORAGE_REF, PipelineConfig, VoiceConfig
from pipeline.convert import (
    book_quotes,
    finish_book,
    narrator_credit,
    plan_book,
    select_chapters,
    with_credits,
)
from pipeline.errors import InputError
from pipeline.generate import GenerationStats
from pipeline.models import (
    BookAnalysis,
    BookMetadata,
    ChapterAnalysis,
    ChapterPlan,
    Cover,
    Speaker,
    plan_from_dict,
    plan_to_dict,
)
from pipeline.models import (
    Segment as PlanSegment,
)
from pipeline.parse import parse_bytes
from pipeline.store import SegmentStore
from pipeline.validate import CHAPTER_FILE_PREFERENCE
from pipeline.verify import (
    ChapterSpeech,
    RetakeElsewhere,
    Verifier,
    read_record,
    recorded_chapter,
    retake_voice,
    take_id,
)
from worker.chapter_cache import StorageChapterCache
from worker.context import Finisher, TaskContext, run_task
from worker.engines import engine_for
from worker.extras import book_source, publish_extras

log = logging.getLogger(__name__)
MIME = {"m4b": "audio/mp4", "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"}
PREPARE_SHARE, ASSEMBLE_SHARE = 0.05, 0.10  # of overall progress; synthesis has the rest


def prepare(task_id: str) -> None:
    """RQ job: parse and plan a submitted book (see module doc)."""
    run_task(task_id, _prepare)


def synthesize(task_id: str) -> None:
    """RQ job: synthesize one batch of segments (see module doc)."""
    run_task(task_id, _synthesize)


def master(task_id: str) -> None:
    """RQ job: master one chapter so it can be played early (see module doc)."""
    run_task(task_id, _master)


def retake(task_id: str) -> None:
    """RQ job: make the Qwen3-TTS retakes a chapter's master asked for (see module doc)."""
    run_task(task_id, _retake)


def assemble(task_id: str) -> None:
    """RQ job: master, encode, validate and publish a job's audiobook (see module doc);
    the run that completes it (only assemble completes a job) emails the author."""
    if run_task(task_id, _assemble):
        with session_scope(get_settings().database_url) as session:
            job_id = repo.get_task(session, task_id).job_id
        notify_job_ended(get_settings(), job_id)


def inspect(book_id: int) -> None:
    """RQ job: parse uploaded book ``book_id`` and record what the dashboard shows; a
    manuscript the parser rejects gets status ``rejected`` and the parser's message.

    Watched like a task (:mod:`audiobook_app.jobs.inspections`): the run counts an
    attempt and holds a lease its heartbeat renews while it parses, so the watchdog
    redoes it on another worker when this one dies. A run that no longer owns the book
    (resumed elsewhere, deleted) records nothing. A transient failure is retried by RQ;
    after the last retry the book is rejected with the error."""
    settings = get_settings()
    rq_job = get_current_job()
    run_id = rq_job.id if rq_job is not None else None
    run = retrying(lambda: inspections.start_run(settings, book_id, run_id))
    if run is None:
        return
    stop = threading.Event()
    threading.Thread(
        target=_inspect_heartbeat,
        args=(settings, book_id, run_id, stop),
        daemon=True,
        name=f"lease inspect {book_id}",
    ).start()
    try:
        values = _read_manuscript(settings, build_storage(settings), run)
    except Exception as exc:
        if rq_job is not None and (rq_job.retries_left or 0) > 0:
            log.warning("inspect of book %s failed (%s); RQ retries it", book_id, exc)
            raise
        message = f"internal error while reading {run.source_filename}: {type(exc).__name__}"
        values = {"status": BookStatus.REJECTED, "error": message}
        retrying(lambda: inspections.finish_run(settings, book_id, run_id, **values))
        raise
    finally:
        stop.set()
    if not retrying(lambda: inspections.finish_run(settings, book_id, run_id, **values)):
        log.info("inspect run %s of book %s was superseded; nothing recorded", run_id, book_id)


def _inspect_heartbeat(
    settings: Settings, book_id: int, run_id: str | None, stop: threading.Event
) -> None:
    while not stop.wait(settings.heartbeat_interval_s):
        try:
            if not inspections.renew_lease(settings, book_id, run_id):
                return  # read, deleted, or resumed by another run: finish_run will say
        except Exception as exc:  # a missed beat is retried next tick; the lease has slack
            log.warning("heartbeat of the inspect of book %s failed: %s", book_id, exc)


def _read_manuscript(settings: Settings, storage: Storage, run: inspections.InspectRun) -> dict:
    """Parse ``run``'s upload, store its cover and section texts; the book columns to
    record (status ``ready``, or ``rejected`` with the parser's message). Each step is
    reported for the book page (:data:`inspections.STEPS`)."""
    conn = connect(settings)
    size = storage.size(run.source_key)

    def step(number: int) -> None:
        inspections.report_step(conn, settings, run.book_id, number, size)

    try:
        step(0)
        data = storage.get_bytes(run.source_key)
        step(1)
        book = parse_bytes(data, run.source_filename)
        step(2)
        analysis = analyze(book)
        step(3)
        sections = tracks.book_sections(book)
        _, rows = tracks.lay_out(book, run.layout)
    except InputError as exc:
        return {"status": BookStatus.REJECTED, "error": str(exc)}
    step(4)
    cover_key = None
    if book.cover:
        cover_key = user_key(run.owner_id, "books", str(run.book_id), "cover")
        storage.put_bytes(cover_key, book.cover.data, book.cover.mime)
    storage.put_bytes(
        chapter_texts_key(run.owner_id, run.book_id),
        tracks.section_texts(sections),
        "application/json",
    )
    return {
        "status": BookStatus.READY,
        "error": None,
        "cover_key": cover_key,
        "title": analysis.title,
        "author": analysis.author,
        "language": analysis.language,
        "source_format": book.source_format,
        "words": analysis.words,
        "estimated_duration_s": analysis.estimated_duration_s,
        "outline": tracks.outline_rows(sections),
        "chapters": rows,
        "speakers": [{"name": c.name, "lines": c.lines} for c in analysis.speakers],
    }


def _job_key(job: Job, *parts: str) -> str:
    return user_key(job.owner_id, "jobs", job.id, *parts)


def _segment_key(job: Job, segment_id: str) -> str:
    return user_key(job.owner_id, "books", str(job.book_id), "segments", f"{segment_id}.flac")


def _prepare(ctx: TaskContext) -> Finisher:
    job, settings, started = ctx.job, ctx.settings, time.monotonic()
    ctx.update_job(stage="parse", progress=0.0)
    with session_scope(settings.database_url) as session:
        book_row = repo.get_book(session, job.book_id)
    book = parse_bytes(ctx.storage.get_bytes(book_row.source_key), book_row.source_filename)
    outline = tracks.outline_rows(tracks.book_sections(book))
    # the author's tracks (layout) under the author's titles (rows), then their choice
    book, full_chapters = tracks.lay_out(book, book_row.layout, book_row.chapters, book_row.outline)
    config = PipelineConfig.model_validate(job.config)
    quotes = book_quotes(book, config)  # the whole book's speakers, before the selection
    whole, book = book, select_chapters(book, job.chapters_spec)
    ctx.update_job(stage="segment", progress=PREPARE_SHARE / 2)
    analysis, plans = plan_book(book, config, quotes=quotes)
    chosen = [p.index for p in plans]  # the author's chapters (Book.chosen_chapters)
    if config.output.credits:  # output choices: chapters 0 and last + 1 (ACX credits)
        plans = with_credits(plans, whole, config, analysis.language)
    cover = None
    if book.cover:
        cover = {"key": _job_key(job, "cover"), "mime": book.cover.mime}
        ctx.storage.put_bytes(cover["key"], book.cover.data, book.cover.mime)
    plan_doc = {
        "metadata": asdict(book.metadata),
        "cover": cover,
        "analysis": asdict(analysis),
        "chapters": [plan_to_dict(p) for p in plans],
    }
    ctx.storage.put_bytes(
        _job_key(job, "plan.json"), json.dumps(plan_doc).encode(), "application/json"
    )

    def finish(session: Session, job_row: Job) -> list[Task]:
        book_row = repo.get_book(session, job_row.book_id)
        if (
            book_row.status != BookStatus.READY
        ):  # a CLI submit: no inspect job described the whole book
            book_row.title = analysis.title
            book_row.author, book_row.language = analysis.author, analysis.language
            book_row.source_format, book_row.status, book_row.error = (
                book.source_format,
                BookStatus.READY,
                None,
            )
            book_row.words, book_row.estimated_duration_s = (
                analysis.words,
                analysis.estimated_duration_s,
            )
            book_row.chosen_chapters = chosen  # the web's Start stored the author's choice
        book_row.chapters = full_chapters  # (a preview or a retry leaves it as it is)
        book_row.outline = outline
        session.add(book_row)
        rows = [
            (
                Chapter(job_id=job_row.id, index=p.index, title=p.title, words=p.words),
                [
                    Segment(
                        job_id=job_row.id,
                        chapter_index=p.index,
                        position=s.index,
                        segment_hash=s.id,
                        chars=len(s.text),
                        audio_key=_segment_key(job_row, s.id),
                    )
                    for s in p.segments
                ],
            )
            for p in plans
        ]
        repo.add_chapters_and_segments(session, job_row, rows)
        job_row.stage, job_row.progress, job_row.synth_started_at = (
            "generate",
            PREPARE_SHARE,
            utcnow(),
        )
        job_row.timings = {**job_row.timings, "prepare_s": round(time.monotonic() - started, 2)}
        return [
            repo.add_task(
                session,
                job_row,
                TaskKind.SYNTHESIZE,
                chapter_index=p.index,
                batch=b,
                queue=None if kind == "tts" else kind,
            )
            for p in plans
            for b, (kind, _) in enumerate(batches(p, settings.synth_batch_chars, config))
        ]

    return finish


def queue_of(voice: VoiceConfig) -> str:
    """The queue kind that synthesizes ``voice``: "gpu" for Qwen3-TTS, else "tts"."""
    return "gpu" if voice.engine == "qwen3-tts" else "tts"


def batches(
    plan: ChapterPlan, max_chars: int, config: PipelineConfig
) -> list[tuple[str, list[int]]]:
    """(queue kind, segment positions) of ``plan``: the segments each queue synthesizes
    (by their role's voice, :func:`queue_of`; "tts" first, then "gpu"), in reading order,
    cut into batches of at most ``max_chars`` characters (a longer segment is a batch of
    its own); at least one batch."""
    groups: list[tuple[str, list[int]]] = []
    for kind in ("tts", "gpu"):
        size, first = 0, len(groups)
        for seg in plan.segments:
            if queue_of(config.voice_of(seg.voice)) != kind:
                continue
            if len(groups) == first or (groups[-1][1] and size + len(seg.text) > max_chars):
                groups.append((kind, []))
                size = 0
            groups[-1][1].append(seg.index)
            size += len(seg.text)
    return groups or [("tts", [])]


def _by_voice(segments: list, config: PipelineConfig) -> dict[VoiceConfig, list]:
    groups: dict[VoiceConfig, list] = {}
    for seg in segments:
        groups.setdefault(config.voice_of(seg.voice), []).append(seg)
    return groups


def _local_voice(ctx: TaskContext, voice: VoiceConfig) -> VoiceConfig:
    """``voice`` with a clone reference kept in storage (``reference_audio`` =
    ``"storage:<key>"``) fetched once into the worker's scratch folder."""
    if not voice.reference_audio.startswith(STORAGE_REF):
        return voice
    key = voice.reference_audio.removeprefix(STORAGE_REF)
    path = ctx.settings.work_dir / "voices" / key.replace("/", "_")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(ctx.storage.get_bytes(key))
        tmp.replace(path)
    return voice.model_copy(update={"reference_audio": str(path)})


_plans: dict[str, dict] = {}  # plan.json of recent jobs (a job's plan never changes)


def _load_plan(ctx: TaskContext) -> dict:
    key = _job_key(ctx.job, "plan.json")
    if key not in _plans:
        if len(_plans) >= 8:
            _plans.clear()
        _plans[key] = json.loads(ctx.storage.get_bytes(key))
    return _plans[key]


def _synthesize(ctx: TaskContext) -> Finisher:
    job, task = ctx.job, ctx.task
    plan = next(
        plan_from_dict(p) for p in _load_plan(ctx)["chapters"] if p["index"] == task.chapter_index
    )
    config = PipelineConfig.model_validate(job.config)
    kind, positions = batches(plan, ctx.settings.synth_batch_chars, config)[task.batch or 0]
    step = ctx.settings.qwen_batch_size if kind == "gpu" else 1
    retrying(lambda: _chapter_started(ctx, task.chapter_index))
    segments = [s for s in plan.segments if s.index in set(positions)]
    for first in range(0, len(segments), step):
        ctx.check_cancelled()
        group = segments[first : first + step]
        done = {seg.id: _stored_duration(ctx, _segment_key(job, seg.id)) for seg in group}
        todo = [seg for seg in group if done[seg.id] is None]
        for voice, segs in _by_voice(todo, config).items():
            engine = engine_for(_local_voice(ctx, voice), ctx.settings.tts_threads)
            for seg, audio in zip(segs, engine.synthesize_batch([s.text for s in segs])):
                _put_flac(ctx, _segment_key(job, seg.id), audio, engine.sample_rate_hz)
                done[seg.id] = len(audio) / engine.sample_rate_hz
        for seg in group:
            synthesized = int(seg in todo)
            duration = done[seg.id] or 0.0
            retrying(
                partial(_segment_done, ctx, seg.chapter_index, seg.index, duration, synthesized)
            )
        _report_synthesis(ctx, task.chapter_index)

    def finish(session: Session, job_row: Job) -> list[Task]:
        tasks = repo.job_tasks(session, job_row.id, TaskKind.SYNTHESIZE)
        done = {
            t.id for t in tasks if t.status == "completed"
        }  # this task included (completed just before)
        followups = []
        chapter = [t for t in tasks if t.chapter_index == task.chapter_index]
        if all(t.id in done for t in chapter) and not repo.job_tasks(
            session, job_row.id, TaskKind.MASTER, chapter_index=task.chapter_index
        ):
            followups.append(
                repo.add_task(session, job_row, TaskKind.MASTER, chapter_index=task.chapter_index)
            )
        if len(done) == len(tasks) and job_row.synth_started_at:
            synth_s = (utcnow() - job_row.synth_started_at).total_seconds()
            job_row.timings = {**job_row.timings, "generate_s": round(synth_s, 2)}
            session.add(job_row)
        return followups

    return finish


def _put_flac(ctx: TaskContext, key: str, audio: np.ndarray, rate_hz: int) -> None:
    """Store synthesized audio (float, clipped to -1..1) at ``key`` as 24-bit FLAC."""
    buf = io.BytesIO()
    sf.write(buf, audio.clip(-1, 1), rate_hz, format="FLAC", subtype="PCM_24")
    ctx.storage.put_bytes(key, buf.getvalue(), "audio/flac")


def _fetch_records(ctx: TaskContext, plans: Sequence[ChapterPlan], records: Path) -> None:
    """Download the stored verification records of ``plans``' segments (those that have
    one) into the folder ``records``."""
    records.mkdir(parents=True, exist_ok=True)
    for seg in {s.id: s for p in plans for s in p.segments}.values():
        key = verify_record_key(ctx.job.owner_id, ctx.job.book_id, seg.id)
        if ctx.storage.exists(key):
            ctx.storage.get_file(key, records / f"{seg.id}.json")


def _chapter_started(ctx: TaskContext, chapter_index: int) -> None:
    with session_scope(ctx.settings.database_url) as session:
        repo.start_chapter(session, ctx.job.id, chapter_index)


def _stored_duration(ctx: TaskContext, key: str) -> float | None:
    """Duration of an already stored segment (from its FLAC header), None if absent."""
    if not ctx.storage.exists(key):
        return None
    return sf.info(io.BytesIO(ctx.storage.get_bytes(key))).duration


def _segment_done(
    ctx: TaskContext, chapter_index: int, position: int, duration_s: float, synthesized: int
) -> None:
    with session_scope(ctx.settings.database_url) as session:
        row = repo.get_segment(session, ctx.job.id, chapter_index, position)
        row.status, row.duration_s, row.attempts = (
            SegmentStatus.COMPLETED,
            duration_s,
            row.attempts + synthesized,
        )
        session.add(row)


def _report_synthesis(ctx: TaskContext, chapter_index: int) -> None:
    with session_scope(ctx.settings.database_url) as session:
        totals = repo.segment_totals(session, ctx.job.id)
    share = totals["chars_done"] / totals["chars_total"] if totals["chars_total"] else 1.0
    eta = None
    if ctx.job.synth_started_at and totals["chars_synthesized"] > 0:
        elapsed = (utcnow() - ctx.job.synth_started_at).total_seconds()
        eta = round(
            (totals["chars_total"] - totals["chars_done"]) * elapsed / totals["chars_synthesized"],
            1,
        )
    ctx.update_job(
        stage="generate",
        chapter_index=chapter_index,
        segments_done=int(totals["done"]),
        segments_total=int(totals["total"]),
        audio_s=round(totals["audio_s"], 2),
        eta_s=eta,
        progress=PREPARE_SHARE + share * (1 - PREPARE_SHARE - ASSEMBLE_SHARE),
    )


def _fetch_segments(
    ctx: TaskContext, plans: Sequence[ChapterPlan], work: Path, *, first_only: bool = False
) -> SegmentStore:
    """Download the stored segments of ``plans`` (with ``first_only``, the first plan's
    first segment: what :func:`master_rate` reads) into a local store under ``work``."""
    store = SegmentStore(work / "segments")
    wanted = plans[0].segments[:1] if first_only else [s for p in plans for s in p.segments]
    for seg in {s.id: s for s in wanted}.values():
        if not store.has(seg.id):
            ctx.storage.get_file(_segment_key(ctx.job, seg.id), store.path(seg.id))
    return store


def _master(ctx: TaskContext) -> Finisher:
    job, index = ctx.job, ctx.task.chapter_index
    doc = _load_plan(ctx)
    plan = next(plan_from_dict(p) for p in doc["chapters"] if p["index"] == index)
    config = job_config = PipelineConfig.model_validate(job.config)
    fmt = next((f for f in CHAPTER_FILE_PREFERENCE if f in config.output.formats), "mp3")
    config = config.model_copy(
        update={"output": config.output.model_copy(update={"formats": (fmt,)})}
    )
    work = Path(ctx.settings.work_dir) / f"{job.id}-chapter-{index}"
    info = BookInfo.of(BookMetadata(**doc["metadata"]), narrator_credit(config))
    store = _fetch_segments(ctx, (plan,), work, first_only=True)
    rate = master_rate((plan,), store)
    cache = StorageChapterCache(ctx.storage, job.owner_id, job.book_id, job_config, info)
    kept = cache.restore_file(plan, rate, fmt, work / "out")
    if kept:  # mastered by an earlier conversion of the book: the same bytes
        path, duration_s = kept
    else:
        _fetch_segments(ctx, (plan,), work)
        language = doc["analysis"]["language"]
        if _verify_chapter(ctx, plan, job_config, store, work, language):
            shutil.rmtree(work, ignore_errors=True)
            return _queue_retake(ctx)
        chapter = master_chapter(plan, store, work / "out", config, info, rate_hz=rate)
        path, duration_s = chapter.files[fmt], chapter.duration_s
    key = _job_key(job, "output", fmt, path.name)
    ctx.check_cancelled()
    ctx.storage.put_file(key, path, MIME[fmt])
    size = path.stat().st_size
    shutil.rmtree(work, ignore_errors=True)

    def finish(session: Session, job_row: Job) -> list[Task]:
        repo.add_file(
            session,
            job_row.owner_id,
            key,
            size,
            MIME[fmt],
            FilePurpose(fmt),
            book_id=job_row.book_id,
            job_id=job_row.id,
        )
        repo.mark_chapter(
            session,
            job_row.id,
            index,
            ChapterStatus.COMPLETED,
            audio_key=key,
            duration_s=duration_s,
        )
        return _assemble_when_mastered(session, job_row)

    return finish


def _assemble_when_mastered(session: Session, job_row: Job) -> list[Task]:
    """Queue ``assemble`` once every chapter of the job is mastered (each chapter heard
    and its retakes kept first, so assembly reads the takes kept); else nothing."""
    chapters = session.exec(select(Chapter).where(Chapter.job_id == job_row.id)).all()
    if any(c.status != ChapterStatus.COMPLETED for c in chapters) or repo.job_tasks(
        session, job_row.id, TaskKind.ASSEMBLE
    ):
        return []
    job_row.stage, job_row.progress, job_row.eta_s = "assemble", 1 - ASSEMBLE_SHARE, None
    session.add(job_row)
    return [repo.add_task(session, job_row, TaskKind.ASSEMBLE)]


def _queue_retake(ctx: TaskContext) -> Finisher:
    """The finisher of a master that heard a Qwen3-TTS segment fail: queue round
    ``batch + 1`` of the chapter's ``retake`` on the gpu queue."""
    index, round_ = ctx.task.chapter_index, (ctx.task.batch or 0) + 1

    def finish(session: Session, job_row: Job) -> list[Task]:
        return [
            repo.add_task(
                session, job_row, TaskKind.RETAKE, chapter_index=index, batch=round_, queue="gpu"
            )
        ]

    return finish


def _retake(ctx: TaskContext) -> Finisher:
    """Make the takes a chapter's master asked for (the ``pending`` take of each segment
    whose verification record has one: :func:`pipeline.verify.retake_voice` of its
    voice), store them as takes, then queue the chapter's master again (round ``batch``)."""
    job, index = ctx.job, ctx.task.chapter_index
    doc = _load_plan(ctx)
    plan = next(plan_from_dict(p) for p in doc["chapters"] if p["index"] == index)
    config = PipelineConfig.model_validate(job.config)
    work = Path(ctx.settings.work_dir) / f"{job.id}-retake-{index}"
    records = work / "verify"
    _fetch_records(ctx, (plan,), records)
    wanted: dict[VoiceConfig, list[tuple[PlanSegment, str]]] = {}
    for seg in {s.id: s for s in plan.segments}.values():
        check = read_record(records, seg)
        if check is None or check.pending is None:
            continue
        name = take_id(seg.id, check.pending)
        if not ctx.storage.exists(take_key(job.owner_id, job.book_id, name)):
            voice = retake_voice(config.voice_of(seg.voice), check.pending)
            wanted.setdefault(voice, []).append((seg, name))
    for voice, todo in wanted.items():
        ctx.check_cancelled()
        engine = engine_for(_local_voice(ctx, voice), ctx.settings.tts_threads)
        for (_, name), audio in zip(todo, engine.synthesize_batch([s.text for s, _ in todo])):
            _put_flac(ctx, take_key(job.owner_id, job.book_id, name), audio, engine.sample_rate_hz)
    shutil.rmtree(work, ignore_errors=True)
    round_ = ctx.task.batch

    def finish(session: Session, job_row: Job) -> list[Task]:
        return [repo.add_task(session, job_row, TaskKind.MASTER, chapter_index=index, batch=round_)]

    return finish


def _verify_chapter(
    ctx: TaskContext,
    plan: ChapterPlan,
    config: PipelineConfig,
    store: SegmentStore,
    work: Path,
    language: str,
) -> bool:
    """Speech verification of one chapter before it is mastered (:mod:`pipeline.verify`),
    on this cpu worker: records kept in storage from earlier runs are reused; a Piper
    voice is retaken here; a GPU voice's retake is left pending for the ``retake`` task
    (its takes so far are fetched back when it is done). The takes, the new or changed
    records and every segment whose kept take changed go back to storage. True when a
    segment waits for a take from the gpu queue (do not master the chapter yet)."""
    if not config.verify.enabled:
        return False
    owner, book = ctx.job.owner_id, ctx.job.book_id
    records = work / "verify"
    _fetch_records(ctx, (plan,), records)
    takes = SegmentStore(work / "takes")
    for seg in {s.id: s for s in plan.segments}.values():
        check = read_record(records, seg)
        awaited = check.pending if check and check.pending is not None else -1
        for number in range(awaited + 1):  # a pending segment's takes so far
            name = take_id(seg.id, number)
            if ctx.storage.exists(take_key(owner, book, name)):
                ctx.storage.get_file(take_key(owner, book, name), takes.path(name))
    before = {p.name: p.read_bytes() for p in records.iterdir()}
    fetched = takes.stored_ids()

    def retake(seg: PlanSegment, voice: VoiceConfig) -> tuple[np.ndarray, int] | None:
        if queue_of(voice) != "tts":
            raise RetakeElsewhere(voice.engine)
        ctx.check_cancelled()
        engine = engine_for(_local_voice(ctx, voice), ctx.settings.tts_threads)
        return engine.synthesize(seg.text), engine.sample_rate_hz

    verifier = Verifier(
        config,
        store,
        takes,
        records,
        language=language,
        synthesize=retake,
        threads=ctx.settings.tts_threads,
    )
    speech = verifier.chapter(plan)
    for name in sorted(takes.stored_ids() - fetched):
        ctx.storage.put_file(take_key(owner, book, name), takes.path(name), "audio/flac")
    for check in speech.segments:
        record = records / f"{check.segment_id}.json"
        if before.get(record.name) == record.read_bytes():
            continue
        if check.chosen and check.pending is None:
            key = _segment_key(ctx.job, check.segment_id)
            ctx.storage.put_file(key, store.path(check.segment_id), "audio/flac")
        ctx.storage.put_file(
            verify_record_key(owner, book, check.segment_id), record, "application/json"
        )
    return bool(speech.pending)


def _recorded_speech(
    ctx: TaskContext, plans: Sequence[ChapterPlan], work: Path
) -> tuple[ChapterSpeech, ...]:
    """The chapters' speech verification from the records the master tasks stored (a
    chapter with an unverified segment is left out)."""
    records = work / "verify"
    _fetch_records(ctx, plans, records)
    chapters = (recorded_chapter(plan, records) for plan in plans)
    return tuple(c for c in chapters if c is not None)


def _assemble(ctx: TaskContext) -> Finisher:
    job, storage, settings = ctx.job, ctx.storage, ctx.settings
    doc = _load_plan(ctx)
    plans = tuple(plan_from_dict(p) for p in doc["chapters"])
    config = PipelineConfig.model_validate(job.config)
    work = Path(settings.work_dir) / job.id
    metadata = BookMetadata(**doc["metadata"])
    info = BookInfo.of(metadata, narrator_credit(config))
    cache = StorageChapterCache(storage, job.owner_id, job.book_id, config, info)
    rate = master_rate(plans, _fetch_segments(ctx, plans, work, first_only=True))
    # segments only for the chapters no earlier conversion mastered as they are now
    todo = [p for p in plans if not cache.has(p, rate)]
    store = _fetch_segments(ctx, todo, work) if todo else SegmentStore(work / "segments")
    cover = (
        Cover(storage.get_bytes(doc["cover"]["key"]), doc["cover"]["mime"])
        if doc["cover"]
        else None
    )
    with session_scope(settings.database_url) as session:
        segments = repo.job_segments(session, job.id)
    generate_s = float(job.timings.get("generate_s", 0.0))
    stats = GenerationStats(
        len(segments),
        sum(1 for s in segments if s.attempts),
        sum(1 for s in segments if not s.attempts),
        sum(s.duration_s or 0 for s in segments),
        generate_s,
    )
    out = work / "out"
    started = time.monotonic()

    def progress(event) -> None:
        if event.stage == "assemble" and event.total:
            ctx.check_cancelled()
            ctx.update_job(
                stage="assemble", progress=1 - ASSEMBLE_SHARE * (1 - event.done / event.total)
            )

    analysis = BookAnalysis(
        **{
            **doc["analysis"],
            "chapters": tuple(ChapterAnalysis(**c) for c in doc["analysis"]["chapters"]),
            "speakers": tuple(
                Speaker(s["name"], s["lines"], tuple(s["aliases"]))
                for s in doc["analysis"].get("speakers", ())
            ),
        }
    )
    outputs, report, report_path = finish_book(
        plans,
        store,
        metadata,
        cover,
        out,
        config,
        analysis,
        stats,
        progress,
        reuse=cache,
        speech=_recorded_speech(ctx, plans, work) if config.verify.enabled else (),
    )
    uploads = [(report_path, "report.json", FilePurpose.REPORT, "application/json")]
    if outputs.m4b:
        uploads.append((outputs.m4b, outputs.m4b.name, FilePurpose.M4B, MIME["m4b"]))
    for fmt, paths in outputs.files.items():
        uploads += [(p, f"{fmt}/{p.name}", FilePurpose(fmt), MIME[fmt]) for p in paths]
    # output choices: subtitles, read-along EPUB, retail sample, abs.zip (worker/extras.py)
    uploads += publish_extras(ctx, plans, store, outputs, config, doc, work, book_source(ctx))
    sizes = {}
    for path, name, _, mime in uploads:
        storage.put_file(_job_key(job, "output", *name.split("/")), path, mime)
        sizes[name] = path.stat().st_size
    assemble_s = round(time.monotonic() - started, 2)

    def finish(session: Session, job_row: Job) -> list[Task]:
        for _, name, purpose, mime in uploads:
            repo.add_file(
                session,
                job_row.owner_id,
                _job_key(job_row, "output", *name.split("/")),
                sizes[name],
                mime,
                purpose,
                book_id=job_row.book_id,
                job_id=job_row.id,
            )
        main_format = next((f for f in CHAPTER_FILE_PREFERENCE if f in outputs.files), None)
        for i, (index, duration) in enumerate(zip(outputs.chapter_indices, outputs.durations_s)):
            key = (
                _job_key(job_row, "output", main_format, outputs.files[main_format][i].name)
                if main_format
                else None
            )
            repo.mark_chapter(
                session,
                job_row.id,
                index,
                ChapterStatus.COMPLETED,
                audio_key=key,
                duration_s=duration,
            )
        audio_s = float(sum(outputs.durations_s))
        repo.add_usage(
            session, job_row.owner_id, job_row.id, "audio_generated", round(audio_s, 2), "s"
        )
        ledger.settle(session, ctx.settings, job_row, audio_s)
        job_row.status, job_row.stage, job_row.progress, job_row.eta_s = (
            JobStatus.COMPLETED,
            "done",
            1.0,
            None,
        )
        job_row.audio_s, job_row.finished_at, job_row.updated_at = audio_s, utcnow(), utcnow()
        job_row.timings = {
            **job_row.timings,
            "assemble_s": assemble_s,
            "chapters_mastered": cache.kept,  # the rest were restored as mastered before
            "chapters_reused": cache.reused,
        }
        session.add(job_row)
        shutil.rmtree(work, ignore_errors=True)  # uploaded; the segments stay in storage
        return []

    return finish
