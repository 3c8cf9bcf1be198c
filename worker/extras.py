"""The extras of a job's audiobook, written by the ``assemble`` task once the audio is
assembled, and uploaded beside it (:func:`publish_extras`).

By the job's ``config.output`` (:class:`pipeline.config.OutputConfig`), with
:func:`pipeline.extras.write_extras` into the task's local out folder:

* subtitles: ``output/subtitles/NN - <title>.vtt`` and ``.srt`` per chapter (purpose
  ``subtitles``, ``text/vtt`` and ``application/x-subrip``);
* the read-along EPUB: ``output/<slug>.readalong.epub`` (``readalong``,
  ``application/epub+zip``), for an EPUB manuscript when chapter MP3s were written (the
  manuscript is fetched from storage for it);
* the retail sample: ``output/sample.mp3`` (``sample``, ``audio/mpeg``);
* the Audiobookshelf folder: ``output/abs.zip`` (``abs``, ``application/zip``), one ZIP
  whose paths are ``<Author>/<Title>/...`` (``<Author>/<Series>/<Title>/...`` for a
  series; :mod:`pipeline.export_abs`), audio and cover stored as they are, text deflated.

Cues time every chapter's sentences from its stored segments, so subtitles and the
read-along need every chapter's segments locally: the assemble task fetched only those
of the chapters its chapter cache lacked, the rest are fetched here first.

The Audiobookshelf folder needs an M4B or MP3s (:mod:`pipeline.extras` skips it
otherwise); a retail sample without chapter files is refused by the config itself.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from audiobook_app.db import repo
from audiobook_app.db.models import FilePurpose
from audiobook_app.db.session import retrying, session_scope
from pipeline.assemble import AssembledBook
from pipeline.config import PipelineConfig
from pipeline.encode import safe_filename
from pipeline.export_abs import ABS_DIR
from pipeline.extras import write_extras
from pipeline.models import BookMetadata, ChapterPlan, Cover, SourceFormat
from pipeline.store import SegmentStore
from worker.context import TaskContext

log = logging.getLogger(__name__)

Upload = tuple[Path, str, FilePurpose, str]  # (local file, name under output/, purpose, MIME)
SUBTITLE_MIME = {".vtt": "text/vtt", ".srt": "application/x-subrip"}
EPUB_MIME = "application/epub+zip"
SAMPLE_NAME, SAMPLE_MIME = "sample.mp3", "audio/mpeg"
ABS_ZIP, ZIP_MIME = "abs.zip", "application/zip"
# Already compressed: stored as they are in abs.zip (deflating them gains nothing)
STORED_SUFFIXES = frozenset({".mp3", ".m4b", ".m4a", ".jpg", ".jpeg", ".png", ".flac"})


@dataclass(frozen=True)
class SourceInfo:
    """Where a job's manuscript is: its storage ``key``, ``filename`` and ``format``
    (a :class:`pipeline.models.SourceFormat` value; None before the book was read)."""

    key: str
    filename: str
    format: str | None


def book_source(ctx: TaskContext) -> SourceInfo:
    """The manuscript of the task's job's book, from the book row."""

    def read() -> SourceInfo:
        with session_scope(ctx.settings.database_url) as session:
            book = repo.get_book(session, ctx.job.book_id)
            return SourceInfo(book.source_key, book.source_filename, book.source_format)

    return retrying(read)


def publish_extras(
    ctx: TaskContext,
    plans: Sequence[ChapterPlan],
    store: SegmentStore,
    outputs: AssembledBook,
    config: PipelineConfig,
    doc: dict,
    work: Path,
    source: SourceInfo | None,
) -> list[Upload]:
    """Write the extras ``config.output`` asks for into ``work/out`` (where the assemble
    task wrote ``outputs`` from ``plans``) and return them as the assemble task's uploads
    ``(path, name under output/, purpose, MIME)`` (see the module docstring). ``doc`` is
    the job's plan document (metadata, cover), ``store`` the local segment store under
    ``work/segments`` (completed here when cues are needed), ``source`` the manuscript
    (:func:`book_source`; needed for the read-along EPUB only).

    Raises :class:`pipeline.errors.JobCancelledError` when the job was cancelled,
    :class:`pipeline.errors.StorageError` when a download fails,
    :class:`pipeline.errors.EncodingError` when a segment is missing or LAME fails and
    :class:`pipeline.errors.ReadAlongError` for an unreadable EPUB manuscript."""
    want = config.output
    ctx.check_cancelled()
    epub = source is not None and source.format == SourceFormat.EPUB
    readalong = want.readalong and epub and bool(outputs.files.get("mp3"))
    if want.subtitles or readalong:
        from worker.tasks import _fetch_segments  # worker.tasks imports this module

        store = _fetch_segments(ctx, plans, work)  # what the chapter cache spared
    manuscript = None
    if readalong and source is not None:
        name = safe_filename(PurePath(source.filename).name or "manuscript.epub")
        manuscript = ctx.storage.get_file(source.key, work / "source" / name)
    cover = doc.get("cover")
    out = work / "out"
    extras = write_extras(
        plans,
        store,
        outputs,
        config,
        out,
        metadata=BookMetadata(**doc["metadata"]),
        cover=Cover(ctx.storage.get_bytes(cover["key"]), cover["mime"]) if cover else None,
        source=manuscript,
        source_format=SourceFormat.EPUB if manuscript is not None else None,
    )
    uploads: list[Upload] = [
        (p, f"subtitles/{p.name}", FilePurpose.SUBTITLES, SUBTITLE_MIME[p.suffix])
        for p in extras.subtitles
    ]
    if extras.readalong is not None:
        uploads.append((extras.readalong, extras.readalong.name, FilePurpose.READALONG, EPUB_MIME))
    if extras.retail_sample is not None:
        uploads.append((extras.retail_sample, SAMPLE_NAME, FilePurpose.SAMPLE, SAMPLE_MIME))
    if extras.audiobookshelf is not None:
        shelf = zip_folder(out / ABS_DIR, work / ABS_ZIP)
        uploads.append((shelf, ABS_ZIP, FilePurpose.ABS, ZIP_MIME))
    return uploads


def zip_folder(root: Path, zip_path: Path) -> Path:
    """Write every file under ``root`` into the ZIP ``zip_path``, named by its path
    relative to ``root`` (``/``-separated, sorted), and return ``zip_path``. Files whose
    suffix is in :data:`STORED_SUFFIXES` are stored, the rest deflated. Raises
    FileNotFoundError when ``root`` is not a folder, ValueError when it holds no file."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"folder to zip not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"nothing to zip in {root}")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in files:
            stored = path.suffix.lower() in STORED_SUFFIXES
            archive.write(
                path,
                path.relative_to(root).as_posix(),
                compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
            )
    return zip_path
