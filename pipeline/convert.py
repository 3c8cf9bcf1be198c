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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipeline.analyze import analyze
from pipeline.annotate import annotate_chapter
from pipeline.assemble import AssembledBook, BookAssembler, assemble_book
from pipeline.config import WORK_DIR, PipelineConfig
from pipeline.errors import ChapterSelectionError
from pipeline.generate import GenerationStats, SegmentCallback, generate, pending_segments, start_workers
from pipeline.models import Book, BookAnalysis, BookMetadata, ChapterPlan, Cover, Segment
from pipeline.parse import parse_file
from pipeline.segment import segment_chapter
from pipeline.store import SegmentStore
from pipeline.tts import engine_settings
from pipeline.validate import (
    CHAPTER_FILE_PREFERENCE, ChapterReport, ValidationReport, validate_book, validate_chapter,
)

STAGES = ("parse", "analyze", "annotate", "segment", "generate", "assemble", "validate")


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


def plan_chapters(book: Book, language: str, config: PipelineConfig) -> tuple[ChapterPlan, ...]:
    """Annotate and segment every chapter of ``book`` for the configured voice.

    The spoken title segment reads the normalized title ("Chapter Four"); the plan keeps
    the display title ("Chapter 4") for chapter markers and file names.
    """
    voice = config.voice
    settings = engine_settings(voice)
    plans = []
    for chapter in book.chapters:
        spoken = annotate_chapter(chapter, config.lexicon, language)
        plan = segment_chapter(spoken, config, engine=voice.engine, voice=voice.narrator, settings=settings)
        plans.append(replace(plan, title=chapter.title))
    return tuple(plans)


def convert(
    source: str | Path,
    out_dir: str | Path,
    config: PipelineConfig,
    *,
    chapters: str | None = None,
    jobs: int = 1,
    on_progress: ProgressCallback | None = None,
) -> ConvertResult:
    """Convert the manuscript at ``source`` into ``out_dir``.

    ``chapters`` is a selection such as ``"1-3,5"`` (1-based, as ``inspect`` lists them).
    Each chapter is assembled and validated as soon as its last segment is stored, on a
    thread beside the synthesis processes, so after synthesis only the last chapters,
    the M4B's index and its check remain. Raises :class:`pipeline.errors.InputError`
    subclasses for bad input and other :class:`pipeline.errors.AudiobookError`
    subclasses for engine/encoder failures.
    """
    started = time.monotonic()
    emit = on_progress or (lambda _event: None)
    out_dir = Path(out_dir)
    emit(ProgressEvent("parse", 0, 1))
    book = select_chapters(parse_file(source), chapters)
    workers = start_workers(config.voice, jobs)  # voice loading overlaps analyze/segment
    try:
        analysis, plans = plan_book(book, config, emit)
        store = SegmentStore(out_dir / WORK_DIR / "segments")
        assembler = BookAssembler(plans, book.metadata, book.cover, out_dir, config, narrator=narrator_credit(config))
        with _ChapterFinisher(plans, store, assembler, config) as finisher:
            stats = _generate(plans, store, config, jobs, workers, emit, finisher.segment_stored)
            workers = _shutdown(workers)
            generated = time.monotonic()
            outputs, chapter_reports = finisher.finish(emit)
    finally:
        _shutdown(workers)
    assembled = time.monotonic()
    emit(ProgressEvent("validate", 0, 1))
    report = validate_book(outputs, plans, config, chapter_reports)
    timings = {"generate_s": round(stats.wall_s, 2), "assemble_after_generate_s": round(assembled - generated, 2),
               "validate_after_assemble_s": round(time.monotonic() - assembled, 2)}
    report_path = write_report(out_dir / "report.json", analysis, stats, report, timings)
    emit(ProgressEvent("validate", 1, 1))
    return ConvertResult(analysis, plans, stats, outputs, report, report_path, time.monotonic() - started)


def _shutdown(workers: ProcessPoolExecutor | None) -> None:
    if workers is not None:
        workers.shutdown(cancel_futures=True)


# Niceness of the assembly thread (and the encoder threads it starts, which inherit it):
# on a machine whose cores synthesis keeps busy, assembly then mostly runs in the gaps
# and after synthesis, instead of slowing every synthesis process down.
ASSEMBLY_NICE = 10


def _lower_thread_priority(nice: int) -> None:
    """Set the calling thread's niceness to ``nice`` (Linux: per thread); no-op elsewhere."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):
        pass


class _ChapterFinisher:
    """Assembles (and validates) chapters on a thread, in order, as soon as every segment
    of the next chapter is in the store, while synthesis goes on in its processes.

    :meth:`segment_stored` is called by the generating thread after each stored segment;
    it re-raises an assembly error there, which stops generation. :meth:`finish` waits for
    the last chapter and closes the book. Leaving the ``with`` block early stops the
    thread after its current chapter and aborts the unfinished files.
    """

    def __init__(self, plans: Sequence[ChapterPlan], store: SegmentStore, assembler: BookAssembler,
                 config: PipelineConfig):
        self._plans, self._store, self._assembler, self._config = plans, store, assembler, config
        stored = store.stored_ids()
        self._waiting = [{s.id for s in p.segments} - stored for p in plans]  # ids not yet stored, per chapter
        self._ready = 0  # chapters whose segments are all stored (a prefix of plans)
        self._reports: list[ChapterReport] = []
        self._error: BaseException | None = None
        self._stop = False
        self._changed = threading.Condition()
        self._advance()
        self._thread = threading.Thread(target=self._run, name="assemble", daemon=True)

    def __enter__(self) -> "_ChapterFinisher":
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            with self._changed:
                self._stop = True
                self._changed.notify_all()
            self._thread.join()
            self._assembler.abort()

    def _advance(self) -> None:
        while self._ready < len(self._plans) and not self._waiting[self._ready]:
            self._ready += 1

    def segment_stored(self, seg: Segment, _duration_s: float = 0.0) -> None:
        """Note that ``seg`` is stored; wake the assembler when the next chapter is complete."""
        with self._changed:
            if self._error is not None:
                raise self._error
            for waiting in self._waiting[self._ready:]:
                waiting.discard(seg.id)
            before = self._ready
            self._advance()
            if self._ready != before:
                self._changed.notify_all()

    def _run(self) -> None:
        _lower_thread_priority(ASSEMBLY_NICE)  # synthesis first; assembly takes the idle CPU
        for i, plan in enumerate(self._plans):
            with self._changed:
                self._changed.wait_for(lambda: self._ready > i or self._stop)
                if self._stop:
                    return
            try:
                files = self._assembler.add_next(self._store)
                fmt = next((f for f in CHAPTER_FILE_PREFERENCE if f in files), None)
                report = validate_chapter(files[fmt], plan, self._config) if fmt else None
            except BaseException as exc:  # noqa: BLE001 - handed to the generating thread
                with self._changed:
                    self._error = exc
                    self._changed.notify_all()
                return
            with self._changed:
                if report is not None:
                    self._reports.append(report)
                self._changed.notify_all()

    def finish(self, emit: ProgressCallback) -> tuple[AssembledBook, list[ChapterReport]]:
        """Wait for every chapter (emitting "assemble" progress), then close the M4B.
        Returns the book and the chapter reports made so far. Raises the assembly error."""
        total = len(self._plans)
        with self._changed:
            self._ready = total  # generation is over: every segment is stored
            self._changed.notify_all()
        while True:
            done = self._assembler.done
            emit(ProgressEvent("assemble", done, total, "chapters"))
            with self._changed:
                self._changed.wait_for(lambda: self._assembler.done != done or self._error or not self._thread.is_alive(),
                                       timeout=1.0)
                if self._error is not None:
                    raise self._error
            if not self._thread.is_alive() and self._assembler.done == total:
                break
        self._thread.join()
        return self._assembler.close(), list(self._reports)


def plan_book(
    book: Book, config: PipelineConfig, emit: ProgressCallback | None = None
) -> tuple[BookAnalysis, tuple[ChapterPlan, ...]]:
    """The stages between parse and generate: analyze, then annotate + segment every
    chapter of ``book`` (already narrowed by :func:`select_chapters`)."""
    emit = emit or (lambda _event: None)
    emit(ProgressEvent("analyze", 0, 1))
    analysis = analyze(book, length_scale=config.voice.length_scale)
    emit(ProgressEvent("segment", 0, 1))
    return analysis, plan_chapters(book, analysis.language, config)


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
) -> tuple[AssembledBook, ValidationReport, Path]:
    """The stages after generate: assemble every chapter from ``store`` into ``out_dir``,
    validate the encoded files and write ``out_dir/report.json``. Raises
    :class:`pipeline.errors.EncodingError` when a segment is missing or an encoder fails."""
    emit = emit or (lambda _event: None)
    emit(ProgressEvent("assemble", 0, len(plans), "chapters"))
    started = time.monotonic()
    outputs = assemble_book(
        plans, store, metadata, cover, out_dir, config,
        narrator=narrator_credit(config),
        progress=lambda done, total: emit(ProgressEvent("assemble", done, total, "chapters")),
    )
    assembled = time.monotonic()
    emit(ProgressEvent("validate", 0, 1))
    report = validate_book(outputs, plans, config)
    timings = {"generate_s": round(stats.wall_s, 2), "assemble_s": round(assembled - started, 2),
               "validate_s": round(time.monotonic() - assembled, 2)}
    report_path = write_report(out_dir / "report.json", analysis, stats, report, timings)
    emit(ProgressEvent("validate", 1, 1))
    return outputs, report, report_path


def narrator_credit(config: PipelineConfig) -> str:
    """The narrator credit written into the M4B's composer tag, e.g. "Piper en_US-joe-medium"."""
    return f"{config.voice.engine.capitalize()} {Path(config.voice.narrator).stem}"


def select_chapters(book: Book, spec: str | None) -> Book:
    """``book`` with only the chapters ``spec`` selects (indices kept as in the book)."""
    chosen = parse_chapter_selection(spec, len(book.chapters))
    if chosen is None:
        return book
    kept = tuple(c for c in book.chapters if c.index in chosen)
    return Book(book.metadata, kept, book.source_format, book.cover, book.warnings)


def rename_chapters(book: Book, titles: dict[int, str]) -> Book:
    """``book`` with chapter titles replaced by ``titles`` (chapter index -> title; blank
    titles and unknown indices are ignored). Titles name files and chapter markers and
    are read aloud."""
    chapters = tuple(replace(c, title=titles[c.index].strip()) if titles.get(c.index, "").strip() else c
                     for c in book.chapters)
    return Book(book.metadata, chapters, book.source_format, book.cover, book.warnings)


def _generate(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    config: PipelineConfig,
    jobs: int,
    workers: ProcessPoolExecutor | None,
    emit: ProgressCallback,
    stored: SegmentCallback | None = None,
) -> GenerationStats:
    segments = [seg for plan in plans for seg in plan.segments]
    total_chars = sum(len(s.text) for s in pending_segments(segments, store))
    done = 0

    def on_segment(seg: Segment, duration_s: float) -> None:
        nonlocal done
        if stored:
            stored(seg, duration_s)
        done += len(seg.text)
        emit(ProgressEvent("generate", done, total_chars, "chars", f"chapter {seg.chapter_index}"))

    emit(ProgressEvent("generate", 0, total_chars, "chars"))
    return generate(segments, store, config.voice, jobs=jobs, pool=workers, on_segment=on_segment)


def write_report(path: Path, analysis: BookAnalysis, stats: GenerationStats, report: ValidationReport,
                 timings: dict[str, float] | None = None) -> Path:
    """Write ``report.json`` atomically: the validation report plus book and
    generation summaries (segments synthesized vs reused, real-time factor) and
    ``timings``: wall seconds per stage, named by the caller (``convert`` reports only
    the assembly and validation left after synthesis, since the rest overlaps it)."""
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
