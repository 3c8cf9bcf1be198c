"""Running a worker: ``audiobook worker --queues cpu,tts``.

A worker needs only ``REDIS_URL``, ``DATABASE_URL`` and the storage settings to join
from any machine. It is an RQ ``SimpleWorker`` (jobs run in the worker process, so a
loaded voice is reused across jobs and SIGKILL really stops the work), with RQ's
scheduler for retry backoff, and a watchdog thread that resumes abandoned tasks
(:func:`audiobook_app.jobs.queue.reconcile`) and inspections
(:func:`audiobook_app.jobs.inspections.reconcile`) and runs housekeeping on schedule
(:mod:`audiobook_app.housekeeping`). If Redis goes away the worker waits and reconnects
instead of exiting; SIGINT/SIGTERM stop it after the current task (twice: at once).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from audiobook_app import housekeeping
from audiobook_app.db.migrate import ensure_schema
from audiobook_app.jobs import inspections, queue
from audiobook_app.settings import Settings, get_settings
from audiobook_app.storage import build_storage
from pipeline.config import VoiceConfig
from pipeline.errors import AudiobookError
from worker.engines import engine_for

log = logging.getLogger(__name__)
QUEUE_KINDS = ("cpu", "tts", "gpu")  # gpu: Qwen3-TTS, only on machines with a GPU
RECONNECT_DELAY_S = 2.0


class _Worker(SimpleWorker):
    """SimpleWorker that remembers a stop signal: RQ raises StopRequested when idle
    without recording it, and the reconnect loop must not serve again after one."""

    stop_signalled = False

    def request_stop(self, signum, frame) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)


def run_worker(kinds: Sequence[str], *, burst: bool = False, name: str | None = None) -> None:
    """Serve the ``kinds`` queues ("cpu", "tts", "gpu") until stopped (or until they are empty,
    with ``burst``). Raises ValueError for an unknown queue kind."""
    unknown = set(kinds) - set(QUEUE_KINDS)
    if unknown or not kinds:
        raise ValueError(
            f"unknown queue {sorted(unknown) or 'none'}: use cpu, tts, gpu or a list such as cpu,tts"
        )
    settings = get_settings()
    ensure_schema(settings.database_url)
    if "tts" in kinds:
        _warm_up(settings)
    conn = queue.connect(settings)
    stop = threading.Event()
    # The watchdog gets its own client: RQ raises the socket timeout of the worker's pool
    # above its blocking dequeue (~7 min) only for connections made after the Worker is
    # built, so a connection the watchdog opened first would time out every idle dequeue.
    watchdog_conn = queue.connect(settings)
    threading.Thread(
        target=_watchdog, args=(watchdog_conn, settings, stop), daemon=True, name="watchdog"
    ).start()
    try:
        while not stop.is_set():
            worker = _Worker(
                [queue.queue(conn, settings, k) for k in kinds],
                connection=conn,
                serializer=JSONSerializer,
                name=f"{name}-{time.time_ns()}" if name else None,
            )
            try:
                worker.work(
                    with_scheduler=True,
                    burst=burst,
                    logging_level=logging.getLevelName(log.getEffectiveLevel()),
                )
            except redis.RedisError as exc:
                log.warning(
                    "worker lost Redis (%s); reconnecting in %.0f s", exc, RECONNECT_DELAY_S
                )
            if burst or worker.stop_signalled:
                break
            time.sleep(RECONNECT_DELAY_S)  # RQ quits on Redis errors; serve again once it is back
    finally:
        stop.set()


# RQ forks its scheduler process from the worker's main thread (os.fork) while the
# watchdog thread may be inside a database, Redis or logging call: the child would
# inherit that call's locks held and hang at its first use of them (seen: a scheduler
# that never moved a retry back to its queue). A fork therefore waits for the watchdog's
# current pass to end (os.register_at_fork), and the pass lock is free in the child.
_pass_lock = threading.Lock()
os.register_at_fork(
    before=_pass_lock.acquire,
    after_in_parent=_pass_lock.release,
    after_in_child=_pass_lock.release,
)


def _warm_up(settings: Settings) -> None:
    """Load the bundled Piper voice before taking work (4-9 s on 2 busy cores, mostly
    onnxruntime's session set-up): the ONNX session is shared by every Piper voice made
    from it (``pipeline.tts.piper``), so no synthesis task spends its time limit, and a
    listener waits, on loading it."""
    started = time.monotonic()
    try:
        engine_for(VoiceConfig(), settings.tts_threads)
    except AudiobookError as exc:  # the task that needs the voice reports it
        log.warning("could not load the bundled voice at start: %s", exc)
        return
    log.info("bundled voice loaded in %.1f s", time.monotonic() - started)


def _watchdog(conn: redis.Redis, settings: Settings, stop: threading.Event) -> None:
    """Every ``watchdog_interval_s``: resume abandoned tasks and inspections; every
    ``housekeeping_interval_s`` (first one watchdog interval after start, when RQ has
    forked its scheduler): housekeeping (see :func:`_housekeeping`). No fork of this
    process happens during a pass (:data:`_pass_lock`)."""
    next_housekeeping = time.monotonic() + settings.watchdog_interval_s
    while not stop.is_set():
        with _pass_lock:
            try:
                touched = queue.reconcile(conn, settings)
                if touched:
                    log.warning("watchdog resumed %d task(s): %s", len(touched), ", ".join(touched))
                books = inspections.reconcile(conn, settings)
                if books:
                    log.warning("watchdog redid the inspection of book(s) %s", books)
            except Exception as exc:  # Redis or the database away: try again next round
                log.warning("watchdog pass failed: %s", exc)
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + settings.housekeeping_interval_s
                _housekeeping(conn, settings)
        stop.wait(settings.watchdog_interval_s)


def _housekeeping(conn: redis.Redis, settings: Settings) -> None:
    """The worker whose turn it is (one per interval across all workers) runs
    :func:`housekeeping.run_housekeeping`; the others sweep their own machine's scratch."""
    try:
        if housekeeping.claim_turn(conn, settings):
            housekeeping.run_housekeeping(conn, settings, build_storage(settings))
        else:
            housekeeping.sweep_local(settings)
    except Exception as exc:  # Redis, the database or storage away: next interval
        log.warning("housekeeping failed: %s", exc)
