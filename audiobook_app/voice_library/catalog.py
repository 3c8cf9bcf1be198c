"""The voice library's catalogue: which voices an author may use, one voice's entry,
and the engine parameters a worker speaks a voice with (:func:`voice_config`).

Library ids (strings): a built-in Piper voice or variant by its
:class:`~audiobook_app.voices.VoiceChoice` id (``"joe-deep"``); a Qwen3-TTS CustomVoice
speaker as ``"qwen:<speaker>"``, offered where ``settings.qwen_custom_voice_dir`` names
a model folder (its speakers are read from the folder's ``config.json``); an author's
own voice (a :class:`Voice` row, cloned or designed) as ``"v<row id>"``. Another
author's voice reads exactly like a missing one (:class:`NotFoundError`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from audiobook_app.accounts.ownership import get_owned
from audiobook_app.db.models import File, User, Voice
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage
from audiobook_app.voices import BUILTIN_VOICES
from pipeline.config import VoiceConfig
from pipeline.errors import ConfigError, NotFoundError

log = logging.getLogger(__name__)
QWEN = "qwen3-tts"
QWEN_PREFIX = "qwen:"
DATE_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class VoiceEntry:
    """One voice as the Voices page shows it. ``kind``: builtin, designed or cloned;
    ``sample_url``: a static sample, the author's file route, or "" (none yet);
    ``owned``: the author's own (deletable); ``created``: "YYYY-MM-DD HH:MM" UTC or ""."""

    id: str
    name: str
    kind: str
    engine: str
    language: str = "English"
    description: str = ""
    sample_url: str = ""
    owned: bool = False
    created: str = ""


# --- Listing and lookup


def active_user(session: Session, user_id: int) -> User:
    """The user ``user_id``. Raises NotFoundError when unknown or disabled."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise NotFoundError(f"no user {user_id}")
    return user


def file_ids(session: Session, keys: list[str]) -> dict[str, int]:
    """Stored key -> id of its :class:`File` row (served at ``/files/<id>``), for the keys
    that have one."""
    wanted = [k for k in keys if k]
    if not wanted:
        return {}
    rows = session.exec(select(File).where(col(File.key).in_(wanted))).all()
    return {row.key: row.id for row in rows}


def qwen_speakers(settings: Settings) -> list[str]:
    """The CustomVoice speakers of ``settings.qwen_custom_voice_dir`` (its config.json's
    ``talker_config.spk_id``), sorted; [] when unset or unreadable (logged)."""
    folder = settings.qwen_custom_voice_dir
    if folder is None:
        return []
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return sorted(config["talker_config"]["spk_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("no Qwen3-TTS speakers from %s: %s", folder, exc)
        return []


def _speaker_entry(speaker: str) -> VoiceEntry:
    label = speaker.replace("_", " ").title()
    return VoiceEntry(
        id=QWEN_PREFIX + speaker, name=f"{label} · Qwen3-TTS speaker", kind="builtin", engine=QWEN
    )


def _row_entry(row: Voice, sample_url: str, user_id: int) -> VoiceEntry:
    return VoiceEntry(
        id=f"v{row.id}",
        name=row.name,
        kind=str(row.kind),
        engine=row.engine,
        language=row.language or "English",
        description=row.description or "",
        sample_url=sample_url,
        owned=row.owner_id == user_id,
        created=row.created_at.strftime(DATE_FORMAT),
    )


def row_entries(session: Session, rows: list[Voice], user_id: int) -> list[VoiceEntry]:
    """The library entries of Voice rows (their samples served at ``/files/<id>``)."""
    ids = file_ids(session, [r.sample_key or "" for r in rows])
    urls = {r.id: f"/files/{ids[r.sample_key]}" if r.sample_key in ids else "" for r in rows}
    return [_row_entry(r, urls[r.id], user_id) for r in rows]


def list_voices(session: Session, settings: Settings, user_id: int) -> list[VoiceEntry]:
    """The voices ``user_id`` may use: the built-ins, the configured Qwen3-TTS speakers,
    then their own voices, oldest first; never another author's. Raises NotFoundError
    for an unknown or disabled user."""
    active_user(session, user_id)
    builtins = [
        VoiceEntry(v.id, v.label, "builtin", v.engine, sample_url=v.sample_url)
        for v in BUILTIN_VOICES
    ]
    rows = session.exec(
        select(Voice)
        .where((Voice.owner_id == user_id) | col(Voice.owner_id).is_(None))
        .order_by(col(Voice.created_at), col(Voice.id))
    ).all()
    speakers = [_speaker_entry(s) for s in qwen_speakers(settings)]
    return builtins + speakers + row_entries(session, list(rows), user_id)


def _row_id(voice_id: str) -> int | None:
    digits = voice_id[1:]
    return int(digits) if voice_id.startswith("v") and digits.isdigit() else None


def owned_voice(session: Session, user_id: int, voice_id: str) -> Voice:
    """The :class:`Voice` row behind library id ``voice_id`` (``"v<row id>"``) if
    ``user_id`` may use it. Raises NotFoundError (another author's reads as missing)."""
    row_id = _row_id(voice_id)
    if row_id is None:
        raise NotFoundError(f"no voice {voice_id!r}")
    try:
        return get_owned(session, active_user(session, user_id), Voice, row_id)
    except NotFoundError:
        raise NotFoundError(f"no voice {voice_id!r}") from None


def get_voice(session: Session, settings: Settings, user_id: int, voice_id: str) -> VoiceEntry:
    """The library entry ``voice_id`` for ``user_id``. Raises NotFoundError for an
    unknown id, a Qwen speaker the configured model lacks, or another author's voice."""
    for v in BUILTIN_VOICES:
        if v.id == voice_id:
            return VoiceEntry(v.id, v.label, "builtin", v.engine, sample_url=v.sample_url)
    if voice_id.startswith(QWEN_PREFIX):
        if voice_id[len(QWEN_PREFIX) :] not in qwen_speakers(settings):
            raise NotFoundError(f"no voice {voice_id!r} (no such Qwen3-TTS speaker configured)")
        return _speaker_entry(voice_id[len(QWEN_PREFIX) :])
    return row_entries(session, [owned_voice(session, user_id, voice_id)], user_id)[0]


# --- What a worker synthesizes with


def model_folder(folder: Path | None, model: str, variable: str) -> str:
    """``folder`` as a string. Raises ConfigError naming ``variable`` when it is unset."""
    if folder is None:
        raise ConfigError(
            f"this voice needs the Qwen3-TTS {model} model, which this server does not have: "
            f"the operator sets {variable} on the GPU workers"
        )
    return str(folder)


def _cached_reference(storage: Storage, key: str, cache_dir: Path) -> Path:
    """The reference WAV ``key`` as a local file under ``cache_dir``, fetched once (the
    name holds a digest of the key: a new reference is a new file)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"reference-{digest}.wav"
    if not path.is_file():
        storage.get_file(key, path)
    return path


def voice_params(
    session: Session, settings: Settings, user_id: int, voice_id: str
) -> tuple[VoiceConfig, str | None]:
    """The engine parameters of ``voice_id`` for ``user_id`` without its reference
    recording, and that recording's storage key (None for voices without one): what
    :func:`voice_config` completes on a worker, and what a job records to fetch later.

    A built-in: its own config. A Qwen speaker: the CustomVoice model folder
    (``settings.qwen_custom_voice_dir``). A cloned or designed voice: the Base model
    folder (``settings.qwen_base_dir``) and its transcript as ``reference_text``. Raises
    NotFoundError (unknown or not the user's) and ConfigError (the model folder it needs
    is not configured)."""
    for v in BUILTIN_VOICES:
        if v.id == voice_id:
            return v.config, None
    if voice_id.startswith(QWEN_PREFIX):
        folder = model_folder(
            settings.qwen_custom_voice_dir, "CustomVoice", "AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR"
        )
        get_voice(session, settings, user_id, voice_id)  # a speaker of that model
        speaker = voice_id[len(QWEN_PREFIX) :]
        return VoiceConfig(engine=QWEN, model_dir=folder, narrator=speaker), None
    row = owned_voice(session, user_id, voice_id)
    params = {k: v for k, v in (row.params or {}).items() if k in VoiceConfig.model_fields}
    if row.engine != QWEN or not row.reference_key:
        return VoiceConfig.model_validate({**params, "engine": row.engine}), None
    folder = model_folder(settings.qwen_base_dir, "Base", "AUDIOBOOK_QWEN_BASE_DIR")
    fields = {"engine": QWEN, "narrator": "", "model_dir": folder}
    config = VoiceConfig.model_validate(
        {**params, **fields, "reference_text": row.reference_text or ""}
    )
    return config, row.reference_key


def voice_config(
    session: Session,
    settings: Settings,
    storage: Storage,
    user_id: int,
    voice_id: str,
    cache_dir: Path,
) -> VoiceConfig:
    """The engine parameters a worker speaks ``voice_id`` with, for ``user_id``:
    :func:`voice_params`, with a clone's (or designed voice's) reference WAV fetched from
    storage into ``cache_dir`` once (``reference_audio``: that local file). Raises
    NotFoundError (unknown or not the user's), ConfigError (the model folder it needs
    is not configured), StorageError.
    """
    config, reference_key = voice_params(session, settings, user_id, voice_id)
    if reference_key is None:
        return config
    reference = _cached_reference(storage, reference_key, cache_dir)
    return config.model_copy(update={"reference_audio": str(reference)})
