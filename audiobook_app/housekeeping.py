"""Housekeeping: what expires, and what the platform leaves behind, purged on a schedule.

:func:`run_housekeeping` purges:

* expired sessions, password-reset tokens and OAuth states
  (:func:`audiobook_app.accounts.tokens.purge_expired`);
* voice designs never chosen (``users/<id>/designs/<design id>/``: the request and its
  takes, with their File rows) requested more than ``settings.temp_upload_ttl_s`` ago
  (the request's age is its ``voice.design`` audit row's);
* REST API uploads never made into a book, stored more than the TTL ago
  (``users/<id>/uploads/``, :mod:`audiobook_app.user_files`);
* the local storage's staging files (``<root>/.staging/.tmp-*``) older than the TTL: a
  write that a crash cut short (S3 leaves no such files; incomplete multipart uploads
  are S3 lifecycle rules' business);
* anything written under a deleted account's prefix after it was deleted (a task that
  was still speaking a segment, an inspection finishing), for accounts deleted in the
  last :data:`DELETED_ACCOUNT_WINDOW_S`;
* this machine's worker scratch (:func:`purge_scratch`).

Uploads themselves leave nothing: the pages read an upload's bytes from Reflex's upload
handler (Starlette's spooled temporary files, removed when the request ends) and store
them at once; nothing is saved in Reflex's upload folder. Voice clones are made from the
upload in memory.

Scheduling: every worker's watchdog thread (``worker.main``) asks :func:`claim_turn`
every ``settings.housekeeping_interval_s``; the one worker that gets the turn runs
:func:`run_housekeeping`, the others sweep only their own machine's scratch. A Redis
lock lets one run at a time work (``audiobook housekeeping`` runs it at once). Each run
logs its counts and appends them to the audit log (``housekeeping.run``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import delete
from sqlmodel import Session, col, select

from audiobook_app.accounts.tokens import purge_expired
from audiobook_app.db import repo
from audiobook_app.db.models import AuditLog, File, Job, JobStatus, User, Voice, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.settings import DAY_S, Settings
from audiobook_app.storage import LocalStorage, Storage, user_key
from audiobook_app.user_files import is_upload

log = logging.getLogger(__name__)
LOCK_TIMEOUT_S = 15 * 60  # a run holding the lock longer than this is presumed dead
DELETED_ACCOUNT_WINDOW_S = 7 * DAY_S  # how long deleted accounts' prefixes are swept again
STAGING_DIR = ".staging"  # LocalStorage's temp files (storage.local._STAGING)
_JOB_SCRATCH = re.compile(r"^([0-9a-f]{32})(-chapter-\d+)?$")  # worker.tasks: master, assemble


def claim_turn(conn: redis.Redis, settings: Settings) -> bool:
    """True for one caller per ``settings.housekeeping_interval_s`` across every worker
    sharing the Redis (an expiring ``SET NX``): whose turn it is to run housekeeping."""
    return bool(
        conn.set(
            f"{settings.queue_prefix}:housekeeping:turn",
            utcnow().isoformat(),
            nx=True,
            px=max(1, int(settings.housekeeping_interval_s * 1000)),
        )
    )


def run_housekeeping(conn: redis.Redis, settings: Settings, storage: Storage) -> dict[str, int]:
    """One housekeeping run (see the module doc): purge, log, audit. Returns what was
    removed per kind (``sessions``, ``password_reset_tokens``, ``oauth_states``,
    ``voice_designs``, ``api_uploads``, ``storage_temp_files``, ``deleted_account_files``,
    ``scratch_folders``, ``voice_cache_files``); ``{}`` when another run holds the lock.
    Raises StorageError, Redis and database errors (the watchdog logs and tries later)."""
    lock = conn.lock(
        f"{settings.queue_prefix}:housekeeping", timeout=LOCK_TIMEOUT_S, blocking=False
    )
    if not lock.acquire():
        log.info("housekeeping skipped: another run holds the lock")
        return {}
    try:
        counts = _purge_all(settings, storage)
    finally:
        try:
            lock.release()
        except redis.RedisError:  # expired or Redis away: the next run takes it anyway
            pass
    log.info("housekeeping: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    with session_scope(settings.database_url) as session:
        repo.audit(session, None, "housekeeping.run", "system", "housekeeping", **counts)
    return counts


def _purge_all(settings: Settings, storage: Storage) -> dict[str, int]:
    cutoff = utcnow() - timedelta(seconds=settings.temp_upload_ttl_s)
    with session_scope(settings.database_url) as session:
        counts = purge_expired(session)
    counts["voice_designs"] = _purge_designs(settings, storage, cutoff)
    counts["api_uploads"] = _purge_uploads(settings, storage, cutoff)
    counts["storage_temp_files"] = _purge_staging(storage, time.time() - settings.temp_upload_ttl_s)
    counts["deleted_account_files"] = _purge_deleted_accounts(settings, storage)
    counts.update(purge_scratch(settings))
    return counts


def _purge_designs(settings: Settings, storage: Storage, cutoff: datetime) -> int:
    """Remove design requests older than ``cutoff`` still in storage (a chosen one is
    removed when chosen); the number removed."""
    with session_scope(settings.database_url) as session:
        requested = session.exec(
            select(AuditLog.actor_id, AuditLog.target_id, AuditLog.created_at).where(
                AuditLog.action == "voice.design"
            )
        ).all()
    when = {design_id: created for _, design_id, created in requested}
    removed = 0
    for user_id in sorted({uid for uid, _, _ in requested if uid is not None}):
        stored = {key.split("/")[3] for key in storage.list_keys(f"users/{user_id}/designs/")}
        for design_id in sorted(stored):
            if design_id not in when or when[design_id] > cutoff:
                continue  # fresh, or not recorded yet (its request is being committed)
            prefix = user_key(user_id, "designs", design_id) + "/"
            storage.delete_prefix(prefix)
            with session_scope(settings.database_url) as session:
                session.execute(delete(File).where(col(File.key).startswith(prefix)))
            removed += 1
    return removed


def _purge_uploads(settings: Settings, storage: Storage, cutoff: datetime) -> int:
    """Remove REST API uploads never made into a book (``users/<id>/uploads/...``, a File
    row without a book: :func:`audiobook_app.user_files.is_upload`) stored before
    ``cutoff``: object and row; the number removed."""
    with session_scope(settings.database_url) as session:
        rows = session.exec(
            select(File).where(col(File.book_id).is_(None), col(File.created_at) < cutoff)
        ).all()
        stale = [(row.id, row.key) for row in rows if is_upload(row)]
    for file_id, key in stale:
        storage.delete(key)
        with session_scope(settings.database_url) as session:
            session.execute(delete(File).where(col(File.id) == file_id))
    return len(stale)


def _purge_staging(storage: Storage, cutoff_ts: float) -> int:
    if not isinstance(storage, LocalStorage):
        return 0
    return _unlink_older(
        storage.root / STAGING_DIR, cutoff_ts, lambda name: name.startswith(".tmp-")
    )


def _unlink_older(folder: Path, cutoff_ts: float, matches: Callable[[str], bool]) -> int:
    """Unlink the files in ``folder`` whose name ``matches`` and whose mtime is before
    ``cutoff_ts`` (epoch seconds); how many."""
    removed = 0
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            if matches(path.name) and path.is_file() and path.stat().st_mtime < cutoff_ts:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed meanwhile (another sweep, or the writer)
            continue
    return removed


def _purge_deleted_accounts(settings: Settings, storage: Storage) -> int:
    since = utcnow() - timedelta(seconds=DELETED_ACCOUNT_WINDOW_S)
    with session_scope(settings.database_url) as session:
        ids = session.exec(
            select(AuditLog.target_id).where(
                AuditLog.action == "account.delete",
                AuditLog.target_type == "user",
                col(AuditLog.created_at) >= since,
            )
        ).all()
        gone = [int(i) for i in set(ids) if i.isdigit() and session.get(User, int(i)) is None]
    return sum(storage.delete_prefix(f"users/{user_id}/") for user_id in sorted(gone))


def purge_scratch(settings: Settings) -> dict[str, int]:
    """Sweep this machine's worker scratch (``settings.work_dir``): the folders of jobs
    that ended or no longer exist (``<job id>``, ``<job id>-chapter-<n>``: a task that
    failed or was killed leaves them), clone references cached for voices that no
    longer exist (``voices/``), and half-written downloads older than
    ``settings.temp_upload_ttl_s``. Counts ``scratch_folders`` and ``voice_cache_files``."""
    work = Path(settings.work_dir)
    counts = {"scratch_folders": 0, "voice_cache_files": 0}
    if not work.is_dir():
        return counts
    started = time.time()
    with session_scope(settings.database_url) as session:
        ended = _ended_jobs(session, [p.name for p in work.iterdir() if p.is_dir()])
        references = [
            key for key in session.exec(select(Voice.reference_key)).all() if key is not None
        ]
    for path in work.iterdir():
        match = _JOB_SCRATCH.match(path.name)
        if match and match.group(1) in ended and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            counts["scratch_folders"] += 1
    voices = work / "voices"
    live = _cached_names(references)
    # a cache file newer than the voice list may belong to a voice made since: kept
    counts["voice_cache_files"] = _unlink_older(
        voices, started, lambda name: name not in live and not name.endswith(".part")
    ) + _unlink_older(
        voices, started - settings.temp_upload_ttl_s, lambda name: name.endswith(".part")
    )
    return counts


def _ended_jobs(session: Session, names: list[str]) -> set[str]:
    """The job ids named by scratch folders whose job ended or no longer exists."""
    ids = {m.group(1) for name in names if (m := _JOB_SCRATCH.match(name))}
    if not ids:
        return set()
    rows = session.exec(select(Job.id, Job.status).where(col(Job.id).in_(ids))).all()
    running = {job_id for job_id, status in rows if not JobStatus(status).is_final}
    return ids - running


def _cached_names(reference_keys: list[str]) -> set[str]:
    """File names a worker gives its cached copy of each clone reference: the key with
    ``/`` as ``_`` (``worker.tasks._local_voice``, book synthesis) and
    ``reference-<16 hex of the key's SHA-256>.wav`` (``voice_library.catalog``, tries)."""
    names = set()
    for key in reference_keys:
        names.add(key.replace("/", "_"))
        names.add(f"reference-{hashlib.sha256(key.encode()).hexdigest()[:16]}.wav")
    return names


def sweep_local(settings: Settings) -> dict[str, int]:
    """What a worker without the turn does: :func:`purge_scratch` of its machine,
    logged when it removed anything."""
    counts = purge_scratch(settings)
    if any(counts.values()):
        log.info("scratch sweep: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
