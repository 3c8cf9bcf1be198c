"""Export a finished book as an Audiobookshelf library folder.

Audiobookshelf (ABS) takes a book's metadata from its folder path, its audio files' tags
and a few side files. The layout written here follows its documentation
(https://www.audiobookshelf.org/docs#book-directory-structure: ``{Author}/{Series}/{Book}``
or ``{Author}/{Book}``, one book per folder) and its scanner
(advplyr/audiobookshelf, server/scanner/LibraryItemScanData.js: ``desc.txt`` is the
description, ``reader.txt`` the narrator; an image in the folder is the cover)::

    out_dir/abs/<Author>/[<Series>/]<Title>/
        <Title>.m4b                 the M4B when there is one, else the chapter MP3s
        cover.jpg                   the cover, JPEG (a PNG cover is converted)
        desc.txt                    the description, when there is one
        reader.txt                  the narrator

Audio files are hard links to the finished files (a copy where the export folder is on
another file system), so an export costs no space. Encoders replace their files by
rename, so a later conversion never changes what an export links to. The tags inside
the audio (album = title, artist = author, composer = narrator, the series) are written
by :mod:`pipeline.encode`; this module writes none.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pipeline.encode import safe_filename
from pipeline.models import Cover

ABS_DIR = "abs"  # the export's library root inside an output folder
JPEG_QUALITY = 92  # Pillow's scale (1-95); cover art is viewed small, 92 is visually lossless
_JPEG_MAGIC = b"\xff\xd8\xff"


def abs_book_dir(out_dir: Path, *, title: str, author: str, series: str | None = None) -> Path:
    """Where :func:`export_audiobookshelf` puts a book: ``out_dir/abs/<Author>/<Title>``, or
    ``out_dir/abs/<Author>/<Series>/<Title>`` with a series; every name made safe on
    Linux, macOS and Windows by :func:`pipeline.encode.safe_filename`. Raises ValueError
    for a blank title or author."""
    if not title.strip() or not author.strip():
        raise ValueError(
            f"an Audiobookshelf folder needs a title and an author (got {title!r}, {author!r})"
        )
    root = Path(out_dir) / ABS_DIR / safe_filename(author)
    if series and series.strip():
        root /= safe_filename(series)
    return root / safe_filename(title)


def cover_jpeg(cover: Cover) -> bytes:
    """The cover as JPEG bytes: JPEG data as it is, PNG decoded with Pillow, transparency
    laid over white, and saved as baseline JPEG (quality :data:`JPEG_QUALITY`). Raises
    ValueError for another MIME type or for data that is not the image its type says."""
    if cover.mime == "image/jpeg":
        if not cover.data.startswith(_JPEG_MAGIC):
            raise ValueError("the cover is labelled image/jpeg but is not JPEG data")
        return cover.data
    if cover.mime != "image/png":
        raise ValueError(f"cover type {cover.mime!r} is not supported (JPEG or PNG)")
    try:
        with Image.open(io.BytesIO(cover.data), formats=["PNG"]) as img:
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"the cover is labelled image/png but cannot be read: {exc}") from None
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    flat.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` as ``dst``; copy where linking fails (another file system, or one
    without hard links)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _audio_files(
    m4b: Path | None, chapter_files: Sequence[Path], title: str
) -> list[tuple[Path, str]]:
    """(source, name in the book folder) for each audio file to export."""
    if m4b is not None:
        sources = [(Path(m4b), f"{safe_filename(title)}.m4b")]
    else:
        sources = [(Path(p), Path(p).name) for p in chapter_files]
    if not sources:
        raise ValueError("nothing to export: no M4B and no chapter files")
    names = [name for _, name in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"chapter files share a name: {sorted(names)}")
    for src, _ in sources:
        if not src.is_file():
            raise FileNotFoundError(f"audio file to export not found: {src}")
    return sources


def _swap_in(staged: Path, final: Path) -> None:
    """Put the folder ``staged`` in place of ``final`` (which may not exist): two renames
    on one file system, so ``final`` is missing only between them and is never a mix of
    the old and new content."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    try:
        os.replace(staged, final)
    except OSError:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_audiobookshelf(
    out_dir: Path,
    *,
    title: str,
    author: str,
    narrator: str,
    m4b: Path | None,
    chapter_files: Sequence[Path],
    cover: Cover | None,
    description: str | None,
    series: str | None = None,
    series_part: str | None = None,
) -> Path:
    """Write the book's Audiobookshelf folder (see the module docstring) and return it.

    The folder is :func:`abs_book_dir`; it holds ``m4b`` when given (named
    ``<Title>.m4b``), else ``chapter_files`` under their own names (the assembler's
    ``NN - <chapter>.mp3``, which ABS orders by track tag and number), ``cover.jpg``
    (:func:`cover_jpeg`), ``desc.txt`` (``description``, when not blank) and
    ``reader.txt`` (``narrator``, when not blank), text as UTF-8. ``series_part`` is
    not in the path: ABS reads it from the audio tags (:class:`pipeline.encode.Tags`),
    which take precedence over folder names in its default metadata order.

    The content is built in a hidden folder beside the final one and swapped in, so a
    re-export replaces everything (files of an earlier export are gone) and a failed
    export leaves the earlier one as it was.

    Raises ValueError for a blank title or author, a ``series_part`` without a
    ``series``, no audio to export, chapter files with the same name or an unusable
    cover; FileNotFoundError for a missing audio file.
    """
    if series_part and not (series and series.strip()):
        raise ValueError(f"series part {series_part!r} given without a series")
    final = abs_book_dir(out_dir, title=title, author=author, series=series)
    sources = _audio_files(m4b, chapter_files, title)
    jpeg = cover_jpeg(cover) if cover is not None else None
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    try:
        for src, name in sources:
            _link_or_copy(src, staged / name)
        if jpeg is not None:
            (staged / "cover.jpg").write_bytes(jpeg)
        if description and description.strip():
            (staged / "desc.txt").write_text(description.strip() + "\n", encoding="utf-8")
        if narrator.strip():
            (staged / "reader.txt").write_text(narrator.strip() + "\n", encoding="utf-8")
        staged.chmod(0o755)  # mkdtemp makes it 0700; the folder is for a server to read
        _swap_in(staged, final)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staged)
        raise
    return final
