"""Generate stage: segments -> audio in the segment store, in parallel, resumable.

Each segment's audio is stored the moment it is synthesized (``SegmentStore.put`` is
atomic), so a crash or SIGKILL loses at most the segments in flight; the next run skips
every stored segment and synthesizes only the rest. Parallelism is ``jobs`` worker
processes with one onnxruntime thread each (STACK.md: 2 x 1 thread is the best layout
on 2 cores); ``jobs=1`` synthesizes in this process with the runtime's own threading.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing import forkserver

import numpy as np

from pipeline.config import NARRATOR, VoiceConfig
from pipeline.models import Segment
from pipeline.store import SegmentStore
from pipeline.tts import load_engine, preloaded
from pipeline.tts.base import TTSEngine
from pipeline.tts.preloaded import FORKABLE_ENGINES

# Segments per synthesize_batch() call in this process: a GPU engine sorts and groups them
# into its own batches of similar length (Qwen3-TTS: at most 8), so hand it plenty.
GPU_BATCH = 64
# Called after each synthesized segment with (segment, audio duration in seconds).
SegmentCallback = Callable[[Segment, float], None]


@dataclass(frozen=True)
class GenerationStats:
    """What one generate run did: counts of segments, seconds of new audio, wall time."""

    segments_total: int
    segments_synthesized: int
    segments_reused: int
    audio_s: float
    wall_s: float

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio synthesized per wall-clock second (higher is faster)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


def pending_segments(segments: Sequence[Segment], store: SegmentStore) -> list[Segment]:
    """Segments whose audio is not stored yet, de-duplicated by id, in reading order."""
    stored = store.stored_ids()
    seen: set[str] = set()
    todo = []
    for seg in segments:
        if seg.id not in stored and seg.id not in seen:
            seen.add(seg.id)
            todo.append(seg)
    return todo


def start_fork_server(
    preload: Sequence[str] = (), voice: VoiceConfig | None = None
) -> multiprocessing.context.BaseContext:
    """Start (once per process) the server that forks the synthesis workers, and return
    its context. It imports the engine and the ``preload`` modules (whatever else the
    caller will run in the pool) once for all workers, 1.7 s of CPU each otherwise, and
    with ``voice`` also loads that voice once for all of them (see
    :mod:`pipeline.tts.preloaded`; 2-5 s of CPU per worker otherwise). Called early, all
    of that overlaps the caller's own work (the CLI calls it before importing the
    pipeline). ``preload`` and ``voice`` count only when the server starts, not once it
    runs: a worker whose voice was not preloaded loads it itself."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.tts.piper", "pipeline.tts.preloaded", *preload])
    if voice is not None:
        os.environ[preloaded.VOICE_ENV] = (
            voice.model_dump_json()
        )  # read (and dropped) by the server
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(preloaded.VOICE_ENV, None)
    return context


def start_workers(
    voice: VoiceConfig, jobs: int, preload: Sequence[str] = ()
) -> ProcessPoolExecutor | None:
    """Start ``jobs`` synthesis processes (``None`` for ``jobs <= 1``) and return once
    they are forked. Workers fork from :func:`start_fork_server` (started here with
    ``preload`` and ``voice`` unless it already runs), which forks only once its preloading
    is done: start it earlier to overlap that with other work, as ``pipeline.convert`` does.
    Pass the pool to :func:`generate`; the caller shuts it down."""
    if jobs <= 1:
        return None
    context = start_fork_server(preload, voice)
    pool = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(voice,)
    )
    for _ in range(jobs):
        pool.submit(_worker_ready)
    return pool


def generate(
    segments: Sequence[Segment],
    store: SegmentStore,
    voices: Mapping[str, VoiceConfig],
    *,
    jobs: int = 1,
    pool: ProcessPoolExecutor | None = None,
    on_segment: SegmentCallback | None = None,
) -> GenerationStats:
    """Synthesize every segment not yet in ``store``, each with the voice of its role
    (``voices[segment.voice]``; ``voices["narrator"]`` for a role it lacks, see
    :meth:`PipelineConfig.voices`).

    Segments of forkable (CPU) engines go to ``jobs`` processes (``pool``, if given, must
    come from ``start_workers(narrator, jobs)``; it is left running); the others (a GPU
    engine, whose state does not survive ``fork``) are synthesized in this process in
    batches of :data:`GPU_BATCH` (``synthesize_batch``), as are all of them with
    ``jobs <= 1``. Raises :class:`pipeline.errors.EngineError` when a voice cannot be
    loaded or a segment fails; segments finished before the failure stay stored.
    """
    started = time.monotonic()
    todo = pending_segments(segments, store)
    unique_total = len({s.id for s in segments})
    forks = [jobs > 1 and _voice(voices, s).engine in FORKABLE_ENGINES for s in todo]
    pooled = [s for s, fork in zip(todo, forks) if fork]
    local = [s for s, fork in zip(todo, forks) if not fork]
    audio_s = 0.0
    if local:
        audio_s += _store_all(_synthesize_here(local, voices), store, on_segment)
    if pooled:
        started_pool = pool or start_workers(voices[NARRATOR], jobs)
        assert started_pool is not None  # jobs > 1
        with nullcontext(pool) if pool else started_pool as workers:
            results = _synthesize_parallel(pooled, voices, workers, jobs)
            audio_s += _store_all(results, store, on_segment)
    return GenerationStats(
        segments_total=unique_total,
        segments_synthesized=len(todo),
        segments_reused=unique_total - len(todo),
        audio_s=audio_s,
        wall_s=time.monotonic() - started,
    )


def _voice(voices: Mapping[str, VoiceConfig], segment: Segment) -> VoiceConfig:
    return voices.get(segment.voice) or voices[NARRATOR]


def _store_all(
    results: Iterator[tuple[Segment, np.ndarray, int]],
    store: SegmentStore,
    on_segment: SegmentCallback | None,
) -> float:
    """Store each result the moment it arrives; return the seconds of audio stored."""
    audio_s = 0.0
    for seg, audio, rate in results:
        store.put(seg.id, audio, rate)
        duration = len(audio) / rate
        audio_s += duration
        if on_segment:
            on_segment(seg, duration)
    return audio_s


def _synthesize_here(
    todo: list[Segment], voices: Mapping[str, VoiceConfig]
) -> Iterator[tuple[Segment, np.ndarray, int]]:
    """Synthesize in this process, voice by voice, each voice loaded once: a CPU engine
    one segment a call in reading order, a GPU engine :data:`GPU_BATCH` segments a call,
    similar lengths together (the longest in a batch sets its time)."""
    by_voice: dict[VoiceConfig, list[Segment]] = {}
    for seg in todo:
        by_voice.setdefault(_voice(voices, seg), []).append(seg)
    for voice, segs in by_voice.items():
        engine = load_engine(voice)
        size = 1 if voice.engine in FORKABLE_ENGINES else GPU_BATCH
        if size > 1:
            segs = sorted(segs, key=lambda s: len(s.text))
        for first in range(0, len(segs), size):
            batch = segs[first : first + size]
            for seg, audio in zip(batch, engine.synthesize_batch([s.text for s in batch])):
                yield seg, audio, engine.sample_rate_hz


_worker_engines: dict[VoiceConfig, TTSEngine] = {}  # this worker's loaded voices
_worker_engine_inherited = False  # whether the narrator came loaded from the fork server


def _init_worker(voice: VoiceConfig) -> None:
    """Load ``voice`` (the narrator) in a new worker, inherited from the fork server when
    it preloaded it; a GPU voice is never loaded here (its segments stay in the parent)."""
    global _worker_engine_inherited
    if voice.engine not in FORKABLE_ENGINES:
        return
    inherited = preloaded.engine_for(voice)
    _worker_engine_inherited = inherited is not None
    _worker_engines[voice] = inherited or load_engine(voice, threads=1)


def _worker_ready() -> bool:
    """A job that does nothing (submitting it starts a worker); returns whether the
    worker's engine is the one its fork server preloaded."""
    return _worker_engine_inherited


def _synthesize_in_worker(text: str, voice: VoiceConfig) -> tuple[np.ndarray, int]:
    engine = _worker_engines.get(voice)
    if engine is None:
        engine = _worker_engines[voice] = load_engine(voice, threads=1)
    return engine.synthesize(text), engine.sample_rate_hz


def _synthesize_parallel(
    todo: list[Segment], voices: Mapping[str, VoiceConfig], pool: ProcessPoolExecutor, jobs: int
) -> Iterator[tuple[Segment, np.ndarray, int]]:
    """Yield segments as they finish (not in order), keeping 2 x jobs in flight so
    memory stays bounded however long the book is."""
    queue = iter(todo)
    in_flight: dict[Future, Segment] = {}

    def fill() -> None:
        while len(in_flight) < 2 * jobs:
            seg = next(queue, None)
            if seg is None:
                return
            in_flight[pool.submit(_synthesize_in_worker, seg.text, _voice(voices, seg))] = seg

    fill()
    while in_flight:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            seg = in_flight.pop(future)
            audio, rate = future.result()
            yield seg, audio, rate
        fill()
