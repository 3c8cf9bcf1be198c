"""Encoders that take mastered mono float32 blocks and write finished files atomically.

Each writer encodes to a hidden temporary name beside the final file and renames it
into place only in ``close()``; ``abort()`` deletes the temporary file. A crash therefore
never leaves a truncated file under a final name. Encoder failures raise
:class:`~pipeline.errors.EncodingError` with one line naming the file.

- MP3 (ACX): libsndfile/LAME, CBR (``bitrate_mode="CONSTANT"``; compression level 0.4
  gives 192 kbps at 44.1 kHz), ID3 tags title/artist/album/track/genre.
- WAV/FLAC: 16-bit PCM, same tags as INFO chunk / Vorbis comments.
- M4B: AAC in an MP4 container via PyAV (``format="mp4"``: the ``ipod`` muxer rejects a
  cover), chapters (Nero ``chpl`` + QuickTime chapter track) at exact sample offsets,
  cover as an ``attached_pic`` stream, tags.
"""

from __future__ import annotations

import os
import queue
import threading
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from pipeline.errors import EncodingError
from pipeline.models import Cover

# libsndfile's MP3 compression_level -> bitrate in CBR mode is linear from 320 kbps (0.0)
# down to 32 kbps (1.0); 0.4 gives 192 kbps.
_MP3_MAX_KBPS, _MP3_MIN_KBPS = 320, 32


def safe_filename(title: str, max_len: int = 80) -> str:
    """``title`` made safe as a file name on Linux, macOS and Windows (never empty)."""
    text = unicodedata.normalize("NFC", title)
    text = re.sub(r'[\x00-\x1f<>:"/\\|?*]+', " ", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    return text[:max_len].rstrip(" .") or "Untitled"


def slugify(title: str | None) -> str:
    """Lower-case ASCII slug ("The Time Machine" -> "the-time-machine"); "audiobook" if empty."""
    text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80].strip("-") or "audiobook"


def _tmp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.part")


def _mp3_compression_level(kbps: int) -> float:
    return (_MP3_MAX_KBPS - kbps) / (_MP3_MAX_KBPS - _MP3_MIN_KBPS)


@dataclass(frozen=True)
class Tags:
    """Tags written into every file: ``track`` is the chapter number (None for the M4B)."""

    title: str
    album: str
    artist: str
    narrator: str
    track: int | None = None
    year: str | None = None


class SoundFileWriter:
    """MP3, WAV or FLAC chapter file (``fmt`` in {"mp3", "wav", "flac"}), mono."""

    def __init__(self, final: Path, fmt: str, rate_hz: int, tags: Tags, mp3_kbps: int = 192):
        self.final, self._tmp = final, _tmp_path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {"format": fmt.upper(), "subtype": "PCM_16"}
        if fmt == "mp3":
            kwargs = {"format": "MP3", "subtype": "MPEG_LAYER_III", "bitrate_mode": "CONSTANT",
                      "compression_level": _mp3_compression_level(mp3_kbps)}
        try:
            self._file = sf.SoundFile(self._tmp, "w", rate_hz, 1, **kwargs)
            self._file.title, self._file.artist, self._file.album = tags.title, tags.artist, tags.album
            self._file.genre = "Audiobook"
            if tags.track is not None:
                self._file.tracknumber = str(tags.track)
            if tags.year:
                self._file.date = tags.year
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            self.abort()
            raise EncodingError(f"cannot start {fmt.upper()} encoder for {final.name}: {exc}") from None

    def write(self, block: np.ndarray) -> None:
        try:
            self._file.write(np.asarray(block, dtype=np.float32))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise EncodingError(f"writing {self.final.name} failed: {exc}") from None

    def close(self) -> Path:
        """Finish the file and move it under its final name; return that name."""
        try:
            self._file.close()
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise EncodingError(f"finishing {self.final.name} failed: {exc}") from None
        os.replace(self._tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Drop the unfinished file (safe to call more than once)."""
        f = getattr(self, "_file", None)
        if f is not None and not f.closed:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes anyway
                pass
        self._tmp.unlink(missing_ok=True)


def _image_size(cover: Cover) -> tuple[int, int]:
    import io

    with av.open(io.BytesIO(cover.data)) as img:
        s = img.streams.video[0]
        return s.codec_context.width, s.codec_context.height


class M4bWriter:
    """One M4B for the whole book: AAC mono, chapters known up front (sample counts)."""

    def __init__(self, final: Path, rate_hz: int, kbps: int, tags: Tags,
                 chapters: list[tuple[str, int]], cover: Cover | None):
        self.final, self._tmp, self.rate_hz = final, _tmp_path(final), rate_hz
        self._pts = 0
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._out = av.open(str(self._tmp), "w", format="mp4")
            self._aac = self._out.add_stream("aac", rate=rate_hz)
            self._aac.layout, self._aac.bit_rate = "mono", kbps * 1000
            self._out.metadata.update(_m4b_tags(tags))
            self._out.set_chapters(_chapter_entries(chapters, rate_hz))
            if cover is not None:
                self._add_cover(cover)
        except (av.FFmpegError, ValueError) as exc:
            self.abort()
            raise EncodingError(f"cannot start the M4B encoder for {final.name}: {exc}") from None

    def _add_cover(self, cover: Cover) -> None:
        codec = "png" if cover.mime == "image/png" else "mjpeg"
        width, height = _image_size(cover)
        pic = self._out.add_mux_stream(codec, width=width, height=height)
        pic.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(cover.data)
        packet.stream, packet.pts, packet.dts = pic, 0, 0
        self._out.mux(packet)

    def write(self, block: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.asarray(block, np.float32)[None, :], format="flt", layout="mono")
        frame.rate, frame.pts = self.rate_hz, self._pts
        self._pts += frame.samples
        try:
            self._out.mux(self._aac.encode(frame))
        except av.FFmpegError as exc:
            raise EncodingError(f"AAC encoding of {self.final.name} failed: {exc}") from None

    def close(self) -> Path:
        """Flush the encoder, write the index and move the file into place."""
        try:
            self._out.mux(self._aac.encode(None))
            self._out.close()
        except av.FFmpegError as exc:
            self.abort()
            raise EncodingError(f"finishing {self.final.name} failed: {exc}") from None
        os.replace(self._tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Drop the unfinished file (safe to call more than once)."""
        out = getattr(self, "_out", None)
        if out is not None:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes anyway
                pass
        self._tmp.unlink(missing_ok=True)


def _m4b_tags(tags: Tags) -> dict[str, str]:
    out = {"title": tags.title, "album": tags.album, "artist": tags.artist,
           "album_artist": tags.artist, "composer": tags.narrator, "genre": "Audiobook"}
    if tags.year:
        out["date"] = tags.year
    return out


def _chapter_entries(chapters: list[tuple[str, int]], rate_hz: int) -> list[dict]:
    entries, start = [], 0
    for i, (title, samples) in enumerate(chapters):
        entries.append({"id": i + 1, "start": start, "end": start + samples,
                        "time_base": Fraction(1, rate_hz), "metadata": {"title": title}})
        start += samples
    return entries


class ThreadedSink:
    """Runs a writer's ``write`` on its own thread behind a bounded queue.

    libsndfile/LAME (through cffi) and PyAV release the GIL while encoding, so MP3 and
    AAC encode in parallel with the mastering DSP. At most ``depth`` blocks wait in the
    queue, so memory stays bounded. An encoder error surfaces on the next call.
    """

    _STOP = None

    def __init__(self, sink: SoundFileWriter | M4bWriter, depth: int = 4):
        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"encode-{sink.final.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not self._STOP:
            if self._error is None:
                try:
                    self.sink.write(block)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, block: np.ndarray) -> None:
        self._raise()
        self._queue.put(block)

    def _drain(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()

    def close(self) -> Path:
        """Wait for queued blocks, then finish the file (see the writer's ``close``)."""
        self._drain()
        self._raise()
        return self.sink.close()

    def abort(self) -> None:
        self._drain()
        self.sink.abort()
