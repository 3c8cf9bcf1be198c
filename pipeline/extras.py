"""What a conversion writes besides the audio, once it is assembled.

By ``config.output`` (see :class:`pipeline.config.OutputConfig`), into the output folder:

* ``subtitles/NN - <title>.vtt`` and ``.srt``: each chapter's sentences timed on its
  chapter file (:mod:`pipeline.cues`);
* ``<slug>.readalong.epub``: for EPUB input, an EPUB 3 with Media Overlays that highlights
  each sentence as it is read (:mod:`pipeline.readalong`);
* ``abs/<Author>/<Title>/``: the book as Audiobookshelf scans it, when an M4B or MP3s
  were written (:mod:`pipeline.export_abs`);
* ``sample.mp3``: the retail sample, the first 5 minutes after the opening credits, cut
  from the chapter files (:mod:`pipeline.credits`; the config refuses it without them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.assemble import AssembledBook, master_rate
from pipeline.config import PipelineConfig
from pipeline.credits import OPENING_TITLE, write_retail_sample
from pipeline.cues import Cue, chapter_cues, write_subtitles
from pipeline.encode import safe_filename, slugify
from pipeline.export_abs import export_audiobookshelf
from pipeline.models import BookMetadata, ChapterPlan, Cover, SegmentKind, SourceFormat
from pipeline.readalong import ReadAlongChapter, build_readalong_epub
from pipeline.store import SegmentStore

SUBTITLES_DIR = "subtitles"


@dataclass(frozen=True)
class Extras:
    """The files :func:`write_extras` wrote (empty / None for those not asked for)."""

    subtitles: tuple[Path, ...] = ()
    readalong: Path | None = None
    audiobookshelf: Path | None = None
    retail_sample: Path | None = None


def book_cues(
    plans: Sequence[ChapterPlan], store: SegmentStore, config: PipelineConfig
) -> list[list[Cue]]:
    """Each chapter's sentence cues (:func:`pipeline.cues.chapter_cues`), in plan order,
    timed on the chapter files assembly wrote from ``store``. Raises
    :class:`pipeline.errors.EncodingError` when a segment is not stored."""
    rate = master_rate(plans, store)
    return [chapter_cues(plan, store, config, rate) for plan in plans]


def write_extras(
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    outputs: AssembledBook,
    config: PipelineConfig,
    out_dir: Path,
    *,
    metadata: BookMetadata | None = None,
    cover: Cover | None = None,
    source: Path | None = None,
    source_format: SourceFormat | None = None,
) -> Extras:
    """Write the extras ``config.output`` asks for into ``out_dir`` (see the module doc)
    for the book assembly just wrote (``outputs``) from ``store``. The read-along needs
    the ``source`` EPUB and the chapter MP3s (it is skipped for other input, or when no
    MP3 was written). Raises :class:`pipeline.errors.EncodingError` when a segment is not
    stored and :class:`pipeline.errors.ReadAlongError` when the source EPUB is unreadable."""
    out_dir = Path(out_dir)
    want = config.output
    cues = book_cues(plans, store, config) if want.subtitles or want.readalong else []
    subtitles: list[Path] = []
    if want.subtitles:
        for plan, chapter in zip(plans, cues):
            subtitles.extend(write_subtitles(chapter, out_dir / SUBTITLES_DIR, chapter_stem(plan)))
    readalong = None
    mp3s = outputs.files.get("mp3", ())
    if want.readalong and source is not None and source_format is SourceFormat.EPUB and mp3s:
        chapters = [
            ReadAlongChapter(plan.title, mp3, duration, _body_cues(plan, chapter))
            for plan, mp3, duration, chapter in zip(plans, mp3s, outputs.durations_s, cues)
        ]
        readalong = build_readalong_epub(
            source,
            chapters,
            out_dir / f"{slugify(outputs.book_title)}.readalong.epub",
            narrator=outputs.narrator,
        )
    chapter_files = next(
        (outputs.files[f] for f in ("mp3", "flac", "wav") if outputs.files.get(f)), ()
    )
    sample = None
    if want.retail_sample:
        narration = [p for p, t in zip(chapter_files, outputs.titles) if t != OPENING_TITLE]
        sample = write_retail_sample(narration, out_dir / "sample.mp3", kbps=want.mp3_bitrate_kbps)
    shelf = None
    if want.audiobookshelf and (outputs.m4b is not None or outputs.files.get("mp3")):
        meta = metadata or BookMetadata()
        shelf = export_audiobookshelf(
            out_dir,
            title=outputs.book_title,
            author=outputs.author,
            narrator=outputs.narrator,
            m4b=outputs.m4b,
            chapter_files=outputs.files.get("mp3", ()) if outputs.m4b is None else (),
            cover=cover,
            description=meta.description,
            series=meta.series,
            series_part=meta.series_part,
        )
    return Extras(
        subtitles=tuple(subtitles),
        readalong=readalong,
        audiobookshelf=shelf,
        retail_sample=sample,
    )


def _body_cues(plan: ChapterPlan, cues: Sequence[Cue]) -> list[Cue]:
    """``cues`` without the spoken chapter title (the read-along shows it as the heading),
    unless nothing else is left."""
    titles = {s.index for s in plan.segments if s.kind is SegmentKind.TITLE}
    body = [c for c in cues if c.segment_index not in titles]
    if body and titles and not any(c.new_paragraph for c in body[:1]):
        body[0] = replace(body[0], new_paragraph=True)
    return body or list(cues)


def chapter_stem(plan: ChapterPlan) -> str:
    """``NN - <title>``, the name every chapter file has (see
    :func:`pipeline.assemble.chapter_file`)."""
    return f"{plan.index:02d} - {safe_filename(plan.title)}"
