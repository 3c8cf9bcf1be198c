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
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipeline.analyze import analyze
from pipeline.annotate import annotate_chapter
from pipeline.assemble import AssembledBook, assemble_book
from pipeline.config import WORK_DIR, PipelineConfig
from pipeline.errors import ChapterSelectionError
from pipeline.generate import GenerationStats, generate, pending_segments, start_workers
from pipeline.models import Book, BookAnalysis, BookMetadata, ChapterPlan, Cover, Segment
from pipeline.parse import parse_file
from pipeline.segment import segment_chapter
from pipeline.store import SegmentStore
from pipeline.tts import engine_settings
from pipeline.validate import ValidationReport, validate_book

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
    Assembly starts when synthesis has finished. Assembling each chapter on a thread
    beside synthesis was measured and dropped: on 2 cores that synthesis keeps busy it
    slowed synthesis by more than it saved (Alice: throughput 0.743x and, at nice 10,
    0.688x raw Piper, against 0.784x for this order, same machine, same hour). Raises
    :class:`pipeline.errors.InputError` subclasses for bad input and other
    :class:`pipeline.errors.AudiobookError` subclasses for engine/encoder failures.
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
        stats = _generate(plans, store, config, jobs, workers, emit)
    finally:
        if workers is not None:
            workers.shutdown(cancel_futures=True)
    outputs, report, report_path = finish_book(
        plans, store, book.metadata, book.cover, out_dir, config, analysis, stats, emit
    )
    return ConvertResult(analysis, plans, stats, outputs, report, report_path, time.monotonic() - started)


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
) -> GenerationStats:
    segments = [seg for plan in plans for seg in plan.segments]
    total_chars = sum(len(s.text) for s in pending_segments(segments, store))
    done = 0

    def on_segment(seg: Segment, _duration_s: float) -> None:
        nonlocal done
        done += len(seg.text)
        emit(ProgressEvent("generate", done, total_chars, "chars", f"chapter {seg.chapter_index}"))

    emit(ProgressEvent("generate", 0, total_chars, "chars"))
    return generate(segments, store, config.voice, jobs=jobs, pool=workers, on_segment=on_segment)


def write_report(path: Path, analysis: BookAnalysis, stats: GenerationStats, report: ValidationReport,
                 timings: dict[str, float] | None = None) -> Path:
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
