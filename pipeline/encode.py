"""Encoders that take mastered mono float32 blocks and write finished files atomically.

Each writer encodes to a hidden temporary name beside the final file and renames it
into place only in ``close()``; ``abort()`` deletes the temporary file. A crash therefore
never leaves a truncated file under a final name. Encoder failures raise
:class:`~pipeline.errors.EncodingError` with one line naming the file.

- MP3 (ACX): LAME through ``lameenc`` (CBR, quality 7, see ``LAME_QUALITY``; far faster
  than libsndfile's MP3 path, which runs LAME at its slowest quality), ID3v2 tags
  title/artist/album/track/genre/date/composer (and the series, see :class:`Tags`)
  written with ``mutagen``.
- WAV/FLAC: 16-bit PCM, same tags as INFO chunk / Vorbis comments.
- M4B: AAC in an MP4 container via PyAV (``format="mp4"``: the ``ipod`` muxer rejects a
  cover), chapters (Nero ``chpl`` + QuickTime chapter track) at exact sample offsets,
  cover as an ``attached_pic`` stream, tags (the series too, see :class:`Tags`).
"""

from __future__ import annotations

import os
import queue
import re
import threading
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import lameenc
import numpy as np
import soundfile as sf
import soxr
from mutagen import MutagenError
from mutagen.id3 import ID3, TALB, TCOM, TCON, TDRC, TIT2, TPE1, TRCK, TXXX

from pipeline.audio import TruePeakMeter
from pipeline.errors import EncodingError
from pipeline.models import Cover

# LAME's algorithm quality (0 best/slowest .. 9). At 192 kbps CBR mono the bitrate, not
# the search, bounds the quality: on 120 s of mastered Piper speech q2, q5 and q7 all
# decode at 30.4-30.5 dB SNR against the input, and q7 encodes 1.5x faster than q5
# (3.7x faster than q2). The encoder thread is the bottleneck of assembly, so q7.
LAME_QUALITY = 7


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


# Series tags. How Audiobookshelf finds a book's series in its audio files
# (advplyr/audiobookshelf, server/utils/prober.js parseTags, from ffprobe's format
# tags): the series from the first of the tags "series", "show", "mvnm"; the book's number from "series-part",
# "episode_id", "mvin", "part"; failing a series tag, from "grouping" parsed as
# "Name #number" (server/scanner/AudioFileScanner.js setBookMetadataFromAudioMetaTags),
# which is also what ABS itself embeds (server/utils/ffmpegHelpers.js getFFMetadataObject).
# What we write, checked by reading back with PyAV (the libavformat ffprobe uses):
# - M4B: FFmpeg's mp4 muxer writes only the keys it knows as iTunes atoms, so "show"
#   (tvsh) and "episode_id" (tven), plus "grouping" (©grp) as "Name #number". Arbitrary
#   keys need ``movflags=use_metadata_tags``, which turns every tag into an mdta key that
#   iTunes-style readers (mutagen, Apple) no longer see as title/artist/album.
# - MP3: ID3 TXXX frames with descriptions "series" and "series-part" (FFmpeg reports a
#   TXXX frame under its description; it does not report MVNM/MVIN frames at all).
@dataclass(frozen=True)
class Tags:
    """Tags written into every file: ``track`` is the chapter number (None for the M4B).

    ``series`` and ``series_part`` (the book's number in the series, as text: "2", "2.5")
    go into the M4B and the MP3s the way Audiobookshelf reads them (see the
    note on series tags above); ``series_part`` is written only with a ``series``.
    """

    title: str
    album: str
    artist: str
    narrator: str
    track: int | None = None
    year: str | None = None
    series: str | None = None
    series_part: str | None = None


class SoundFileWriter:
    """WAV or FLAC chapter file (``fmt`` in {"wav", "flac"}), mono 16-bit PCM."""

    def __init__(self, final: Path, fmt: str, rate_hz: int, tags: Tags):
        self.final, self._tmp = final, _tmp_path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = sf.SoundFile(
                self._tmp, "w", rate_hz, 1, format=fmt.upper(), subtype="PCM_16"
            )
            self._file.title, self._file.artist, self._file.album = (
                tags.title,
                tags.artist,
                tags.album,
            )
            self._file.genre = "Audiobook"
            if tags.track is not None:
                self._file.tracknumber = str(tags.track)
            if tags.year:
                self._file.date = tags.year
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            self.abort()
            raise EncodingError(
                f"cannot start {fmt.upper()} encoder for {final.name}: {exc}"
            ) from None

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


class Mp3Writer:
    """ACX chapter MP3: CBR ``kbps`` (>= 192), mono, ``rate_hz``, ID3v2 tags."""

    def __init__(self, final: Path, rate_hz: int, tags: Tags, kbps: int = 192):
        self.final, self._tmp, self._tags = final, _tmp_path(final), tags
        final.parent.mkdir(parents=True, exist_ok=True)
        self._encoder = lameenc.Encoder()
        self._encoder.set_bit_rate(kbps)
        self._encoder.set_in_sample_rate(rate_hz)
        self._encoder.set_channels(1)
        self._encoder.set_quality(LAME_QUALITY)
        self._file = open(self._tmp, "wb")

    def write(self, block: np.ndarray) -> None:
        pcm = np.clip(np.asarray(block, np.float32) * 32767.0, -32768, 32767).astype(np.int16)
        try:
            self._file.write(self._encoder.encode(pcm.tobytes()))
        except (RuntimeError, OSError) as exc:
            raise EncodingError(f"writing {self.final.name} failed: {exc}") from None

    def close(self) -> Path:
        """Flush LAME, tag the file and move it under its final name; return that name."""
        try:
            self._file.write(self._encoder.flush())
            self._file.close()
            _write_id3(self._tmp, self._tags)
        except (RuntimeError, OSError, MutagenError) as exc:
            self.abort()
            raise EncodingError(f"finishing {self.final.name} failed: {exc}") from None
        os.replace(self._tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Drop the unfinished file (safe to call more than once)."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def _write_id3(path: Path, tags: Tags) -> None:
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TCON(encoding=3, text="Audiobook"))
    id3.add(TCOM(encoding=3, text=tags.narrator))
    if tags.track is not None:
        id3.add(TRCK(encoding=3, text=str(tags.track)))
    if tags.year:
        id3.add(TDRC(encoding=3, text=tags.year))
    if tags.series:  # TXXX frames: see the note on series tags
        id3.add(TXXX(encoding=3, desc="series", text=tags.series))
        if tags.series_part:
            id3.add(TXXX(encoding=3, desc="series-part", text=tags.series_part))
    id3.save(str(path))


def _image_size(cover: Cover) -> tuple[int, int]:
    import io

    with av.open(io.BytesIO(cover.data)) as img:
        s = img.streams.video[0]
        return s.codec_context.width, s.codec_context.height


class M4bWriter:
    """One M4B for the whole book: AAC mono, chapters as (title, samples at ``rate_hz``).

    ``chapters`` given up front may be placeholders (only their count matters to the
    muxer's chapter track); pass the real list to :meth:`close` once chapter lengths are
    known.

    Blocks arrive at ``rate_hz`` (the mastering rate) and are resampled on the fly to
    ``aac_rate_hz``: 22050 Hz is Piper's native rate, so nothing audible is lost, and the
    AAC encoder does half the work. FFmpeg's ``fast`` AAC coder is about 3x faster than
    its default ``twoloop`` and overshoots the true peak less on speech (measured on
    Piper output: -3.78 dBTP in, -3.73 dBTP decoded at 64 kbps / 22050 Hz; 241x real
    time to encode).

    Every AAC packet is also decoded as it is muxed, by FFmpeg's AAC decoder (what
    players and PyAV use), and its true peak measured: :attr:`decoded_true_peak_dbtp`
    is the true peak of the file's audio as any reader decodes it, known when the file
    is closed instead of after a second pass over the whole book.
    """

    def __init__(
        self,
        final: Path,
        rate_hz: int,
        kbps: int,
        tags: Tags,
        chapters: list[tuple[str, int]],
        cover: Cover | None,
        aac_rate_hz: int = 22050,
    ):
        self.final, self._tmp, self.rate_hz = final, _tmp_path(final), aac_rate_hz
        self._pts, self._chapter_rate_hz = 0, rate_hz
        self._resampler = (
            soxr.ResampleStream(rate_hz, aac_rate_hz, 1, dtype="float32")
            if rate_hz != aac_rate_hz
            else None
        )
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._out = av.open(str(self._tmp), "w", format="mp4")
            self._aac = self._out.add_stream("aac", rate=aac_rate_hz)
            self._aac.layout, self._aac.bit_rate = "mono", kbps * 1000
            self._aac.codec_context.options = {"aac_coder": "fast"}
            self._aac.codec_context.open()  # now, so its extradata (AudioSpecificConfig) exists
            self._decoder = av.CodecContext.create("aac", "r")
            self._decoder.extradata = self._aac.codec_context.extradata
            self._decoder.sample_rate, self._decoder.layout = aac_rate_hz, "mono"
            self._true_peak = TruePeakMeter()
            self._out.metadata.update(_m4b_tags(tags))
            self._out.set_chapters(_chapter_entries(chapters, rate_hz))  # type: ignore[arg-type]
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

    def write(self, block: np.ndarray, last: bool = False) -> None:
        block = np.asarray(block, np.float32)
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block, last=last)
        if not len(block):
            return
        frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
        frame.rate, frame.pts = self.rate_hz, self._pts
        self._pts += frame.samples
        try:
            self._mux(self._aac.encode(frame))
        except av.FFmpegError as exc:
            raise EncodingError(f"AAC encoding of {self.final.name} failed: {exc}") from None

    def _mux(self, packets: list[av.Packet]) -> None:
        """Write ``packets`` and measure them decoded."""
        for packet in packets:
            self._measure(av.Packet(bytes(packet)))
        self._out.mux(packets)

    def _measure(self, packet: av.Packet | None) -> None:
        """Decode ``packet`` (None: flush the decoder) into the true-peak meter."""
        for decoded in self._decoder.decode(packet):
            self._true_peak.push(decoded.to_ndarray().reshape(-1))

    @property
    def decoded_true_peak_dbtp(self) -> float:
        """True peak (dBTP) of all the AAC written so far, decoded; final after close()."""
        return self._true_peak.dbtp()

    def close(self, chapters: list[tuple[str, int]] | None = None) -> Path:
        """Flush the resampler and encoder, write the index (with ``chapters`` as the final
        chapter markers, when given) and move the file into place."""
        try:
            self.write(np.zeros(0, np.float32), last=True)
            self._mux(self._aac.encode(None))
            self._measure(None)
            self._true_peak.finish()
            if chapters is not None:
                self._out.set_chapters(_chapter_entries(chapters, self._chapter_rate_hz))  # type: ignore[arg-type]
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
    out = {
        "title": tags.title,
        "album": tags.album,
        "artist": tags.artist,
        "album_artist": tags.artist,
        "composer": tags.narrator,
        "genre": "Audiobook",
    }
    if tags.year:
        out["date"] = tags.year
    if tags.series:  # tvsh, tven and ©grp atoms: see the note on series tags
        out["show"] = tags.series
        out["grouping"] = tags.series
        if tags.series_part:
            out["episode_id"] = tags.series_part
            out["grouping"] = f"{tags.series} #{tags.series_part}"
    return out


def _chapter_entries(chapters: list[tuple[str, int]], rate_hz: int) -> list[dict]:
    entries, start = [], 0
    for i, (title, samples) in enumerate(chapters):
        entries.append(
            {
                "id": i + 1,
                "start": start,
                "end": start + samples,
                "time_base": Fraction(1, rate_hz),
                "metadata": {"title": title},
            }
        )
        start += samples
    return entries


class ThreadedSink:
    """Runs a writer's ``write`` on its own thread behind a bounded queue (``sink``: any
    object with ``final``, ``write(item)``, ``close(...)`` and ``abort()``, such as the
    writers here).

    libsndfile/LAME (through cffi) and PyAV release the GIL while encoding, so MP3 and
    AAC encode in parallel with the mastering DSP. At most ``depth`` blocks wait in the
    queue, so memory stays bounded. An encoder error surfaces on the next call.
    """

    _STOP = None

    def __init__(self, sink, depth: int = 4):
        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"encode-{sink.final.name}", daemon=True
        )
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

    def write(self, block: Any) -> None:
        self._raise()
        self._queue.put(block)

    def _drain(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()

    def close(self, *args: Any) -> Any:
        """Wait for queued blocks, then finish the file (``args`` go to the writer's ``close``)."""
        self._drain()
        self._raise()
        return self.sink.close(*args)

    def abort(self) -> None:
        self._drain()
        self.sink.abort()
