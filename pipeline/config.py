"""Every tunable of one conversion, with documented defaults, loadable from YAML.

A job's config is :class:`PipelineConfig`; ``load_config(path)`` reads a YAML file whose
keys override the defaults (unknown keys are an error, so a typo never passes silently).
Units are in the field names. Audio targets follow ACX's submission requirements:
RMS -23..-18 dB, true peak <= -3 dBTP, noise floor <= -60 dB, MP3 CBR >= 192 kbps
44.1 kHz mono, room tone 0.5-1 s at the head and 1-5 s at the tail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import ConfigError

WORK_DIR = ".work"  # inside an output folder: the segment store (checkpoint) and scratch


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ENGINES = ("piper", "qwen3-tts")
# A VoiceConfig.reference_audio of "storage:<key>" names a clone reference in the
# platform's storage (immutable: a voice's reference never changes); workers fetch it
# before loading the voice, and segment ids hash the key instead of the file's bytes.
STORAGE_REF = "storage:"


class VoiceConfig(_Frozen):
    """One voice: its engine and every parameter that shapes its sound.

    Piper (CPU): ``narrator`` is the bundled voice id (``en_US-joe-medium``) or the path
    of a local ``.onnx`` voice; ``length_scale``/``noise_scale``/``noise_w_scale`` are
    Piper's ``SynthesisConfig`` names; ``pitch_semitones`` shifts pitch and formants
    together (the voice is synthesized that much slower and resampled, so its duration
    is kept): a variant of one voice that a listener tells apart.

    Qwen3-TTS (GPU): ``model_dir`` is the operator's local model folder (never
    downloaded); ``narrator`` is a CustomVoice speaker name (with an optional
    ``instruct`` style), or empty for a clone of ``reference_audio`` (a local audio file,
    or :data:`STORAGE_REF` + a storage key) whose transcript is ``reference_text`` (the
    Base model); ``language`` is the model's
    language name ("English", "Auto").
    """

    engine: str = "piper"
    narrator: str = "en_US-joe-medium"
    length_scale: float = Field(1.0, gt=0.3, le=3.0)  # >1 speaks slower
    noise_scale: float = Field(0.667, ge=0.0, le=2.0)
    noise_w_scale: float = Field(0.8, ge=0.0, le=2.0)
    pitch_semitones: float = Field(0.0, ge=-7.0, le=7.0)
    model_dir: str = ""
    instruct: str = Field("", max_length=500)
    reference_audio: str = ""
    reference_text: str = Field("", max_length=5000)
    language: str = "English"

    @model_validator(mode="after")
    def _known_engine(self) -> VoiceConfig:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {self.engine!r})")
        return self


class PauseConfig(_Frozen):
    """Silence (filled with room tone) inserted between segments, in milliseconds."""

    sentence_ms: int = Field(250, ge=0, le=5000)
    paragraph_ms: int = Field(700, ge=0, le=10000)
    section_break_ms: int = Field(2000, ge=0, le=10000)
    after_title_ms: int = Field(1500, ge=0, le=10000)


class MasteringConfig(_Frozen):
    """Loudness targets for each chapter file (ACX; see module docstring)."""

    # Aim 1 dB above ACX's centre: the true-peak limiter then takes 1-3.5 dB off peaky
    # TTS speech (measured on Piper chapters, more on short ones with long pauses), which
    # lands real chapters at about -20..-22.5 dB; the limiter never raises the level.
    target_rms_db: float = Field(-19.0, ge=-23.0, le=-18.0)
    true_peak_ceiling_dbtp: float = Field(-3.5, le=-3.0)  # margin under ACX's -3
    room_tone_db: float = Field(-72.0, le=-60.0)  # RMS of the room tone we lay down
    head_room_tone_ms: int = Field(750, ge=500, le=1000)
    tail_room_tone_ms: int = Field(2000, ge=1000, le=5000)
    sample_rate_hz: int = 44100


MP3_BITRATES_KBPS = (128, 192, 320)  # the choices offered; ACX: CBR 192 kbps or higher
ACX_MIN_MP3_KBPS = 192


class OutputConfig(_Frozen):
    """Which files to write.

    ``formats``: any of {m4b, mp3, wav, flac}. ``mp3_bitrate_kbps``: one of
    :data:`MP3_BITRATES_KBPS`; ``aac_bitrate_kbps``: the M4B's AAC (mono, 22050 Hz).
    ``acx`` keeps ACX's fixed targets: an MP3 below 192 kbps is refused (ACX audio
    submission requirements: MP3 CBR 192 kbps or higher). ``credits`` adds opening and
    closing credits tracks (ACX asks for both); ``retail_sample`` writes
    ``sample.mp3``, the first 5 minutes after the opening credits (ACX: 1-5 minutes),
    cut from the chapter files (so it needs mp3, flac or wav among the formats).
    ``subtitles`` writes WebVTT and SRT per chapter, ``readalong`` an EPUB 3 with Media
    Overlays (EPUB input only), ``audiobookshelf`` the ``abs/<Author>/<Title>/`` folder.
    """

    formats: tuple[str, ...] = ("m4b", "mp3")
    mp3_bitrate_kbps: int = 192
    aac_bitrate_kbps: int = Field(64, ge=32, le=256)  # M4B: AAC mono at 22050 Hz
    acx: bool = True
    credits: bool = False
    retail_sample: bool = False
    subtitles: bool = True
    readalong: bool = True
    audiobookshelf: bool = True

    @model_validator(mode="after")
    def _known_formats(self) -> OutputConfig:
        unknown = set(self.formats) - {"m4b", "mp3", "wav", "flac"}
        if unknown or not self.formats:
            raise ValueError(
                f"formats must be some of m4b, mp3, wav, flac (got {sorted(unknown) or 'none'})"
            )
        if self.mp3_bitrate_kbps not in MP3_BITRATES_KBPS:
            choices = ", ".join(map(str, MP3_BITRATES_KBPS))
            raise ValueError(
                f"mp3_bitrate_kbps must be one of {choices} (got {self.mp3_bitrate_kbps})"
            )
        if self.retail_sample and not set(self.formats) & {"mp3", "flac", "wav"}:
            raise ValueError(
                "the retail sample is cut from the chapter files: add MP3, FLAC or WAV, "
                "or turn the retail sample off"
            )
        if self.acx and self.mp3_bitrate_kbps < ACX_MIN_MP3_KBPS:
            raise ValueError(
                f"ACX mode needs MP3 at {ACX_MIN_MP3_KBPS} kbps or more "
                f"(got {self.mp3_bitrate_kbps}); turn acx off for a smaller file"
            )
        return self


class SegmentConfig(_Frozen):
    """Engine-sized chunking: a segment holds whole sentences up to ``max_chars``."""

    max_chars: int = Field(400, ge=50, le=5000)


class VerifyConfig(_Frozen):
    """Speech verification (:mod:`pipeline.verify`): every segment is transcribed by local
    Whisper and retaken when its word error rate is above ``wer_threshold`` (with at least
    ``min_word_errors`` wrong words) or its duration is implausible, at most
    ``max_retakes`` times. ``model_dir`` is a local CTranslate2 Whisper folder (a larger
    model than the bundled tiny.en hears better; never downloaded; "" = bundled)."""

    enabled: bool = True
    wer_threshold: float = Field(0.2, ge=0.0, le=1.0)
    min_word_errors: int = Field(2, ge=1, le=50)
    max_retakes: int = Field(2, ge=0, le=5)
    model_dir: str = ""


class SegmentFix(_Frozen):
    """An author's fix of one segment, keyed in :attr:`PipelineConfig.segment_fixes` by
    ``"<chapter index>:<segment position>"``. It applies only while that segment's
    planned text is still ``original`` (a fix of text that has since changed is ignored).
    ``text`` is spoken instead ("" keeps the original); ``take`` counts regenerations
    asked for: each one gives the segment a new id (:func:`pipeline.segment.segment_id`
    hashes it), so it is synthesized and heard again and its chapter mastered again."""

    original: str = Field(min_length=1, max_length=5000)
    text: str = Field("", max_length=5000)
    take: int = Field(0, ge=0, le=1000)


def preset_voice(value: object) -> object:
    """A voice given by a preset's name (``"joe-deep"``, see :mod:`pipeline.voices`) as
    that preset's :class:`VoiceConfig`; anything else unchanged. Raises ValueError (a
    :class:`ConfigError` once validated) for an unknown name."""
    if not isinstance(value, str):
        return value
    from pipeline.voices import PRESETS

    if value not in PRESETS:
        raise ValueError(f"unknown voice {value!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[value]


NARRATOR = "narrator"  # the role that reads narration (and everything, in single-voice mode)
DIALOGUE = "dialogue"  # the role that reads quoted speech no cast character claims


def chapter_role(index: int) -> str:
    """The role of the narrator's voice in chapter ``index`` when
    :attr:`PipelineConfig.chapter_voices` gives that chapter its own voice."""
    return f"{NARRATOR}@{index}"


class CastConfig(_Frozen):
    """Who reads what (the voices stage). Modes:

    * ``single``: the narrator (``PipelineConfig.voice``) reads everything;
    * ``dual``: the narrator reads narration, ``dialogue`` reads every quotation;
    * ``full``: each character named in ``characters`` (as ``audiobook inspect --json``
      lists them) reads their attributed quotations; other quotations go to ``dialogue``
      when it is set, else to the narrator.

    Roles are ``"narrator"``, ``"dialogue"`` and character names; a segment's ``voice``
    is its role, and :meth:`PipelineConfig.voice_of` gives the role's voice.
    """

    mode: Literal["single", "dual", "full"] = "single"
    dialogue: VoiceConfig | None = None
    characters: dict[str, VoiceConfig] = Field(default_factory=dict)

    @field_validator("dialogue", mode="before")
    @classmethod
    def _dialogue_preset(cls, value: object) -> object:
        return preset_voice(value)

    @field_validator("characters", mode="before")
    @classmethod
    def _character_presets(cls, value: object) -> object:
        if isinstance(value, dict):
            return {name: preset_voice(voice) for name, voice in value.items()}
        return value

    @model_validator(mode="after")
    def _complete(self) -> CastConfig:
        if self.mode == "dual" and self.dialogue is None:
            raise ValueError("cast mode 'dual' needs a 'dialogue' voice")
        if self.mode == "full" and not self.characters and self.dialogue is None:
            raise ValueError("cast mode 'full' needs 'characters' (name: voice) or 'dialogue'")
        reserved = {NARRATOR, DIALOGUE} & set(self.characters)
        if reserved:
            raise ValueError(f"{sorted(reserved)} cannot be a character name")
        return self


class PipelineConfig(_Frozen):
    """All tunables of one conversion. ``lexicon`` maps a term to its respelling."""

    voice: VoiceConfig = VoiceConfig()
    cast: CastConfig = CastConfig()
    pauses: PauseConfig = PauseConfig()
    mastering: MasteringConfig = MasteringConfig()
    output: OutputConfig = OutputConfig()
    segment: SegmentConfig = SegmentConfig()
    verify: VerifyConfig = VerifyConfig()
    segment_fixes: dict[str, SegmentFix] = Field(default_factory=dict)
    # chapter index (1-based) -> the voice that reads, in that chapter, everything the
    # narrator's voice would (narration, titles, and the dialogue no other voice claims):
    # a chapter regenerated with another voice (role chapter_role(index))
    chapter_voices: dict[int, VoiceConfig] = Field(default_factory=dict)
    lexicon: dict[str, str] = Field(default_factory=dict)
    speak_chapter_titles: bool = True

    @field_validator("chapter_voices", mode="before")
    @classmethod
    def _chapter_presets(cls, value: object) -> object:
        if isinstance(value, dict):
            return {index: preset_voice(voice) for index, voice in value.items()}
        return value

    @field_validator("voice", mode="before")
    @classmethod
    def _narrator_preset(cls, value: object) -> object:
        return preset_voice(value)

    def voice_of(self, role: str) -> VoiceConfig:
        """The voice that reads ``role`` ("narrator", "dialogue", a character name, see
        :class:`CastConfig`, or a chapter's narrator, :func:`chapter_role`). A role the
        cast does not name falls back to the dialogue voice (a character) or the
        narrator."""
        if role.startswith(f"{NARRATOR}@"):
            index = role.removeprefix(f"{NARRATOR}@")
            return (
                self.chapter_voices.get(int(index), self.voice) if index.isdigit() else self.voice
            )
        if role in self.cast.characters:
            return self.cast.characters[role]
        if role != NARRATOR and self.cast.dialogue is not None:
            return self.cast.dialogue
        return self.voice

    def voices(self) -> dict[str, VoiceConfig]:
        """Every role the cast names, with its voice (the narrator's first, the chapters'
        own narrators last)."""
        roles = {NARRATOR: self.voice}
        if self.cast.dialogue is not None:
            roles[DIALOGUE] = self.cast.dialogue
        chapters = {chapter_role(i): v for i, v in sorted(self.chapter_voices.items())}
        return roles | dict(self.cast.characters) | chapters

    def with_overrides(self, **sections: dict) -> PipelineConfig:
        """A copy with some sections' fields replaced, validated like a YAML file.

        Raises :class:`ConfigError` on unknown keys or out-of-range values.
        """
        merged = self.model_dump()
        for name, values in sections.items():
            if isinstance(merged.get(name), dict):
                merged[name] = {**merged[name], **values}
            else:
                merged[name] = values
        return _validate(merged, "overrides")


def _validate(data: object, source: str) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


def load_config(path: str | Path | None) -> PipelineConfig:
    """Read a YAML config file (or return the defaults for ``None``).

    Raises :class:`ConfigError` when the file is missing, is not YAML, or holds
    unknown keys or out-of-range values; the message names the file and the key.
    """
    if path is None:
        return PipelineConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".splitlines()[0]) from None
    return _validate(data, str(path))
