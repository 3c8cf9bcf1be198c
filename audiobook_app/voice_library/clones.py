"""An author's own voices: clone one from an uploaded recording, record a designed one
(:mod:`.design` calls :func:`add_reference_voice`), delete one.

Cloned and designed voices speak with the Qwen3-TTS Base model from a *reference*: a
24 kHz mono 16-bit WAV in storage (``users/<id>/voices/<row id>/reference-<token>.wav``;
the token makes a reused row id a new file name, so no worker's cached copy is stale)
and its transcript (``Voice.reference_text``). The reference is the voice's sample too.
The upload itself is kept beside it (``original.<format>``).
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

from sqlmodel import Session, col, select

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
from pipeline.reference_audio import check_reference, to_wav_24k

MAX_NAME_CHARS = 200
MAX_TRANSCRIPT_CHARS = 5000  # VoiceConfig.reference_text's limit
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "flac": "audio/flac"}
# What a row's params keep; the rest (model folder, reference path) belongs to the
# machine that speaks it (catalog.voice_config).
ROW_PARAMS = {"engine", "narrator", "instruct", "language"}


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

    Raises VoiceRequestError (no name; a transcript over 5,000 characters; no speech
    heard when transcribing), ReferenceAudioError (too_big, not_audio, too_short,
    too_long, silent, clipped: its message says which and by how much), NotFoundError
    (unknown user), StorageError.
    """
    active_user(session, user_id)
    name = check_name(name)
    clip = check_reference(data, filename)
    text = " ".join((transcript or "").split())
    if not text:
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
    voice = add_reference_voice(session, storage, user_id, voice, to_wav_24k(clip))
    original = user_key(user_id, "voices", str(voice.id), f"original.{clip.format}")
    mime = AUDIO_MIME.get(clip.format, "application/octet-stream")
    storage.put_bytes(original, data, mime)
    repo.add_file(session, user_id, original, len(data), mime, FilePurpose.VOICE_SAMPLE)
    repo.audit(session, user_id, "voice.clone", "voice", str(voice.id), seconds=clip.duration_s)
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
