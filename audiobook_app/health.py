"""Health of the platform's parts: what ``audiobook doctor`` prints and ``/health`` serves.

Each check returns a :class:`HealthCheck`; ``ok`` is False for a part that is down or
misconfigured, and ``required`` says whether the platform can work without it (a GPU
engine that is not installed is not required; the database is).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rq import Worker
from sqlalchemy import text

from audiobook_app.db.migrate import current_revision, head_revision
from audiobook_app.db.session import get_engine
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from audiobook_app.storage import build_storage
from pipeline.config import VoiceConfig
from pipeline.tts import load_engine


@dataclass(frozen=True)
class HealthCheck:
    """One part's state: ``name``, ``ok``, a one-line ``detail``, ``required``."""

    name: str
    ok: bool
    detail: str
    required: bool = True


def _check(name: str, probe: Callable[[], str], *, required: bool = True) -> HealthCheck:
    try:
        return HealthCheck(name, True, probe(), required)
    except Exception as exc:  # every failure becomes a line of the report
        return HealthCheck(name, False, f"{type(exc).__name__}: {exc}".splitlines()[0], required)


def _database(settings: Settings) -> str:
    with get_engine(settings.database_url).connect() as conn:
        conn.execute(text("SELECT 1"))
    current, head = current_revision(settings.database_url), head_revision()
    if current != head:
        raise RuntimeError(f"schema at {current}, code expects {head}: run `audiobook db upgrade`")
    return f"{settings.database_url.split('://')[0]} reachable, schema at {head}"


def _redis(settings: Settings) -> str:
    info = queue.connect(settings).info("server")
    return f"{settings.redis_url} (Redis {info.get('redis_version')})"


def _storage(settings: Settings) -> str:
    build_storage(settings).check()
    where = (
        settings.storage_root
        if settings.storage_backend == "local"
        else f"s3://{settings.s3_bucket}"
    )
    return f"{settings.storage_backend} {where} writable"


def _piper() -> str:
    started = time.monotonic()
    engine = load_engine(VoiceConfig())
    audio = engine.synthesize("Testing.")
    if len(audio) == 0:
        raise RuntimeError("Piper produced no audio")
    return f"{engine.voice} spoke {len(audio) / engine.sample_rate_hz:.1f} s in {time.monotonic() - started:.1f} s"


def _qwen_folders(settings: Settings) -> dict[str, Path]:
    folders = {
        "CustomVoice": settings.qwen_custom_voice_dir,
        "Base": settings.qwen_base_dir,
        "VoiceDesign": settings.qwen_voice_design_dir,
    }
    return {name: folder for name, folder in folders.items() if folder is not None}


def _qwen(settings: Settings) -> str:
    """Whether this machine can run Qwen3-TTS: torch and qwen-tts installed, a GPU, and
    each configured model folder loadable (:func:`pipeline.tts.qwen.qwen_status`)."""
    missing = [m for m in ("torch", "qwen_tts") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            f"not installed ({', '.join(missing)}): GPU workers only, see Dockerfile target worker-gpu"
        )
    folders = _qwen_folders(settings)
    if not folders:
        raise RuntimeError(
            "no model folder configured: set AUDIOBOOK_QWEN_CUSTOM_VOICE_DIR, "
            "AUDIOBOOK_QWEN_BASE_DIR and/or AUDIOBOOK_QWEN_VOICE_DESIGN_DIR"
        )
    from pipeline.tts.qwen import qwen_status

    lines, usable = [], True
    for name, folder in folders.items():
        ok, detail = qwen_status(folder)
        usable &= ok
        lines.append(f"{name}: {detail}")
    if not usable:
        raise RuntimeError("; ".join(lines))
    return "; ".join(lines)


def _workers(settings: Settings) -> str:
    conn = queue.connect(settings)
    workers = Worker.all(connection=conn)
    serving = {
        kind: sum(settings.queue_name(kind) in w.queue_names() for w in workers)
        for kind in ("cpu", "tts")
    }
    idle = [kind for kind, n in serving.items() if n == 0]
    if idle:
        raise RuntimeError(
            f"no live worker serves {' or '.join(idle)} ({len(workers)} worker(s) in all): "
            f"start one with `audiobook worker --queues {','.join(idle)}`"
        )
    return ", ".join(f"{kind}: {n} worker(s)" for kind, n in serving.items())


def _gpu_workers(settings: Settings) -> str:
    conn = queue.connect(settings)
    serving = sum(
        settings.queue_name("gpu") in w.queue_names() for w in Worker.all(connection=conn)
    )
    if not serving:
        raise RuntimeError(
            "no live worker serves gpu: Qwen3-TTS voices wait until one runs "
            "`audiobook worker --queues gpu` on a GPU machine"
        )
    return f"gpu: {serving} worker(s)"


def check_health(settings: Settings) -> list[HealthCheck]:
    """Check database, Redis, storage, each TTS engine and the live workers (Qwen3-TTS
    and the gpu workers are optional: the platform runs on Piper without them)."""
    return [
        _check("database", lambda: _database(settings)),
        _check("redis", lambda: _redis(settings)),
        _check("storage", lambda: _storage(settings)),
        _check("tts:piper", _piper),
        _check("tts:qwen3", lambda: _qwen(settings), required=False),
        _check("workers", lambda: _workers(settings)),
        _check("workers:gpu", lambda: _gpu_workers(settings), required=False),
    ]


def is_healthy(checks: list[HealthCheck]) -> bool:
    """True when every required part is ok (what ``doctor``'s exit status and ``/health`` report)."""
    return all(check.ok or not check.required for check in checks)
