"""The whole pipeline, one call: manuscript file -> audiobook files + validation report.

``convert()`` runs parse -> analyze -> annotate -> segment -> generate -> assemble ->
validate and writes ``report.json``. The segment store under ``<out_dir>/.work/`` is the
checkpoint: rerunning the same command after a crash resumes without re-synthesizing
any stored segment. Progress goes to an optional callback as :class:`ProgressEvent`s.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipeline import structure
from pipeline.analyze import analyze
from pipeline.annotate import annotate_chapter
from pipeline.assemble import (
    AssembledBook,
    BookAssembler,
    BookInfo,
    ChapterReuse,
    MasteredChapter,
    assemble_book,
    master_chapter,
)
from pipeline.casting import cast_chapter
from pipeline.config import WORK_DIR, PipelineConfig
from pipeline.credits import closing_credits, opening_credits
from pipeline.dialogue import Quote, attribute_book
from pipeline.errors import ChapterSelectionError
from pipeline.extras import Extras, write_extras
from pipeline.generate import (
    GenerationStats,
    SegmentCallback,
    generate,
    pending_segments,
    start_fork_server,
    start_workers,
)
from pipeline.models import Book, BookAnalysis, BookMetadata, ChapterPlan, Cover, Segment
from pipeline.parse import parse_file
from pipeline.segment import VoiceKey, segment_chapter
from pipeline.store import SegmentStore
from pipeline.tts import engine_sample_rate, engine_settings
from pipeline.validate import (
    CHAPTER_FILE_PREFERENCE,
    ChapterReport,
    ValidationReport,
    validate_book,
    validate_chapter,
)
from pipeline.verify import ChapterSpeech, Verifier

# "verify" is the validate stage's listening half (pipeline.verify): it hears the stored
# segments and retakes failed ones, so it runs before assembly
STAGES = (
    "parse",
    "analyze",
    "annotate",
    "segment",
    "generate",
    "verify",
    "assemble",
    "validate",
)


@dataclass(frozen=True)
class ProgressEvent:
    """Where a conversion is: ``stage`` (one of :data:`STAGES`), ``done`` of ``total``
    units (``unit``: "chars" for generate, "chapters" for assemble, "" otherwise)."""

    stage: str
    done: float
    total: float
    unit: str = ""
    detail: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class ConvertResult:
    """Everything one conversion produced."""

    analysis: BookAnalysis
    plans: tuple[ChapterPlan, ...]
    generation: GenerationStats
    outputs: AssembledBook
    report: ValidationReport
    report_path: Path
    wall_s: float
    extras: Extras = Extras()


def parse_chapter_selection(spec: str | None, chapter_count: int) -> tuple[int, ...] | None:
    """``"1-3,5"`` -> ``(1, 2, 3, 5)``; ``None`` or ``""`` -> ``None`` (all chapters).

    Raises :class:`ChapterSelectionError` for malformed ranges or numbers outside
    ``1..chapter_count``.
    """
    if not spec:
        return None
    chosen: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise ChapterSelectionError(f"bad chapter selection {part.strip()!r}: use e.g. 1-3,5")
        first, last = int(match[1]), int(match[2] or match[1])
        if first < 1 or last > chapter_count or first > last:
            raise ChapterSelectionError(
                f"chapter selection {part.strip()!r} is outside 1-{chapter_count} "
                f"(the book has {chapter_count} chapters; see `audiobook inspect`)"
            )
        chosen.update(range(first, last + 1))
    return tuple(sorted(chosen))


def plan_chapters(
    book: Book,
    language: str,
    config: PipelineConfig,
    quotes: Mapping[int, Sequence[Quote]],
) -> tuple[ChapterPlan, ...]:
    """Cast, annotate and segment every chapter of ``book`` for ``config``'s voices.

    ``quotes`` are the chapters' attributed quotations (:func:`book_quotes`); with a cast
    (``config.cast.mode`` dual or full) each paragraph is cut into runs by who reads them
    (:func:`pipeline.casting.cast_chapter`). The spoken title segment reads the normalized title ("Chapter Four"); the plan keeps
    the display title ("Chapter 4") for chapter markers and file names.
    """
    voices = voice_keys(config)
    plans = []
    for chapter in book.chapters:
        cast = cast_chapter(chapter, quotes.get(chapter.index, ()), config.cast)
        spoken = annotate_chapter(cast, config.lexicon, language)
        plan = segment_chapter(spoken, config, voices)
        plans.append(replace(plan, title=chapter.title))
    return tuple(plans)


def voice_keys(config: PipelineConfig) -> dict[str, VoiceKey]:
    """Each role of ``config``'s cast with what its segment ids hash (engine, voice name,
    engine settings). Raises :class:`ConfigError` for an unknown engine."""
    return {
        role: VoiceKey(voice.engine, voice.narrator, engine_settings(voice))
        for role, voice in config.voices().items()
    }


def convert(
    source: str | Path,
    out_dir: str | Path,
    config: PipelineConfig,
    *,
    chapters: str | None = None,
    split_level: int | None = None,
    jobs: int = 1,
    on_progress: ProgressCallback | None = None,
) -> ConvertResult:
    """Convert the manuscript at ``source`` into ``out_dir``.

    ``split_level`` picks the table-of-contents level whose entries become tracks
    (``None``: the default level, see :mod:`pipeline.structure`); ``chapters`` is a
    selection such as ``"1-3,5"`` (1-based, as ``inspect`` lists them at that level).
    With ``jobs > 1`` every chapter is mastered, encoded and validated in the synthesis
    processes as soon as its last segment is stored (queued behind the synthesis work in
    flight, so the cores are never oversubscribed), and the M4B is encoded on a thread as
    chapters arrive in reading order; what is left after synthesis is the last chapters
    and the M4B's index and check. With ``jobs=1`` assembly follows synthesis in this
    process. Speech verification (:mod:`pipeline.verify`) runs after synthesis with
    ``jobs=1`` and, in the pool, on each chapter before it is mastered; the extras
    ``config.output`` asks for (subtitles, read-along EPUB, Audiobookshelf folder, retail
    sample: :mod:`pipeline.extras`) are written last. Raises
    :class:`pipeline.errors.InputError` subclasses for bad input and other
    :class:`pipeline.errors.AudiobookError` subclasses for engine/encoder failures.
    """
    started = time.monotonic()
    emit = on_progress or (lambda _event: None)
    out_dir = Path(out_dir)
    if jobs > 1:  # the workers' fork server loads the voice while this process parses and plans
        start_fork_server(preload=[__name__], voice=config.voice)
    emit(ProgressEvent("parse", 0, 1))
    whole = parse_at_level(source, split_level)
    book = select_chapters(whole, chapters)
    analysis, plans = plan_book(book, config, emit, quotes=book_quotes(whole, config))
    if config.output.credits:
        plans = with_credits(plans, whole, config, analysis.language)
    workers = start_workers(config.voice, jobs, preload=[__name__])
    try:
        store = SegmentStore(out_dir / WORK_DIR / "segments")
        if workers is None:
            stats = _generate(plans, store, config, jobs, None, emit)
            speech = verify_book(plans, store, out_dir, config, analysis.language, emit)
            outputs, report, report_path = finish_book(
                plans,
                store,
                book.metadata,
                book.cover,
                out_dir,
                config,
                analysis,
                stats,
                emit,
                speech=speech,
            )
        else:
            rate = engine_sample_rate(config.voice)
            with BookAssembler(
                plans,
                book.metadata,
                book.cover,
                out_dir,
                config,
                rate_hz=rate,
                narrator=narrator_credit(config),
            ) as assembler:
                try:
                    mastering = _PoolMastering(
                        plans, store, assembler, workers, emit, analysis.language
                    )
                    stats = _generate(
                        plans, store, config, jobs, workers, emit, mastering.segment_stored
                    )
                    generated = time.monotonic()
                    reports, heard = mastering.finish()
                finally:  # before the assembler aborts, so no chapter is still being written
                    workers.shutdown(cancel_futures=True)
                outputs = assembler.close()
            assembled = time.monotonic()
            report, report_path = _validate_and_report(
                outputs,
                plans,
                out_dir,
                config,
                analysis,
                stats,
                emit,
                generated,
                assembled,
                reports,
                heard,
            )
        extras = write_extras(
            plans,
            store,
            outputs,
            config,
            out_dir,
            source=Path(source),
            source_format=book.source_format,
        )
    finally:
        if workers is not None:
            workers.shutdown(cancel_futures=True)
    return ConvertResult(
        analysis, plans, stats, outputs, report, report_path, time.monotonic() - started, extras
    )


def book_quotes(book: Book, config: PipelineConfig) -> dict[int, list[Quote]]:
    """The quotations of every chapter of ``book`` with their speakers, by chapter index,
    when ``config`` casts more than one voice (``{}`` in single-voice mode). Attribute the
    whole book, before :func:`select_chapters`: a speaker named in one chapter is known
    in the others ("his wife" in chapter 1 is Mrs. Bennet once the book says so)."""
    if config.cast.mode == "single":
        return {}
    return attribute_book(book.chapters)[0]


def plan_book(
    book: Book,
    config: PipelineConfig,
    emit: ProgressCallback | None = None,
    *,
    quotes: Mapping[int, Sequence[Quote]] | None = None,
) -> tuple[BookAnalysis, tuple[ChapterPlan, ...]]:
    """The stages between parse and generate: analyze, then cast, annotate and segment
    every chapter of ``book`` (already narrowed by :func:`select_chapters`; pass the whole
    book's :func:`book_quotes` as ``quotes``, else the chapters of ``book`` are
    attributed alone)."""
    emit = emit or (lambda _event: None)
    emit(ProgressEvent("analyze", 0, 1))
    analysis = analyze(book, length_scale=config.voice.length_scale)
    emit(ProgressEvent("segment", 0, 1))
    if quotes is None:
        quotes = book_quotes(book, config)
    return analysis, plan_chapters(book, analysis.language, config, quotes)


def verifier(
    store: SegmentStore, out_dir: Path, config: PipelineConfig, language: str, threads: int = 0
) -> Verifier:
    """The :class:`Verifier` of a conversion into ``out_dir``: takes and records kept
    under ``out_dir/.work`` beside the segment store (the checkpoint), so a rerun hears
    nothing twice."""
    work = Path(out_dir) / WORK_DIR
    return Verifier(
        config,
        store,
        SegmentStore(work / "takes"),
        work / "verify",
        language=language,
        threads=threads,
    )


def verify_book(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    out_dir: Path,
    config: PipelineConfig,
    language: str,
    emit: ProgressCallback | None = None,
) -> tuple[ChapterSpeech, ...]:
    """Speech verification of every chapter in this process (:mod:`pipeline.verify`), or
    ``()`` when ``config.verify.enabled`` is off. Emits "verify" progress in segments.
    Raises :class:`pipeline.errors.EngineError` when the ASR model or a voice fails."""
    if not config.verify.enabled:
        return ()
    emit = emit or (lambda _event: None)
    check = verifier(store, out_dir, config, language)
    total = len({s.id for p in plans for s in p.segments})
    done = 0

    def heard(_check: object) -> None:
        nonlocal done
        done += 1
        emit(ProgressEvent("verify", done, total, "segments"))

    emit(ProgressEvent("verify", 0, total, "segments"))
    return tuple(check.chapter(plan, heard) for plan in plans)


def finish_book(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    metadata: BookMetadata,
    cover: Cover | None,
    out_dir: Path,
    config: PipelineConfig,
    analysis: BookAnalysis,
    stats: GenerationStats,
    emit: ProgressCallback | None = None,
    reuse: ChapterReuse | None = None,
    speech: Sequence[ChapterSpeech] = (),
) -> tuple[AssembledBook, ValidationReport, Path]:
    """The stages after generate and verify: assemble every chapter from ``store`` into
    ``out_dir`` (restoring those ``reuse`` kept from an earlier conversion: see
    :func:`pipeline.assemble.assemble_book`), validate the encoded files and write
    ``out_dir/report.json`` (with ``speech``, the chapters' verification). Raises :class:`pipeline.errors.EncodingError` when a segment
    is missing or an encoder fails."""
    emit = emit or (lambda _event: None)
    emit(ProgressEvent("assemble", 0, len(plans), "chapters"))
    started = time.monotonic()
    outputs = assemble_book(
        plans,
        store,
        metadata,
        cover,
        out_dir,
        config,
        narrator=narrator_credit(config),
        progress=lambda done, total: emit(ProgressEvent("assemble", done, total, "chapters")),
        reuse=reuse,
    )
    report, report_path = _validate_and_report(
        outputs,
        plans,
        out_dir,
        config,
        analysis,
        stats,
        emit,
        started,
        time.monotonic(),
        speech=speech,
    )
    return outputs, report, report_path


def _validate_and_report(
    outputs: AssembledBook,
    plans: Sequence[ChapterPlan],
    out_dir: Path,
    config: PipelineConfig,
    analysis: BookAnalysis,
    stats: GenerationStats,
    emit: ProgressCallback,
    generated: float,
    assembled: float,
    chapter_reports: Sequence[ChapterReport] = (),
    speech: Sequence[ChapterSpeech] = (),
) -> tuple[ValidationReport, Path]:
    """Validate (the chapters not in ``chapter_reports``, and the M4B) and write
    ``report.json``; ``generated``/``assembled`` are the monotonic times synthesis and
    assembly ended."""
    emit(ProgressEvent("validate", 0, 1))
    report = validate_book(outputs, plans, config, chapter_reports, speech)
    timings = {
        "generate_s": round(stats.wall_s, 2),
        "assemble_after_generate_s": round(assembled - generated, 2),
        "validate_after_assemble_s": round(time.monotonic() - assembled, 2),
    }
    report_path = write_report(out_dir / "report.json", analysis, stats, report, timings)
    emit(ProgressEvent("validate", 1, 1))
    return report, report_path


def with_credits(
    plans: Sequence[ChapterPlan], whole: Book, config: PipelineConfig, language: str
) -> tuple[ChapterPlan, ...]:
    """``plans`` between opening credits (chapter 0) and closing credits (the chapter after
    the book's last), read by the narrator without a spoken title (ACX: opening and
    closing credits; :mod:`pipeline.credits`)."""
    narrator = spoken_narrator(config)
    last = max((c.index for c in whole.chapters), default=0)
    credits = (
        opening_credits(whole.metadata, narrator),
        closing_credits(whole.metadata, narrator, last + 1),
    )
    quiet = config.model_copy(update={"speak_chapter_titles": False})
    opening, closing = plan_chapters(replace(whole, chapters=credits), language, quiet, {})
    return (opening, *plans, closing)


def spoken_narrator(config: PipelineConfig) -> str:
    """The narrator as the credits read it aloud: a Piper voice id ("en_US-joe-medium")
    as "Joe, a Piper voice"; a Qwen3-TTS speaker as "<Name>, a Qwen3-TTS voice"; a cloned
    voice as "a cloned Qwen3-TTS voice"."""
    voice = config.voice
    if voice.engine == "piper":
        parts = Path(voice.narrator).stem.split("-")
        name = parts[1] if len(parts) == 3 else parts[0]
        return f"{name.replace('_', ' ').title()}, a Piper voice"
    if voice.narrator:
        return f"{voice.narrator.title()}, a Qwen3-TTS voice"
    return "a cloned Qwen3-TTS voice"


def narrator_credit(config: PipelineConfig) -> str:
    """The narrator credit written into the M4B's composer tag, e.g. "Piper en_US-joe-medium"."""
    return f"{config.voice.engine.capitalize()} {Path(config.voice.narrator).stem}"


def parse_at_level(source: str | Path, split_level: int | None = None) -> Book:
    """Parse ``source`` with its tracks made at ``split_level`` (``None``: the default).
    Raises :class:`pipeline.errors.LayoutError` for a level the book does not have, and
    the parser's :class:`pipeline.errors.InputError` subclasses."""
    book = parse_file(source)
    if split_level is None:
        return book
    structure.check_level(structure.outline(book.sections), split_level)
    return structure.apply_layout(book, structure.Layout(split_level=split_level))


def select_chapters(book: Book, spec: str | None) -> Book:
    """``book`` with only the chapters ``spec`` selects (indices kept as in the book)."""
    chosen = parse_chapter_selection(spec, len(book.chapters))
    if chosen is None:
        return book
    return replace(book, chapters=tuple(c for c in book.chapters if c.index in chosen))


def _generate(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    config: PipelineConfig,
    jobs: int,
    workers: ProcessPoolExecutor | None,
    emit: ProgressCallback,
    also: SegmentCallback | None = None,
) -> GenerationStats:
    segments = [seg for plan in plans for seg in plan.segments]
    total_chars = sum(len(s.text) for s in pending_segments(segments, store))
    done = 0

    def on_segment(seg: Segment, duration_s: float) -> None:
        nonlocal done
        done += len(seg.text)
        emit(ProgressEvent("generate", done, total_chars, "chars", f"chapter {seg.chapter_index}"))
        if also:
            also(seg, duration_s)

    emit(ProgressEvent("generate", 0, total_chars, "chars"))
    return generate(
        segments, store, config.voices(), jobs=jobs, pool=workers, on_segment=on_segment
    )


def _master_and_validate(
    plan: ChapterPlan,
    store: SegmentStore,
    out_dir: Path,
    config: PipelineConfig,
    book: BookInfo,
    rate_hz: int,
    m4b_feed: bool,
    language: str,
) -> tuple[MasteredChapter, ChapterReport | None, ChapterSpeech | None]:
    """Runs in a synthesis process: verify one chapter's speech (retakes synthesized here,
    one thread, like the synthesis beside it; None when verification is off), master it,
    then validate its chapter file (None when only the M4B is written; validate_book
    measures the M4B then)."""
    speech = None
    if config.verify.enabled:
        speech = verifier(store, out_dir, config, language, threads=1).chapter(plan)
    chapter = master_chapter(plan, store, out_dir, config, book, rate_hz=rate_hz, m4b_feed=m4b_feed)
    fmt = next((f for f in CHAPTER_FILE_PREFERENCE if f in chapter.files), None)
    report = validate_chapter(chapter.files[fmt], plan, config) if fmt else None
    return chapter, report, speech


class _PoolMastering:
    """Verifies, masters and validates each chapter in the synthesis pool as soon as every
    segment of it is stored, and adds the results to ``assembler`` in reading order.

    :meth:`segment_stored` is called (on the generating thread) after each stored
    segment; it submits newly complete chapters and adds finished ones, re-raising a
    chapter's error there, which stops generation. :meth:`finish` waits for the rest and
    returns the chapter reports in order. Assemble progress is emitted once synthesis is
    over (a stage bar that switched back and forth would help nobody).
    """

    def __init__(
        self,
        plans: Sequence[ChapterPlan],
        store: SegmentStore,
        assembler: BookAssembler,
        pool: ProcessPoolExecutor,
        emit: ProgressCallback,
        language: str = "en",
    ):
        self._plans, self._store, self._assembler, self._pool, self._emit = (
            plans,
            store,
            assembler,
            pool,
            emit,
        )
        self._language = language
        self._speech: list[ChapterSpeech] = []
        stored = store.stored_ids()
        self._waiting = {
            p.index: {s.id for s in p.segments} - stored for p in plans
        }  # chapters not yet submitted
        self._futures: dict[int, Future] = {}
        self._reports: list[ChapterReport | None] = []
        self._submit_ready()

    def _submit_ready(self) -> None:
        for plan in self._plans:
            if plan.index in self._waiting and not self._waiting[plan.index]:
                del self._waiting[plan.index]
                self._futures[plan.index] = self._pool.submit(
                    _master_and_validate,
                    plan,
                    self._store,
                    self._assembler.out_dir,
                    self._assembler.config,
                    self._assembler.info,
                    self._assembler.rate_hz,
                    self._assembler.wants_m4b,
                    self._language,
                )

    def segment_stored(self, seg: Segment, _duration_s: float = 0.0) -> None:
        for waiting in self._waiting.values():
            waiting.discard(seg.id)
        self._submit_ready()
        self._add_finished(wait=False)

    def _add_finished(self, wait: bool) -> None:
        while (done := self._assembler.done) < len(self._plans):
            future = self._futures.get(self._plans[done].index)
            if future is None or not (wait or future.done()):
                return
            chapter, report, speech = future.result()
            self._assembler.add(chapter)
            self._reports.append(report)
            if speech is not None:
                self._speech.append(speech)
            if wait:
                self._emit(ProgressEvent("assemble", done + 1, len(self._plans), "chapters"))

    def finish(self) -> tuple[list[ChapterReport], list[ChapterSpeech]]:
        """Wait for every chapter; return the chapter reports (empty when only the M4B
        is written) and the chapters' speech verification (empty when it is off)."""
        self._submit_ready()
        self._emit(ProgressEvent("assemble", self._assembler.done, len(self._plans), "chapters"))
        self._add_finished(wait=True)
        return [r for r in self._reports if r is not None], self._speech


def write_report(
    path: Path,
    analysis: BookAnalysis,
    stats: GenerationStats,
    report: ValidationReport,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write ``report.json`` atomically: the validation report plus book and
    generation summaries (segments synthesized vs reused, real-time factor) and the
    wall seconds of the generate, assemble and validate stages."""
    data = report.to_dict()
    data["book"] = {
        "title": analysis.title,
        "author": analysis.author,
        "language": analysis.language,
        "words": analysis.words,
        "estimated_duration_s": analysis.estimated_duration_s,
    }
    data["generation"] = {**asdict(stats), "real_time_factor": round(stats.real_time_factor, 2)}
    data["timings"] = timings or {}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
