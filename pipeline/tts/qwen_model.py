"""Finding, importing and loading a local Qwen3-TTS model folder (never a download).

A released model folder holds ``config.json`` (``tts_model_type``: custom_voice, base or
voice_design), ``generation_config.json``, ``*.safetensors``, the text tokenizer and
``speech_tokenizer/`` (the 12 Hz codec, with its own weights). On CUDA it loads in
bfloat16, on CPU in float32.

qwen-tts 0.1.1 imports its 25 Hz tokenizer (``sox``, ``torchaudio``) even though the
released 12 Hz models never use it; it is installed ``--no-deps`` (requirements-nodeps.txt)
and, where those two are absent, :func:`import_qwen_tts` lends stand-ins for the
duration of the import.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import EngineError

ModelKind = Literal["custom_voice", "base", "voice_design"]


def check_model_dir(model_dir: str | Path) -> tuple[Path, ModelKind]:
    """The model folder and its kind (config.json's ``tts_model_type``) when the folder
    has what ``from_pretrained`` reads; :class:`EngineError` saying what is missing."""
    if not str(model_dir):
        raise EngineError(
            "no Qwen3-TTS model folder configured: set the voice's model_dir to a local "
            "copy of a Qwen3-TTS-12Hz model (weights are never downloaded)"
        )
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise EngineError(f"Qwen3-TTS model folder {str(folder)!r} does not exist")
    needs = {
        "speech_tokenizer/config.json": "lacks speech_tokenizer/ (the 12 Hz codec)",
        "generation_config.json": "lacks generation_config.json",
        "config.json": "lacks config.json",
    }
    for name, what in needs.items():
        if not (folder / name).is_file():
            raise EngineError(
                f"Qwen3-TTS model folder {str(folder)!r} {what}: copy the whole model"
            )
    if not any(folder.glob("*.safetensors")) or not any(
        folder.glob("speech_tokenizer/*.safetensors")
    ):
        raise EngineError(f"Qwen3-TTS model folder {str(folder)!r} has no *.safetensors weights")
    try:
        kind = json.loads((folder / "config.json").read_text(encoding="utf-8"))["tts_model_type"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"unreadable config.json in {str(folder)!r}: {exc}") from exc
    if kind not in ("custom_voice", "base", "voice_design"):
        raise EngineError(f"{str(folder)!r} is not a Qwen3-TTS model (tts_model_type {kind!r})")
    return folder, kind


def import_qwen_tts() -> types.ModuleType:
    """``import qwen_tts`` with stand-ins for ``sox``/``torchaudio`` where they are absent
    or broken (only its unused 25 Hz tokenizer needs them; a CUDA torchaudio wheel does
    not load on a CPU torch). The stand-ins leave ``sys.modules`` once it is imported, and
    transformers is imported first so that it records torchaudio as absent. Its 25 Hz
    tokenizer's flash-attn notice (printed at import) is swallowed."""
    if "qwen_tts" in sys.modules:
        return sys.modules["qwen_tts"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read at import by huggingface_hub
    importlib.import_module("transformers")
    stand_ins: dict[str, types.ModuleType] = {}
    for name, parts in (("sox", ("sox",)), ("torchaudio.compliance.kaldi", _TORCHAUDIO)):
        try:
            importlib.import_module(name)
        except Exception:  # ImportError, or OSError from a torchaudio built for CUDA
            for key in [k for k in sys.modules if k.split(".")[0] == parts[0]]:
                del sys.modules[key]
            stand_ins |= _stand_ins(parts)
    sys.modules.update(stand_ins)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module("qwen_tts")
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


_TORCHAUDIO = ("torchaudio", "torchaudio.compliance", "torchaudio.compliance.kaldi")


def _stand_ins(names: Sequence[str]) -> dict[str, types.ModuleType]:
    """Empty modules ``names`` (a package chain), each child an attribute of its parent."""
    modules = {
        name: types.ModuleType(name, "stand-in: the 25 Hz tokenizer is unused") for name in names
    }
    for parent, child in zip(names, names[1:]):
        setattr(modules[parent], child.rsplit(".", 1)[1], modules[child])
    return modules


def load_model(model_dir: str | Path, want: ModelKind, device: str | None, threads: int = 0) -> Any:
    """A ``Qwen3TTSModel`` of kind ``want`` from ``model_dir`` on ``device`` (default:
    cuda:0 if torch sees a GPU, else cpu). Raises :class:`EngineError`."""
    folder, kind = check_model_dir(model_dir)
    if kind != want:
        raise EngineError(
            f"{str(folder)!r} is a {kind!r} Qwen3-TTS model; this voice needs a {want!r} one "
            "(CustomVoice for a speaker, Base for a clone, VoiceDesign to design)"
        )
    try:
        import torch

        qwen_tts = import_qwen_tts()
    except ImportError as exc:
        raise EngineError(f"Qwen3-TTS needs torch and qwen-tts installed: {exc}") from exc
    device = device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    if threads and not cuda:
        torch.set_num_threads(threads)
    attention = "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") else "sdpa"
    try:
        return qwen_tts.Qwen3TTSModel.from_pretrained(
            str(folder),
            device_map=device,
            dtype=torch.bfloat16 if cuda else torch.float32,
            attn_implementation=attention,
            local_files_only=True,
        )
    except Exception as exc:  # transformers/safetensors raise many kinds
        raise EngineError(f"could not load Qwen3-TTS model {str(folder)!r}: {exc}") from exc


def qwen_status(model_dir: str | Path, *, require_gpu: bool = True) -> tuple[bool, str]:
    """(usable, detail) for ``doctor`` and ``/health``: torch and qwen-tts installed,
    a GPU that torch sees (unless not ``require_gpu``) and a model folder with what
    loading needs. Loads nothing heavier than torch."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed (GPU workers install requirements-gpu.txt)"
    if importlib.util.find_spec("qwen_tts") is None:
        return False, "qwen-tts is not installed (pip install --no-deps -r requirements-nodeps.txt)"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = f"GPU {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    else:
        gpu = "no GPU: torch sees none (Qwen3-TTS on CPU is far slower than real time)"
    try:
        folder, kind = check_model_dir(model_dir)
    except EngineError as exc:
        return False, f"{exc}; {gpu}"
    usable = torch.cuda.is_available() or not require_gpu
    return usable, f"{kind} model at {folder}; {gpu}"
