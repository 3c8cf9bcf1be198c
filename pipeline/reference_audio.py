"""Check a voice-clone reference recording that an author uploads, and normalise it.

Product rule (issue "clone a voice from an upload"): WAV, MP3, M4A or FLAC, 10 s to
5 min, at most 50 MB, with its transcript. Each refusal raises
:class:`~pipeline.errors.ReferenceAudioError` whose ``reason`` is one of ``"too_big"``,
``"not_audio"``, ``"too_short"``, ``"too_long"``, ``"silent"``, ``"clipped"`` and whose
message gives the measured number and the limit.

:func:`check_reference` runs the checks in this order, cheapest first:

1. **Size** (before any decoding): at most :data:`MAX_BYTES`.
2. **Decoding** with PyAV from memory. The format is what FFmpeg finds in the bytes,
   not the file name: a FLAC named ``voice.wav`` (or with no extension) is accepted as
   FLAC; a text file named ``.wav`` is "not audio". Accepted: :data:`ACCEPTED_FORMATS`.
   Other audio formats (Ogg, AIFF, WebM...) and damaged files are refused as
   ``"not_audio"`` with a message naming the format or the damage.
3. **Duration** of the decoded audio: :data:`MIN_DURATION_S` to :data:`MAX_DURATION_S`.
   Decoding stops as soon as the audio passes the maximum (a 50 MB MP3 at 32 kbit/s
   holds 3.5 hours: no need to decode it all to refuse it). A file whose header
   announces over :data:`TRUNCATED_MARGIN_S` more than decodes is said to be cut short.
4. **Silence**: 10 ms frames whose RMS reaches :data:`SPEECH_FLOOR_DBFS` count as
   speech; fewer than :data:`MIN_SPEECH_S` seconds of them is "silent".
5. **Clipping**: the share of samples at ``|x| >= CLIP_LEVEL`` in runs of at least
   :data:`CLIP_MIN_RUN` samples, in the worst channel, above :data:`MAX_CLIPPED_SHARE`.

Everything here is pure (bytes in, arrays and bytes out; no files, no network).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np
import soundfile as sf
import soxr

from pipeline.audio import SPEECH_THRESHOLD_DBFS, amplitude_to_db, power_to_db, sum_of_squares
from pipeline.errors import ReferenceAudioError

Reason = Literal["too_big", "not_audio", "too_short", "too_long", "silent", "clipped"]

# --- Limits of the product rule (the issue): 10 s to 5 min, at most 50 MB.
MIN_DURATION_S = 10.0
MAX_DURATION_S = 300.0
# "50 MB" counted in MiB, like the manuscript upload limit (audiobook_app/settings.py).
MAX_BYTES = 50 * 1024 * 1024

# A file whose header announces this much more audio than decodes was cut short (an
# interrupted upload or export); the "too short" message says so. MP3 headers estimate
# from the bit rate, and encoder padding is a few tens of milliseconds: 1 s is clear.
TRUNCATED_MARGIN_S = 1.0

# --- Accepted formats (the issue: WAV, MP3, M4A, FLAC), as FFmpeg names them:
# container (demuxer) name -> (our format name, accepted codecs). M4A is the MP4/QuickTime
# family with AAC or ALAC audio (a video track beside it is ignored). WAV must hold PCM.
ACCEPTED_FORMATS: dict[str, tuple[str, frozenset[str]]] = {
    "wav": ("wav", frozenset()),  # empty set: any "pcm_*" codec (16/24/32-bit, float, u8)
    "mp3": ("mp3", frozenset({"mp3", "mp3float"})),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", frozenset({"aac", "alac"})),
    "flac": ("flac", frozenset({"flac"})),
}
_FORMAT_LABELS = {"wav": "WAV", "mp3": "MP3", "m4a": "M4A", "flac": "FLAC"}

# --- Silence. Same speech floor as the room-tone measurement (pipeline.audio: 10 ms
# frames at or above -50 dBFS RMS are speech). ACX wants speech at -23..-18 dB RMS and a
# noise floor under -60 dB, so a recording none of whose frames reach -50 dBFS is 27 dB
# below the quietest acceptable narration: a muted or unplugged microphone, not a voice.
FRAME_S = 0.010
SPEECH_FLOOR_DBFS = SPEECH_THRESHOLD_DBFS
# Half the minimum length: a clone needs seconds of voice, not a long pause with a word.
# Piper speech has 75 % of its frames above the floor (12.6 s clip: 9.4 s).
MIN_SPEECH_S = 5.0

# --- Clipping. A sample at |x| >= 0.999 of full scale (16-bit full scale is 0.99997) in a
# run of >= 3 such samples is a flattened peak; one sample at full scale is merely a
# peak-normalised file. The share is of all samples of the worst channel. Our threshold,
# 0.1 %, measured on 12.6 s of Piper speech pushed into a hard clip (WAV / MP3 at libsndfile defaults):
# +1.4 dB over full scale 0.006 % / 0.001 % (a few clipped peaks: passes), +7.4 dB
# 0.41 % / 0.16 % (fails), +13.4 dB 3.8 % / 1.6 % (fails). Lossy decoders overshoot 1.0
# around a clipped peak, so an MP3 measures lower than its WAV, but above the threshold.
CLIP_LEVEL = 0.999
CLIP_MIN_RUN = 3
MAX_CLIPPED_SHARE = 0.001

QWEN_REFERENCE_RATE_HZ = 24000  # Qwen3-TTS Base model's speech tokenizer rate


@dataclass(frozen=True, eq=False)
class ReferenceClip:
    """A reference recording that passed :func:`check_reference`.

    ``audio`` is float32 mono, shape ``(n,)``, at ``sample_rate_hz`` (the file's own
    rate), the channels averaged; ``duration_s = n / sample_rate_hz``; ``format`` is
    ``"wav"``, ``"mp3"``, ``"m4a"`` or ``"flac"`` (what the bytes are, whatever the file
    name says); ``peak_dbfs`` is the sample peak and ``rms_dbfs`` the RMS of the whole
    clip (pauses included), both of ``audio`` in dBFS.
    """

    audio: np.ndarray
    sample_rate_hz: int
    duration_s: float
    format: str
    peak_dbfs: float
    rms_dbfs: float


def _refuse(reason: Reason, message: str) -> ReferenceAudioError:
    return ReferenceAudioError(message, reason)


def _seconds(value: float, limit: float) -> str:
    """``value`` with 1 decimal, or more when 1 decimal would print the limit itself
    (9.97 s must not read "10.0 s long; needs at least 10 s")."""
    for decimals in (1, 2, 3):
        shown = f"{value:.{decimals}f}"
        if float(shown) != limit:
            return shown
    return f"{value:.3f}"


def _accepted(container_name: str, codec_name: str) -> str | None:
    """Our format name for a (demuxer, decoder) pair, or None when not accepted."""
    entry = ACCEPTED_FORMATS.get(container_name)
    if entry is None:
        return None
    name, codecs = entry
    if not codecs:
        return name if codec_name.startswith("pcm_") else None
    return name if codec_name in codecs else None


@dataclass(frozen=True)
class _Decoded:
    channels: np.ndarray  # float32, shape (n_channels, n)
    sample_rate_hz: int
    format: str
    too_long: bool  # decoding stopped past MAX_DURATION_S
    header_duration_s: float | None  # the container's own estimate


def _decode(data: bytes, filename: str) -> _Decoded:
    """Decode ``data`` with PyAV, stopping once past :data:`MAX_DURATION_S`.

    Raises ``ReferenceAudioError("not_audio")`` when FFmpeg finds no audio, an audio
    format that is not accepted, or damage before the end."""
    shown_name = filename or "The file"
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise _refuse(
            "not_audio",
            f"{shown_name} is not an audio recording (no known audio format in its "
            f"{len(data):,} bytes); upload a WAV, MP3, M4A or FLAC file.",
        ) from exc
    with container:
        if not container.streams.audio:
            raise _refuse(
                "not_audio",
                f"{shown_name} has no sound in it; upload a WAV, MP3, M4A or FLAC file.",
            )
        stream = container.streams.audio[0]
        container_name = container.format.name
        codec_name = stream.codec_context.name
        fmt = _accepted(container_name, codec_name)
        if fmt is None:
            found = container.format.long_name or container_name
            raise _refuse(
                "not_audio",
                f"{shown_name} is {found} audio ({codec_name}); accepted formats are WAV, "
                "MP3, M4A (AAC or ALAC) and FLAC. Export the recording as one of these.",
            )
        header_s = float(container.duration) / av.time_base if container.duration else None
        resampler = av.AudioResampler(format="fltp")  # keeps the layout and rate
        parts: list[np.ndarray] = []
        rate = 0
        count = 0
        too_long = False
        try:
            for frame in container.decode(stream):
                if rate == 0:
                    rate = int(frame.sample_rate)
                    # Later frames are converted to the first frame's layout and rate.
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=rate)
                for out in resampler.resample(frame):
                    block = out.to_ndarray()
                    parts.append(block)
                    count += block.shape[1]
                if count > MAX_DURATION_S * rate:
                    too_long = True
                    break
            if not too_long:
                for out in resampler.resample(None):
                    block = out.to_ndarray()
                    parts.append(block)
                    count += block.shape[1]
        except av.FFmpegError as exc:
            decoded_s = count / rate if rate else 0.0
            raise _refuse(
                "not_audio",
                f"{shown_name} is damaged: its {_FORMAT_LABELS[fmt]} audio stops decoding "
                f"after {decoded_s:.1f} s. Export or upload it again.",
            ) from exc
    if count == 0:
        raise _refuse(
            "not_audio",
            f"{shown_name} holds no audio samples; upload a WAV, MP3, M4A or FLAC recording.",
        )
    channels = np.concatenate(parts, axis=1).astype(np.float32, copy=False)
    return _Decoded(channels, rate, fmt, too_long, header_s)


def speech_seconds(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Seconds of ``audio`` (float32 mono, shape ``(n,)``) in 10 ms frames whose RMS is at
    or above :data:`SPEECH_FLOOR_DBFS` (a trailing partial frame is ignored)."""
    frame = max(1, round(sample_rate_hz * FRAME_S))
    n_frames = audio.shape[0] // frame
    if n_frames == 0:
        return 0.0
    frames = audio[: n_frames * frame].reshape(n_frames, frame)
    mean_square = np.einsum("ij,ij->i", frames, frames) / frame
    floor = 10.0 ** (SPEECH_FLOOR_DBFS / 10.0)  # as a mean square
    return float(np.count_nonzero(mean_square >= floor)) * frame / sample_rate_hz


def clipped_share(channels: np.ndarray) -> float:
    """Worst channel's share (0..1) of samples at ``|x| >= CLIP_LEVEL`` that sit in runs
    of at least :data:`CLIP_MIN_RUN` such samples. ``channels``: shape ``(c, n)``."""
    worst = 0.0
    n = channels.shape[1]
    if n == 0:
        return 0.0
    for channel in channels:
        hot = np.abs(channel) >= CLIP_LEVEL
        if not hot.any():
            continue
        edges = np.diff(np.concatenate(([0], hot.view(np.int8), [0])))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        runs = ends - starts
        flattened = int(runs[runs >= CLIP_MIN_RUN].sum())
        worst = max(worst, flattened / n)
    return worst


def check_reference(data: bytes, filename: str) -> ReferenceClip:
    """Check an uploaded reference recording and return it decoded.

    ``data`` is the file's bytes; ``filename`` is only used in messages (the format is
    found by decoding). Returns a :class:`ReferenceClip` (float32 mono at the file's
    rate). Raises :class:`~pipeline.errors.ReferenceAudioError` with ``reason``
    ``"too_big"`` (over :data:`MAX_BYTES`, refused before decoding), ``"not_audio"``,
    ``"too_long"``, ``"too_short"``, ``"silent"`` or ``"clipped"``, in that order of
    checking (see the module docstring for the thresholds and their sources).
    """
    if len(data) > MAX_BYTES:
        raise _refuse(
            "too_big",
            f"The file is {len(data) / 2**20:.1f} MB ({len(data):,} bytes); a reference "
            f"recording may be at most {MAX_BYTES // 2**20} MB ({MAX_BYTES:,} bytes). "
            "Upload a shorter clip (10 s to 5 min is enough).",
        )
    decoded = _decode(data, filename)
    rate = decoded.sample_rate_hz
    if decoded.too_long:
        header_s = decoded.header_duration_s
        length = (
            f"is {header_s:.1f} s long"
            if header_s is not None and header_s > MAX_DURATION_S
            else f"is longer than {MAX_DURATION_S:.0f} s"
        )
        raise _refuse(
            "too_long",
            f"The recording {length}; a voice clone reference may be at most "
            f"{MAX_DURATION_S:.0f} s (5 min). Trim it to a stretch of clear speech.",
        )
    audio = decoded.channels.mean(axis=0, dtype=np.float32)
    duration_s = audio.shape[0] / rate
    if duration_s > MAX_DURATION_S:  # the last decoded block crossed the limit
        raise _refuse(
            "too_long",
            f"The recording is {_seconds(duration_s, MAX_DURATION_S)} s long; a voice clone "
            f"reference may be at most {MAX_DURATION_S:.0f} s (5 min). Trim it.",
        )
    if duration_s < MIN_DURATION_S:
        header_s = decoded.header_duration_s
        cut_short = (
            f" (its header says {header_s:.1f} s: the file looks cut short; upload it again)"
            if header_s is not None and header_s - duration_s > TRUNCATED_MARGIN_S
            else ""
        )
        raise _refuse(
            "too_short",
            f"The recording is {_seconds(duration_s, MIN_DURATION_S)} s long{cut_short}; a "
            f"voice clone needs at least {MIN_DURATION_S:.0f} s of speech.",
        )
    peak = float(np.max(np.abs(audio)))
    peak_dbfs = amplitude_to_db(peak)
    rms_dbfs = power_to_db(sum_of_squares(audio) / audio.shape[0])
    speech_s = speech_seconds(audio, rate)
    if speech_s < MIN_SPEECH_S:
        if peak == 0.0:
            problem = "The recording is silent (every sample is zero)"
        elif speech_s == 0.0:
            problem = (
                f"The recording is silent: its level is {rms_dbfs:.1f} dBFS and no moment "
                f"of it reaches {SPEECH_FLOOR_DBFS:.0f} dBFS"
            )
        else:
            problem = (
                f"The recording is almost silent: only {speech_s:.1f} s of its "
                f"{duration_s:.1f} s reach {SPEECH_FLOOR_DBFS:.0f} dBFS"
            )
        raise _refuse(
            "silent",
            f"{problem}; a voice clone needs at least {MIN_SPEECH_S:.0f} s of audible "
            "speech. Check the microphone and record closer to it.",
        )
    share = clipped_share(decoded.channels)
    if share > MAX_CLIPPED_SHARE:
        raise _refuse(
            "clipped",
            f"The recording is clipped: {share:.1%} of its samples are flattened at full "
            f"scale (at most {MAX_CLIPPED_SHARE:.1%} is allowed). Record again with the "
            "input gain lower.",
        )
    return ReferenceClip(
        audio=audio,
        sample_rate_hz=rate,
        duration_s=duration_s,
        format=decoded.format,
        peak_dbfs=peak_dbfs,
        rms_dbfs=rms_dbfs,
    )


def to_wav_24k(clip: ReferenceClip) -> bytes:
    """The reference as the Qwen3-TTS Base model takes it: a 24 kHz mono 16-bit PCM WAV
    file's bytes, resampled with soxr (VHQ) and otherwise untouched (no gain; samples
    past full scale after resampling are clipped to it). Length:
    ``round(n * 24000 / sample_rate_hz)`` samples."""
    audio = clip.audio
    if clip.sample_rate_hz != QWEN_REFERENCE_RATE_HZ:
        audio = soxr.resample(audio, clip.sample_rate_hz, QWEN_REFERENCE_RATE_HZ, quality="VHQ")
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False)
    buffer = io.BytesIO()
    sf.write(buffer, audio, QWEN_REFERENCE_RATE_HZ, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
