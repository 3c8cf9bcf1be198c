"""ACX opening and closing credits, and the retail sample.

ACX's audio submission requirements ask for **opening credits** (at least the title, the
author and the narrator, read at the start of the book) and **closing credits** (at the
end, ending with "The end"); each is its own track. :func:`opening_credits` and
:func:`closing_credits` build them as :class:`~pipeline.models.Chapter`s from the book's
metadata, so they go through segmenting, synthesis and assembly like any chapter. Note
that with ``config.speak_chapter_titles`` the segment stage reads a chapter's title
aloud: segment credits with it off unless "Opening Credits" should be heard.

ACX also asks for a **retail sample**: 1 to 5 minutes of the narration, without the
credits and without explicit content, as an MP3 like the chapter files (CBR >= 192 kbps,
44.1 kHz, mono). :func:`write_retail_sample` takes the first ``seconds`` of the mastered
chapter files it is given; the caller chooses where it starts by the files it passes
(never the opening credits; a later chapter when the first ones are explicit).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from pathlib import Path

import av
import numpy as np
import soxr

from pipeline.audio import iter_blocks
from pipeline.encode import Mp3Writer, Tags
from pipeline.models import Block, BlockKind, BookMetadata, Chapter

OPENING_TITLE = "Opening Credits"
CLOSING_TITLE = "Closing Credits"
SAMPLE_RATE_HZ = 44100  # ACX: MP3 at 44.1 kHz
MIN_SAMPLE_S = 1.0  # less than this is no sample (ACX wants 1-5 minutes)
_SENTENCE_ENDS = (".", "!", "?", "…")


def _sentence(text: str) -> str:
    """``text`` with whitespace collapsed and a full stop added unless it ends a sentence."""
    text = " ".join(text.split())
    return text if text.endswith(_SENTENCE_ENDS) else f"{text}."


def _credit_lines(metadata: BookMetadata, narrator: str) -> list[str]:
    """The sentences after the title: series, author, narrator (blank ones left out)."""
    if not (metadata.title and metadata.title.strip()):
        raise ValueError("credits need the book's title (BookMetadata.title is empty)")
    if not narrator.strip():
        raise ValueError("credits need the narrator's name")
    lines = []
    series, part = (metadata.series or "").strip(), (metadata.series_part or "").strip()
    if series:
        lines.append(_sentence(f"{series}, book {part}" if part else f"From the series {series}"))
    if metadata.author and metadata.author.strip():
        lines.append(_sentence(f"Written by {metadata.author}"))
    lines.append(_sentence(f"Narrated by {narrator}"))
    return lines


def _credits_chapter(index: int, title: str, sentences: list[str]) -> Chapter:
    return Chapter(index, title, (Block(BlockKind.PARAGRAPH, " ".join(sentences)),))


def opening_credits(metadata: BookMetadata, narrator: str) -> Chapter:
    """The opening credits (ACX: title, author and narrator at the start) as chapter 0,
    titled :data:`OPENING_TITLE`, with one paragraph: "<Title>. [<Series>, book <part>.]
    [Written by <Author>.] Narrated by <Narrator>." (a series without a part: "From the
    series <Series>."; no author: that sentence left out).

    ``narrator`` is read aloud: pass a name a listener should hear, not a voice id.
    Raises ValueError when the title or the narrator is blank.
    """
    title = _sentence(metadata.title or "")
    return _credits_chapter(0, OPENING_TITLE, [title, *_credit_lines(metadata, narrator)])


def closing_credits(metadata: BookMetadata, narrator: str, index: int) -> Chapter:
    """The closing credits (ACX: at the end, ending with "The end") as chapter ``index``
    (the caller's: after the last chapter), titled :data:`CLOSING_TITLE`, with one
    paragraph: "This has been <Title>. [<Series>, book <part>.] [Written by <Author>.]
    Narrated by <Narrator>. The end." (series and author as :func:`opening_credits`).

    Raises ValueError when the title or the narrator is blank, or ``index`` < 1.
    """
    if index < 1:
        raise ValueError(f"closing credits come after the book's chapters (index {index})")
    lines = _credit_lines(metadata, narrator)
    title = _sentence(f"This has been {metadata.title}")
    return _credits_chapter(index, CLOSING_TITLE, [title, *lines, "The end."])


def _sample_tags(first: Path) -> Tags:
    """The sample's tags: those of the first chapter file as FFmpeg reads them (album,
    artist, composer = narrator, date, series), titled "<album> (sample)"."""
    with av.open(str(first)) as container:
        meta = dict(container.metadata)
    album = meta.get("album") or "Untitled"
    return Tags(
        title=f"{album} (sample)",
        album=album,
        artist=meta.get("artist") or "Unknown",
        narrator=meta.get("composer") or "",
        year=meta.get("date"),
        series=meta.get("series"),
        series_part=meta.get("series-part"),
    )


def _narration(paths: Sequence[Path]) -> Generator[np.ndarray, None, None]:
    """Mono float32 blocks at :data:`SAMPLE_RATE_HZ` of each file in turn (decoded with
    :func:`pipeline.audio.iter_blocks`, resampled with soxr where a file's rate differs).
    Stops decoding as soon as the consumer stops asking."""
    for path in paths:
        rate, blocks = iter_blocks(path)
        stream = (
            soxr.ResampleStream(rate, SAMPLE_RATE_HZ, 1, dtype="float32")
            if rate != SAMPLE_RATE_HZ
            else None
        )
        try:
            for block in blocks:
                yield block if stream is None else stream.resample_chunk(block)
            if stream is not None:
                yield stream.resample_chunk(np.zeros(0, np.float32), last=True)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()  # closes the decoder (file, or PyAV container) when stopped early


def write_retail_sample(
    chapter_files: Sequence[Path],
    out_path: Path,
    *,
    seconds: float = 300.0,
    fade_out_s: float = 3.0,
    kbps: int = 192,
) -> Path:
    """Write the retail sample: the first ``seconds`` of ``chapter_files`` (mastered
    chapter files, any format :func:`pipeline.audio.iter_blocks` decodes, taken in order
    and across chapter boundaries when a chapter is shorter), its last ``fade_out_s``
    faded out linearly to silence, as MP3 CBR ``kbps``, mono, 44.1 kHz through
    :class:`~pipeline.encode.Mp3Writer` (atomic; tags from the first file, titled
    "<album> (sample)"). Returns ``out_path``.

    ACX wants 1 to 5 minutes (the default is the most), no credits and nothing explicit:
    the caller picks the files (see the module docstring). When the files hold less than
    ``seconds``, the sample is all of them. Streams: memory holds one block and the fade.

    Raises ValueError for no files, ``seconds`` <= 0, ``fade_out_s`` outside
    [0, ``seconds``], or files holding less than :data:`MIN_SAMPLE_S` of audio (no file
    is left behind); FileNotFoundError for a missing file; EncodingError when LAME fails.
    """
    if not chapter_files:
        raise ValueError("a retail sample needs at least one chapter file")
    if not seconds > 0 or not 0 <= fade_out_s <= seconds:
        raise ValueError(f"bad sample length {seconds} s with a {fade_out_s} s fade")
    paths = [Path(p) for p in chapter_files]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"chapter file for the retail sample not found: {path}")
    want, fade_n = round(seconds * SAMPLE_RATE_HZ), round(fade_out_s * SAMPLE_RATE_HZ)
    writer = Mp3Writer(Path(out_path), SAMPLE_RATE_HZ, _sample_tags(paths[0]), kbps)
    held, taken = np.zeros(0, np.float32), 0  # held: the tail not yet written (the fade)
    try:
        with contextlib.closing(_narration(paths)) as blocks:
            for block in blocks:
                block = np.asarray(block[: want - taken], np.float32)
                taken += len(block)
                held = np.concatenate((held, block))
                if len(held) > fade_n:
                    writer.write(held[: len(held) - fade_n])
                    held = held[len(held) - fade_n :]
                if taken >= want:
                    break
        if taken < MIN_SAMPLE_S * SAMPLE_RATE_HZ:
            raise ValueError(
                f"the chapter files hold {taken / SAMPLE_RATE_HZ:.2f} s of audio; "
                f"a retail sample needs at least {MIN_SAMPLE_S:g} s"
            )
        writer.write(held * np.linspace(1.0, 0.0, len(held), dtype=np.float32))
    except BaseException:
        writer.abort()
        raise
    return writer.close()
