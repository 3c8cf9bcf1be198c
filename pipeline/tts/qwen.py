"""Qwen3-TTS (GPU): CustomVoice speakers, voice clones (Base model) and voice design.

The model is the operator's local folder (``VoiceConfig.model_dir``; never downloaded,
see :mod:`pipeline.tts.qwen_model`). Audio comes at 24 kHz; each batch's length is capped
from its texts and each result checked, and retried, by :class:`OutputGuard`
(:mod:`pipeline.tts.qwen_guard`). A clone's prompt (reference codes + speaker embedding)
is built once per engine, so a voice stays the same across a book.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile
import soxr

from pipeline.config import STORAGE_REF, VoiceConfig
from pipeline.errors import ConfigError, EngineError
from pipeline.tts.qwen_guard import (
    DEFAULT_MAX_BATCH,
    NATIVE_RATE_HZ,
    OutputGuard,
    plan_batches,
    speech_units,
    synthesize_guarded,
)
from pipeline.tts.qwen_model import check_model_dir, load_model, qwen_status

__all__ = [
    "NATIVE_RATE_HZ",
    "OutputGuard",
    "QwenEngine",
    "check_model_dir",
    "design_voice_samples",
    "plan_batches",
    "qwen_settings",
    "qwen_status",
    "speech_units",
]

ENGINE_NAME = "qwen3-tts"
REFERENCE_SECONDS = (1.0, 60.0)  # usable clone reference clips (3-20 s is the sweet spot)
RETRY_COOLING = 0.85  # retry k samples at temperature * 0.85**k (talker and sub-talker)


def qwen_settings(voice: VoiceConfig) -> dict[str, object]:
    """What is hashed into segment ids: engine, model folder name, language and either the
    speaker (+ instruct) or, for a clone, a SHA-256 of the reference clip's bytes and its
    transcript (not its path: moving the file re-synthesizes nothing; a reference in the
    platform's storage, ``storage:<key>``, is immutable and hashed by its key). Names are
    lower-cased as the model compares them. Raises :class:`ConfigError` when the voice is
    neither or the reference clip is unreadable."""
    settings: dict[str, object] = {
        "engine": ENGINE_NAME,
        "model": Path(voice.model_dir).name,
        "language": voice.language.lower(),
    }
    if _mode(voice) == "custom_voice":
        return settings | {"speaker": voice.narrator.lower(), "instruct": voice.instruct}
    stored = voice.reference_audio.startswith(STORAGE_REF)  # immutable: hash its key
    digest = hashlib.sha256(
        voice.reference_audio.encode("utf-8") if stored else _reference_bytes(voice)
    )
    digest.update(b"\0" + voice.reference_text.encode("utf-8"))
    return settings | {"reference": digest.hexdigest()}


def _mode(voice: VoiceConfig) -> Literal["custom_voice", "clone"]:
    if voice.narrator and not voice.reference_audio:
        return "custom_voice"
    if voice.reference_audio and not voice.narrator:
        if not voice.reference_text.strip():
            raise ConfigError(
                "a Qwen3-TTS clone needs reference_text: the transcript of reference_audio"
            )
        return "clone"
    raise ConfigError(
        "a Qwen3-TTS voice is either a CustomVoice speaker (narrator) or a clone "
        "(reference_audio + reference_text with an empty narrator), not "
        + ("both" if voice.narrator else "neither")
    )


def _reference_bytes(voice: VoiceConfig) -> bytes:
    try:
        return Path(voice.reference_audio).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the clone's reference audio {voice.reference_audio!r}: {exc}"
        ) from exc


def _reference_audio(voice: VoiceConfig) -> np.ndarray:
    """The reference clip as 24 kHz mono float32 (read and resampled here, not by
    librosa, whose first call compiles for ~10 s). Raises :class:`ConfigError`."""
    try:
        data, rate = soundfile.read(voice.reference_audio, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise ConfigError(f"cannot read reference audio {voice.reference_audio!r}: {exc}") from exc
    mono = data.mean(axis=1)
    low, high = REFERENCE_SECONDS
    if not low <= mono.size / rate <= high:
        raise ConfigError(
            f"reference audio {voice.reference_audio!r} lasts {mono.size / rate:.1f} s: "
            f"use a clip of {low:g}-{high:g} s (3-20 s of clean speech works best)"
        )
    return _resample(mono, rate, NATIVE_RATE_HZ)


def _resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    if from_hz == to_hz:
        return audio.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(audio, from_hz, to_hz, quality="HQ"), dtype=np.float32)


def _run(
    call: Callable[..., tuple[list, int]], texts: list[str], **kwargs: Any
) -> list[np.ndarray]:
    """``call(texts, **kwargs)`` -> 24 kHz float32 audio; a batch that runs out of GPU
    memory is split in halves. Raises :class:`EngineError`."""
    import torch

    try:
        audios, rate = call(texts, **kwargs)
    except torch.cuda.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        if len(texts) == 1:
            raise EngineError(f"Qwen3-TTS ran out of GPU memory on {texts[0][:80]!r}") from exc
        half = len(texts) // 2
        return _run(call, texts[:half], **kwargs) + _run(call, texts[half:], **kwargs)
    except Exception as exc:  # the model raises ValueError, RuntimeError, AssertionError...
        raise EngineError(f"Qwen3-TTS failed on {texts[0][:80]!r}: {exc}") from exc
    return [
        _resample(np.asarray(a, dtype=np.float32).reshape(-1), rate, NATIVE_RATE_HZ) for a in audios
    ]


def _sampling(model: Any, texts: list[str], attempt: int, seed: int) -> dict[str, Any]:
    """Seeds torch for this batch (same texts, same attempt: same seed) and returns the
    sampling overrides of ``attempt`` (0: generation_config.json's; then cooler)."""
    import torch

    torch.manual_seed(
        (zlib.crc32("\n".join(texts).encode("utf-8")) + seed + 7919 * attempt) % 2**31
    )
    if not attempt:
        return {}
    defaults = model.generate_defaults
    cooling = RETRY_COOLING**attempt
    return {
        "temperature": defaults.get("temperature", 0.9) * cooling,
        "subtalker_temperature": defaults.get("subtalker_temperature", 0.9) * cooling,
    }


@dataclass
class QwenEngine:
    """A loaded Qwen3-TTS voice (see :class:`pipeline.tts.base.TTSEngine`). Build with
    :meth:`load`. ``synthesize_batch`` is the fast path: one call, many segments."""

    model: Any  # qwen_tts.Qwen3TTSModel
    config: VoiceConfig
    sample_rate_hz: int = NATIVE_RATE_HZ
    clone_prompt: list[Any] | None = None  # VoiceClonePromptItem, built once at load
    max_batch: int = DEFAULT_MAX_BATCH
    guard: OutputGuard = field(default_factory=OutputGuard)
    seed: int = 0
    name: str = ENGINE_NAME
    batches_run: int = 0  # generate calls so far, retries included

    @classmethod
    def load(
        cls,
        voice: VoiceConfig,
        *,
        device: str | None = None,
        sample_rate_hz: int | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        guard: OutputGuard | None = None,
        threads: int = 0,
    ) -> QwenEngine:
        """Load ``voice.model_dir`` (a CustomVoice model for a speaker, a Base model for a
        clone, whose prompt is built here once and reused for every call so the voice stays
        the same across a book). ``sample_rate_hz``: rate of the returned audio (default:
        the native 24000 Hz). ``threads`` caps torch's CPU threads (0 = default). Raises
        :class:`EngineError` (model folder) or :class:`ConfigError` (voice settings)."""
        mode = _mode(voice)
        model = load_model(
            voice.model_dir, "custom_voice" if mode == "custom_voice" else "base", device, threads
        )
        _check_voice(model, voice, mode)
        engine = cls(
            model=model,
            config=voice,
            sample_rate_hz=sample_rate_hz or NATIVE_RATE_HZ,
            max_batch=max_batch,
            guard=guard or OutputGuard(),
        )
        if mode == "clone":
            reference = _reference_audio(voice)
            try:
                engine.clone_prompt = model.create_voice_clone_prompt(
                    ref_audio=(reference, NATIVE_RATE_HZ), ref_text=voice.reference_text
                )
            except Exception as exc:
                raise EngineError(f"could not build the clone prompt: {exc}") from exc
        return engine

    @property
    def voice(self) -> str:
        """The speaker name, or "clone of <reference file name>"."""
        if self.config.narrator:
            return self.config.narrator
        return f"clone of {Path(self.config.reference_audio).name}"

    @property
    def settings(self) -> dict[str, object]:
        """Parameters hashed into segment ids (see :func:`qwen_settings`)."""
        return qwen_settings(self.config)

    def synthesize(self, text: str) -> np.ndarray:
        """Speak ``text``: float32 mono at :attr:`sample_rate_hz`. Raises :class:`EngineError`."""
        return self.synthesize_batch([text])[0]

    def synthesize_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Speak each of ``texts``; float32 mono arrays at :attr:`sample_rate_hz`, in the
        order of ``texts`` (empty text: empty array). Texts are batched by length
        (:func:`plan_batches`, at most :attr:`max_batch` a batch), each batch capped at
        :meth:`OutputGuard.max_new_tokens` and its results checked by :attr:`guard`.
        Raises :class:`EngineError`."""
        out = [np.zeros(0, dtype=np.float32) for _ in texts]
        spoken = [i for i, t in enumerate(texts) if t.strip()]
        for batch in plan_batches([texts[i] for i in spoken], self.max_batch):
            indices = [spoken[j] for j in batch]
            audios = synthesize_guarded(self._generate, [texts[i] for i in indices], self.guard)
            for i, audio in zip(indices, audios):
                out[i] = _resample(audio, NATIVE_RATE_HZ, self.sample_rate_hz)
        return out

    def _generate(self, texts: list[str], max_new_tokens: int, attempt: int) -> list[np.ndarray]:
        self.batches_run += 1
        kwargs = {
            "max_new_tokens": max_new_tokens,
            **_sampling(self.model, texts, attempt, self.seed),
        }
        voice = self.config
        if self.clone_prompt is not None:
            call = self.model.generate_voice_clone
            kwargs |= {"voice_clone_prompt": self.clone_prompt, "language": voice.language}
        else:
            call = self.model.generate_custom_voice
            kwargs |= {"speaker": voice.narrator, "language": voice.language}
            kwargs["instruct"] = voice.instruct or None
        return _run(call, texts, **kwargs)


def _check_voice(model: Any, voice: VoiceConfig, mode: str) -> None:
    """:class:`ConfigError` for a language or speaker the model does not know."""
    languages = model.get_supported_languages() or []
    if languages and voice.language.lower() not in languages:
        raise ConfigError(
            f"Qwen3-TTS language {voice.language!r} is not one of: {', '.join(languages)}"
        )
    speakers = model.get_supported_speakers() or []
    if mode == "custom_voice" and voice.narrator.lower() not in speakers:
        raise ConfigError(
            f"Qwen3-TTS speaker {voice.narrator!r} is not one of: {', '.join(speakers)}"
        )


def design_voice_samples(
    model_dir: str | Path,
    description: str,
    text: str,
    n: int = 3,
    *,
    language: str = "English",
    device: str | None = None,
    guard: OutputGuard | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """``n`` takes of ``text`` in a voice designed from ``description`` ("a warm, low
    female voice, unhurried") by a VoiceDesign model, as 24 kHz float32 arrays (one batch;
    each take samples differently). Save the one you like and clone it for a book.
    Raises :class:`EngineError`."""
    model = load_model(model_dir, "voice_design", device)

    def generate(texts: list[str], max_new_tokens: int, attempt: int) -> list[np.ndarray]:
        kwargs = {"max_new_tokens": max_new_tokens, **_sampling(model, texts, attempt, seed)}
        kwargs |= {"instruct": description, "language": language}
        return _run(model.generate_voice_design, texts, **kwargs)

    return synthesize_guarded(generate, [text] * n, guard or OutputGuard())
