"""An author's own voices: clone one from an uploaded recording, record a designed one
(:mod:`.design` calls :func:`add_reference_voice`), delete one.

Cloned and designed voices speak with the Qwen3-TTS Base model from a *reference*: a
24 kHz mono 16-bit WAV in storage (``users/<id>/voices/<row id>/reference-<token>.wav``;
the token makes a reused row id a new file name, so no worker's cached copy is stale)
and its transcript (``Voice.reference_text``). The reference is the voice's sample too.
The upload itself is kept beside it (``original.<format>``).

Uploads may last 10 s to 5 min, but a reference lasts at most :data:`MAX_REFERENCE_S`
(30 s; the engine takes 1-60 s and 3-20 s clone best, and the model reads the whole
reference, codes and transcript, before every line it speaks): a longer upload is cut
in the pause after the last of Whisper's segments that ends within 30 s.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import PurePath

import numpy as np
from sqlmodel import Session, col, select

from audiobook_app import ratelimit
from audiobook_app.db import repo
from audiobook_app.db.models import File, FilePurpose, Voice, VoiceKind
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, user_key
from audiobook_app.voice_library.catalog import (
    QWEN,
    VoiceEntry,
    active_user,
    owned_voice,
    row_entries,
)
from pipeline.config import VoiceConfig
from pipeline.errors import NotFoundError, VoiceRequestError
from pipeline.reference_audio import (
    FRAME_S,
    SPEECH_FLOOR_DBFS,
    ReferenceClip,
    check_reference,
    to_wav_24k,
)

MAX_NAME_CHARS = 200
MAX_TRANSCRIPT_CHARS = 5000  # VoiceConfig.reference_text's limit
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "flac": "audio/flac"}
# What a row's params keep; the rest (model folder, reference path) belongs to the
# machine that speaks it (catalog.voice_config).
ROW_PARAMS = {"engine", "narrator", "instruct", "language"}
MAX_REFERENCE_S = 30.0  # the longest reference kept from an upload, in seconds
PAUSE_SEARCH_S = (1.0, 0.5)  # seconds before / after Whisper's boundary to look for the pause


def fit_reference(clip: ReferenceClip) -> tuple[ReferenceClip, str]:
    """The part of ``clip`` (longer than :data:`MAX_REFERENCE_S`) that a reference keeps,
    and its transcript: Whisper's segments (faster-whisper tiny.en, about 3 s for a
    45 s clip on a CPU core) from the first up to the last that ends within 30 s, and
    their text. Whisper's boundary between two segments lies somewhere in the pause
    between them (often at its end), so the cut is made in the middle of the longest
    pause near it (:func:`pause_near`), never past 30 s: the reference ends between
    sentences. Raises VoiceRequestError when no segment ends within 30 s (no words
    heard, or a first sentence that long), EngineError (speech-to-text failed)."""
    from pipeline.transcribe import transcribe_segments  # faster-whisper: loaded on use

    segments = transcribe_segments(clip.audio, clip.sample_rate_hz)
    kept = [segment for segment in segments if segment.end_s <= MAX_REFERENCE_S]
    if not kept:
        raise VoiceRequestError(
            f"no sentence ends in the first {MAX_REFERENCE_S:g} s of the recording, and a "
            f"voice keeps at most {MAX_REFERENCE_S:g} s of it: upload a clip that starts "
            "with shorter sentences, or one of at most 30 s"
        )
    cut_s = pause_near(clip.audio, clip.sample_rate_hz, kept[-1].end_s, MAX_REFERENCE_S)
    samples = round(cut_s * clip.sample_rate_hz)
    part = dataclasses.replace(
        clip, audio=clip.audio[:samples], duration_s=samples / clip.sample_rate_hz
    )
    return part, " ".join(" ".join(segment.text for segment in kept).split())


def pause_near(audio: np.ndarray, sample_rate_hz: int, at_s: float, limit_s: float) -> float:
    """Where to cut ``audio`` (float32 mono) near ``at_s`` seconds, at most at ``limit_s``:
    the middle of the longest pause from :data:`PAUSE_SEARCH_S` before ``at_s`` to after
    it (a pause: 10 ms frames under the speech floor, -50 dBFS RMS, as
    :func:`pipeline.reference_audio.speech_seconds` counts speech), in seconds; ``at_s``
    (at most ``limit_s``) when that stretch has no pause (a noisy recording)."""
    frame = max(1, round(sample_rate_hz * FRAME_S))
    before, after = PAUSE_SEARCH_S
    first = max(0, int((at_s - before) * sample_rate_hz) // frame)
    last = min(int(min(at_s + after, limit_s) * sample_rate_hz), audio.shape[0]) // frame
    if last <= first:
        return min(at_s, limit_s)
    frames = audio[first * frame : last * frame].reshape(last - first, frame)
    quiet = np.einsum("ij,ij->i", frames, frames) / frame < 10.0 ** (SPEECH_FLOOR_DBFS / 10)
    best, start = (0, 0), None
    for i, silent in enumerate([*quiet, False]):  # runs of quiet frames: [start, i)
        if silent and start is None:
            start = i
        elif not silent and start is not None:
            best, start = max(best, (i - start, start)), None
    length, start = best
    if not length:
        return min(at_s, limit_s)
    return (first + start + length / 2) * frame / sample_rate_hz


def check_name(name: str) -> str:
    """The voice name, trimmed. Raises VoiceRequestError when empty or too long."""
    name = " ".join((name or "").split())
    if not name:
        raise VoiceRequestError("give the voice a name")
    if len(name) > MAX_NAME_CHARS:
        raise VoiceRequestError(f"a voice name has at most {MAX_NAME_CHARS} characters")
    return name


def add_reference_voice(
    session: Session,
    storage: Storage,
    user_id: int,
    voice: Voice,
    wav_24k: bytes,
) -> Voice:
    """Record ``voice`` (a cloned or designed Qwen3-TTS voice) for ``user_id`` with
    ``wav_24k`` as its reference and sample (stored, with a File row). Raises StorageError."""
    voice.owner_id, voice.engine, voice.model = user_id, QWEN, "Base"
    voice.params = VoiceConfig(engine=QWEN, narrator="").model_dump(include=ROW_PARAMS)
    session.add(voice)
    session.flush()
    key = user_key(user_id, "voices", str(voice.id), f"reference-{uuid.uuid4().hex[:8]}.wav")
    storage.put_bytes(key, wav_24k, "audio/wav")
    repo.add_file(session, user_id, key, len(wav_24k), "audio/wav", FilePurpose.VOICE_SAMPLE)
    voice.reference_key = voice.sample_key = key
    session.add(voice)
    session.flush()
    return voice


def create_clone(
    session: Session,
    settings: Settings,
    storage: Storage,
    user_id: int,
    name: str,
    data: bytes,
    filename: str,
    transcript: str | None,
) -> VoiceEntry:
    """Clone a voice from an uploaded recording (WAV, MP3, M4A or FLAC, 10 s to 5 min,
    at most 50 MB) and its ``transcript`` (transcribed here with faster-whisper when
    empty). Stores the original and its 24 kHz WAV (the reference, also the sample)
    under the author's prefix and records a cloned Qwen3-TTS voice.

    A recording over :data:`MAX_REFERENCE_S` (30 s) is kept whole as the original, but
    its reference is its first sentences that fit in 30 s (:func:`fit_reference`), and
    the voice's transcript is Whisper's for that part: a transcript typed for the
    whole recording is replaced by it (no typed text lines up with a cut made where
    Whisper heard a sentence end).

    Counts against the author's ``settings.rate_voice_tries`` (with tries and designs)
    before the recording is read. Raises VoiceRequestError (no name; a transcript over
    5,000 characters; no speech heard when transcribing; no sentence ending within the
    first 30 s of a longer recording), ReferenceAudioError (too_big, not_audio,
    too_short, too_long, silent, clipped: its message says which and by how much),
    EngineError (speech-to-text failed), RateLimitedError (too many requests),
    NotFoundError (unknown user), StorageError.
    """
    active_user(session, user_id)
    name = check_name(name)
    ratelimit.hit(settings, "voice_tries", "user", user_id)
    clip = check_reference(data, filename)
    text = " ".join((transcript or "").split())
    reference = clip
    if clip.duration_s > MAX_REFERENCE_S:
        reference, text = fit_reference(clip)
    elif not text:
        from pipeline.transcribe import transcribe  # faster-whisper: loaded on first use

        text = " ".join(transcribe(clip.audio, clip.sample_rate_hz).split())
        if not text:
            raise VoiceRequestError("no words were heard in the recording: type its transcript")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise VoiceRequestError(
            f"the transcript is {len(text):,} characters; at most {MAX_TRANSCRIPT_CHARS:,}"
        )
    voice = Voice(name=name, kind=VoiceKind.CLONED, engine=QWEN, model="Base")
    voice.reference_text, voice.language = text, "English"
    voice.description = f"cloned from {PurePath(filename).name or 'an upload'}"[:500]
    voice = add_reference_voice(session, storage, user_id, voice, to_wav_24k(reference))
    original = user_key(user_id, "voices", str(voice.id), f"original.{clip.format}")
    mime = AUDIO_MIME.get(clip.format, "application/octet-stream")
    storage.put_bytes(original, data, mime)
    repo.add_file(session, user_id, original, len(data), mime, FilePurpose.VOICE_SAMPLE)
    repo.audit(
        session,
        user_id,
        "voice.clone",
        "voice",
        str(voice.id),
        seconds=clip.duration_s,
        reference_seconds=reference.duration_s,
    )
    return row_entries(session, [voice], user_id)[0]


def delete_voice(session: Session, storage: Storage, user_id: int, voice_id: str) -> int:
    """Delete one of the author's own voices, its stored files and their File rows;
    returns the number of stored objects removed (its trials stay in the history).
    Raises NotFoundError for a built-in, unknown or another author's voice."""
    row = owned_voice(session, user_id, voice_id)
    if row.owner_id != user_id:
        raise NotFoundError(f"no voice {voice_id!r} of yours")
    prefix = user_key(user_id, "voices", str(row.id)) + "/"
    removed = storage.delete_prefix(prefix)
    for stored in session.exec(select(File).where(col(File.key).startswith(prefix))).all():
        session.delete(stored)
    session.delete(row)
    repo.audit(session, user_id, "voice.delete", "voice", str(row.id), files_removed=removed)
    session.flush()
    return removed
