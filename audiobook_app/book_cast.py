"""A book's cast: who reads what, and the config a job of the book runs with.

The cast lives on the book row as library voice ids (``Book.casting``: ``{"mode": single |
dual | full, "narrator": id, "dialogue": id | None, "characters": {name: id}}``, ids as
:mod:`audiobook_app.voice_library` names them); the characters are those the inspect job
found (``Book.speakers``). :func:`pipeline_config` resolves the cast, the book's config
overrides and its lexicon (:mod:`audiobook_app.book_fixes`) into the
:class:`PipelineConfig` a job runs with (``library.start`` calls it). Recasting a
character changes the ids of that character's segments only, so a new job synthesizes
those alone (:func:`audiobook_app.book_fixes.pending_fix` counts them).

Each function checks ownership like :mod:`audiobook_app.library` (another author's book or
voice raises :class:`NotFoundError`); a refused cast raises :class:`CastError` saying
what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from audiobook_app import library, voice_library
from audiobook_app.db import repo
from audiobook_app.db.models import Book
from audiobook_app.settings import Settings
from audiobook_app.voice_library import catalog
from audiobook_app.voices import BUILTIN_VOICES
from pipeline.config import STORAGE_REF, PipelineConfig, VoiceConfig
from pipeline.errors import CastError, ConfigError, NotFoundError

MODES = ("single", "dual", "full")
DEFAULT_NARRATOR = BUILTIN_VOICES[0].id
NARRATOR_PICK = "narrator"  # a picker's "no voice of its own": the narrator reads it
TOP_CHARACTERS = 20  # characters the page lists (most lines first)


@dataclass(frozen=True)
class Cast:
    """A book's cast as library voice ids. ``dialogue`` "" and a character missing from
    ``characters`` are read by the narrator; ``characters`` counts in ``full`` mode
    only, ``dialogue`` in ``dual`` and ``full`` (the choices of other modes are kept)."""

    mode: str = "single"
    narrator: str = DEFAULT_NARRATOR
    dialogue: str = ""
    characters: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``Book.casting`` form."""
        return {
            "mode": self.mode,
            "narrator": self.narrator,
            "dialogue": self.dialogue or None,
            "characters": dict(self.characters),
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Cast:
        """Read ``Book.casting`` (an old ``{"narrator": id}`` is a single-voice cast)."""
        data = data or {}
        return cls(
            mode=data.get("mode") or "single",
            narrator=data.get("narrator") or DEFAULT_NARRATOR,
            dialogue=data.get("dialogue") or "",
            characters=dict(data.get("characters") or {}),
        )


@dataclass(frozen=True)
class VoiceOption:
    """One entry of a voice picker: a library id and its name."""

    id: str
    label: str


@dataclass(frozen=True)
class CharacterRow:
    """A character of the book: ``lines`` attributed to them, ``voice`` their library
    voice id or :data:`NARRATOR_PICK`."""

    name: str
    lines: int
    voice: str = NARRATOR_PICK


@dataclass(frozen=True)
class CastView:
    """What the book page's cast controls show: the cast (pickers' values, with
    :data:`NARRATOR_PICK` for "the narrator reads it"), the narrator's sample, the top
    :data:`TOP_CHARACTERS` characters, how many more speak, and the voices to pick."""

    mode: str = "single"
    narrator: str = DEFAULT_NARRATOR
    narrator_sample: str = BUILTIN_VOICES[0].sample_url
    dialogue: str = NARRATOR_PICK
    characters: list[CharacterRow] = field(default_factory=list)
    more_characters: int = 0
    voices: list[VoiceOption] = field(default_factory=list)


# --- The cast


def cast_of(session: Session, user_id: int, book_id: int) -> Cast:
    """The stored cast of one of the user's books. Raises NotFoundError."""
    return Cast.from_dict(library.owned_book(session, user_id, book_id).casting)


def cast_view(session: Session, settings: Settings, user_id: int, book_id: int) -> CastView:
    """The cast controls' view of one of the user's books. Raises NotFoundError."""
    book = library.owned_book(session, user_id, book_id)
    cast = Cast.from_dict(book.casting)
    voices = voice_library.list_voices(session, settings, user_id)
    samples = {v.id: v.sample_url for v in voices}
    rows = [
        CharacterRow(s["name"], int(s["lines"]), cast.characters.get(s["name"], NARRATOR_PICK))
        for s in book.speakers[:TOP_CHARACTERS]
    ]
    return CastView(
        mode=cast.mode,
        narrator=cast.narrator,
        narrator_sample=samples.get(cast.narrator, ""),
        dialogue=cast.dialogue or NARRATOR_PICK,
        characters=rows,
        more_characters=max(0, len(book.speakers) - TOP_CHARACTERS),
        voices=[VoiceOption(v.id, v.name) for v in voices],
    )


def set_cast(
    session: Session,
    settings: Settings,
    user_id: int,
    book_id: int,
    mode: str,
    narrator: str,
    dialogue: str | None = None,
    characters: dict[str, str] | None = None,
) -> Cast:
    """Store the cast of one of the user's books (it applies from the next Start).

    ``dialogue`` and each character's voice are library ids, or None, "" or
    :data:`NARRATOR_PICK` for "the narrator reads it"; ``characters`` are names the
    inspect job found (``Book.speakers``). Raises NotFoundError and CastError: a mode
    other than single, dual or full; a voice not in the author's library; a character
    who does not speak in the book; dual without a dialogue voice; full with neither a
    cast character nor a dialogue voice.
    """
    book = library.owned_book(session, user_id, book_id)
    if mode not in MODES:
        raise CastError(f"unknown cast mode {mode!r}: choose single, dual or full")
    if not narrator:
        raise CastError("choose the narrator's voice")
    check_voice(session, settings, user_id, narrator, "the narrator")
    dialogue = _own_voice(dialogue)
    if dialogue:
        check_voice(session, settings, user_id, dialogue, "the dialogue voice")
    known = {s["name"] for s in book.speakers}
    cast_characters = {}
    for name, voice in (characters or {}).items():
        if name not in known:
            raise CastError(f"{name!r} does not speak in this book: cast a character it lists")
        if voice := _own_voice(voice):
            check_voice(session, settings, user_id, voice, name)
            cast_characters[name] = voice
    if mode == "dual" and not dialogue:
        raise CastError("narrator + dialogue voice: choose the voice that reads the quotations")
    if mode == "full" and not cast_characters and not dialogue:
        raise CastError(
            "a full cast needs at least one character with a voice of their own "
            "(or a voice for all the other dialogue)"
        )
    cast = Cast(mode, narrator, dialogue, cast_characters)
    book.casting = cast.to_dict()
    session.add(book)
    repo.audit(session, user_id, "book.cast", "book", str(book_id), mode=mode)
    return cast


def save_cast_view(
    session: Session, settings: Settings, user_id: int, book_id: int, view: CastView
) -> CastView:
    """Store the cast the page's controls show (``view``: its top characters' pickers;
    characters it does not list keep their voices) with :func:`set_cast`; return the
    stored cast's view. Raises as :func:`set_cast`."""
    characters = cast_of(session, user_id, book_id).characters
    characters |= {row.name: row.voice for row in view.characters}
    set_cast(
        session, settings, user_id, book_id, view.mode, view.narrator, view.dialogue, characters
    )
    return cast_view(session, settings, user_id, book_id)


def _own_voice(voice: str | None) -> str:
    return "" if not voice or voice == NARRATOR_PICK else voice


def check_voice(
    session: Session, settings: Settings, user_id: int, voice_id: str, role: str
) -> None:
    """Refuse a voice ``user_id`` may not use. Raises CastError naming ``role``."""
    try:
        voice_library.get_voice(session, settings, user_id, voice_id)
    except NotFoundError:
        raise CastError(
            f"{role}: there is no voice {voice_id!r} in your voice library; choose another"
        ) from None


def resolve_voice(
    session: Session, settings: Settings, user_id: int, voice_id: str, role: str = "the cast"
) -> VoiceConfig:
    """The engine parameters a job speaks library voice ``voice_id`` with: those of
    :func:`voice_library.voice_config`, except that a clone's reference recording stays
    in storage (``reference_audio = "storage:<key>"``; the worker that speaks it fetches
    it). Raises CastError naming ``role`` (not in the user's library: deleted, another
    author's) and ConfigError (the Qwen3-TTS model folder it needs is not configured)."""
    check_voice(session, settings, user_id, voice_id, role)
    config, reference_key = catalog.voice_params(session, settings, user_id, voice_id)
    if reference_key is None:
        return config
    return config.model_copy(update={"reference_audio": STORAGE_REF + reference_key})


def pipeline_config(
    session: Session, settings: Settings, user_id: int, book: Book, speed: float = 1.0
) -> PipelineConfig:
    """The config a job of ``book`` runs with: its stored config overrides and lexicon
    (``Book.config_overrides``), its cast resolved into voices (:func:`resolve_voice`;
    only the roles its mode uses), every voice's pace multiplied by ``speed`` (1 = the
    voice's own). Raises CastError (a cast voice gone from the library) and ConfigError
    (invalid overrides, a speed that is not positive or beyond what a voice allows, a
    model folder not configured)."""
    if speed <= 0:
        raise ConfigError(f"speed must be positive (got {speed})")
    cast = Cast.from_dict(book.casting)

    def voice(voice_id: str, role: str) -> dict:
        config = resolve_voice(session, settings, user_id, voice_id, role)
        return {**config.model_dump(), "length_scale": round(config.length_scale / speed, 3)}

    dialogue = cast.dialogue if cast.mode != "single" else ""
    characters = cast.characters if cast.mode == "full" else {}
    sections = {
        **(book.config_overrides or {}),
        "voice": voice(cast.narrator, "the narrator"),
        "cast": {
            "mode": cast.mode,
            "dialogue": voice(dialogue, "the dialogue voice") if dialogue else None,
            "characters": {name: voice(v, name) for name, v in characters.items()},
        },
    }
    return PipelineConfig().with_overrides(**sections)


def casting_of_config(config: PipelineConfig) -> dict:
    """``Book.casting`` for a job started with an explicit ``config`` (the CLI's
    submit): each voice as the built-in voice with exactly its parameters. A voice the
    library does not hold leaves its role to the default narrator (the narrator) or to
    the narrator (the others); a mode left without the voices it needs is single."""
    ids = {v.config: v.id for v in BUILTIN_VOICES}
    dialogue = ids.get(config.cast.dialogue, "") if config.cast.dialogue else ""
    characters = {n: ids[v] for n, v in config.cast.characters.items() if v in ids}
    mode = config.cast.mode
    if (mode == "dual" and not dialogue) or (mode == "full" and not (dialogue or characters)):
        mode = "single"
    return Cast(mode, ids.get(config.voice, DEFAULT_NARRATOR), dialogue, characters).to_dict()
