"""``/api/v1/voices``, ``/voice-trials``, ``/voice-designs``: the caller's voice library
(built-ins and their own voices), cloning a voice from a recording, deleting one,
trying a voice on a line of text, and designing one from a description (takes to
choose from). Tries, designs and clones count against the voice rate limit (429).
Services: :mod:`audiobook_app.voice_library` (what the Voices page calls). Routes run
in FastAPI's thread pool (cloning transcribes the recording when no transcript is sent).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Response, UploadFile
from fastapi import File as FormFile

from audiobook_app import voice_library
from audiobook_app.api.common import file_id_of, read_upload
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import (
    AUTHED,
    MAX_ID,
    DesignChoice,
    DesignIn,
    DesignOut,
    DesignTake,
    TrialIn,
    TrialOut,
    VoiceOut,
    errors,
)
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings, get_settings
from audiobook_app.state.clients import redis_conn, storage
from audiobook_app.voice_library import DesignView, TrialEntry, VoiceEntry

router = APIRouter(tags=["voices"], responses=AUTHED)
VoiceId = Annotated[str, Path(min_length=1, max_length=64, description="a library voice id")]
DesignId = Annotated[str, Path(min_length=1, max_length=64, description="a design id")]
MAX_RECORDING_BYTES = 50 * 1024 * 1024  # what voice_library.create_clone accepts


def voice_out(settings: Settings, entry: VoiceEntry) -> VoiceOut:
    """The API's view of a library entry."""
    file_id = file_id_of(entry.sample_url)
    public = entry.sample_url and file_id is None
    return VoiceOut(
        id=entry.id,
        name=entry.name,
        kind=entry.kind,
        engine=entry.engine,
        language=entry.language,
        description=entry.description,
        owned=entry.owned,
        sample_url=settings.public_base_url.rstrip("/") + entry.sample_url if public else None,
        sample_file_id=file_id,
    )


def trial_out(entry: TrialEntry) -> TrialOut:
    """The API's view of a voice try."""
    return TrialOut(
        id=entry.id,
        voice_id=entry.voice_id,
        voice_name=entry.voice_name,
        text=entry.text,
        status=entry.status,
        duration_s=entry.duration_s,
        audio_file_id=file_id_of(entry.audio_url),
        error=entry.error,
    )


def design_out(view: DesignView) -> DesignOut:
    """The API's view of a design request."""
    return DesignOut(
        id=view.id,
        status=view.status,
        description=view.description,
        text=view.text,
        takes=[DesignTake(index=s.index, file_id=file_id_of(s.url)) for s in view.samples],
        error=view.error,
    )


@router.get("/voices", response_model=list[VoiceOut])
def list_voices(caller: CallerDep) -> list[VoiceOut]:
    """The voices the caller may cast: built-ins, then their own, oldest first."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        entries = voice_library.list_voices(session, settings, caller.user_id)
    return [voice_out(settings, e) for e in entries]


@router.post("/voices", status_code=201, response_model=VoiceOut, responses=errors(400, 404, 413))
def clone_voice(
    caller: CallerDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, FormFile(description="WAV, MP3, M4A or FLAC; 10 s to 5 min")],
    transcript: Annotated[str | None, Form(max_length=5000)] = None,
) -> VoiceOut:
    """Clone a voice from a recording and its ``transcript`` (transcribed when omitted).
    The voice speaks with Qwen3-TTS (a GPU worker)."""
    settings = get_settings()
    data = read_upload(file, MAX_RECORDING_BYTES)
    with session_scope(settings.database_url) as session:
        entry = voice_library.create_clone(
            session,
            settings,
            storage(),
            caller.user_id,
            name,
            data,
            file.filename or "recording",
            transcript,
        )
    return voice_out(settings, entry)


@router.get("/voices/{voice_id}", response_model=VoiceOut, responses=errors(404))
def get_voice(caller: CallerDep, voice_id: VoiceId) -> VoiceOut:
    """One voice of the caller's library."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        entry = voice_library.get_voice(session, settings, caller.user_id, voice_id)
    return voice_out(settings, entry)


@router.delete("/voices/{voice_id}", status_code=204, responses=errors(404))
def delete_voice(caller: CallerDep, voice_id: VoiceId) -> Response:
    """Delete one of the caller's own voices and its files (built-ins: 404)."""
    with session_scope(get_settings().database_url) as session:
        voice_library.delete_voice(session, storage(), caller.user_id, voice_id)
    return Response(status_code=204)


@router.post("/voice-trials", status_code=202, response_model=TrialOut, responses=errors(400, 404))
def try_voice(caller: CallerDep, body: TrialIn) -> TrialOut:
    """Have a voice say ``text`` (up to 500 characters); poll ``GET /voice-trials/{id}``
    until ``status`` is done (the audio is then ``GET /files/{audio_file_id}``)."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        trial_id = voice_library.start_trial(
            session, redis_conn(), settings, caller.user_id, body.voice_id, body.text
        )
    with session_scope(settings.database_url) as session:
        return trial_out(voice_library.get_trial(session, caller.user_id, trial_id))


@router.get("/voice-trials", response_model=list[TrialOut])
def list_trials(
    caller: CallerDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[TrialOut]:
    """The caller's latest voice tries, newest first."""
    with session_scope(get_settings().database_url) as session:
        return [trial_out(t) for t in voice_library.list_trials(session, caller.user_id, limit)]


@router.get("/voice-trials/{trial_id}", response_model=TrialOut, responses=errors(404))
def get_trial(caller: CallerDep, trial_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> TrialOut:
    """One of the caller's voice tries."""
    with session_scope(get_settings().database_url) as session:
        return trial_out(voice_library.get_trial(session, caller.user_id, trial_id))


@router.post(
    "/voice-designs", status_code=202, response_model=DesignOut, responses=errors(400, 404)
)
def design_voice(caller: CallerDep, body: DesignIn) -> DesignOut:
    """Design a voice from a description: three takes of ``text`` are made on a GPU
    worker; poll ``GET /voice-designs/{id}`` until ``ready``, then choose one."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        design_id = voice_library.start_design(
            session, redis_conn(), settings, storage(), caller.user_id, body.description, body.text
        )
    return _design(caller.user_id, design_id)


def _design(user_id: int, design_id: str) -> DesignOut:
    with session_scope(get_settings().database_url) as session:
        view = voice_library.design_status(session, redis_conn(), storage(), user_id, design_id)
    return design_out(view)


@router.get("/voice-designs/{design_id}", response_model=DesignOut, responses=errors(404))
def get_design(caller: CallerDep, design_id: DesignId) -> DesignOut:
    """How one of the caller's design requests stands."""
    return _design(caller.user_id, design_id)


@router.post(
    "/voice-designs/{design_id}/choose",
    status_code=201,
    response_model=VoiceOut,
    responses=errors(400, 404),
)
def choose_design(caller: CallerDep, design_id: DesignId, body: DesignChoice) -> VoiceOut:
    """Keep take ``index`` of a ready design as the caller's voice ``name``."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        entry = voice_library.choose_design_sample(
            session, storage(), caller.user_id, design_id, body.index, body.name
        )
    return voice_out(settings, entry)
