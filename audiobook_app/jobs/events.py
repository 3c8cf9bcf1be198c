"""Progress events of book jobs: published to a Redis stream, mirrored in the job row.

Each job has a stream ``<prefix>:job:<id>:events`` (capped at ``STREAM_MAXLEN``
entries). Workers call :func:`publish` after updating the job row, so the row always
holds the latest state and a subscriber that arrives late, or after Redis lost its
data, still starts from the truth. :func:`subscribe` is the one public way to follow a
job (the CLI's ``status --follow`` and the web app use it): it yields the row's
snapshot first, then every later event, and stops after a final one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import redis

from audiobook_app.db import repo
from audiobook_app.db.models import Job, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings

log = logging.getLogger(__name__)
STREAM_MAXLEN = 1000


@dataclass(frozen=True)
class JobEvent:
    """One progress report. ``progress`` is 0..1 over the whole job; ``eta_s`` is the
    estimated seconds left (None until there is a rate to go by); ``ts`` is Unix time."""

    job_id: str
    status: str
    stage: str
    progress: float
    segments_done: int
    segments_total: int
    chapter_index: int | None = None
    eta_s: float | None = None
    message: str | None = None
    ts: float = 0.0

    @property
    def is_final(self) -> bool:
        """True for completed, failed and cancelled."""
        return JobStatus(self.status).is_final

    @classmethod
    def from_job(cls, job: Job) -> JobEvent:
        """The event describing a job row as it stands."""
        return cls(
            job.id,
            str(job.status),
            job.stage,
            round(job.progress, 4),
            job.segments_done,
            job.segments_total,
            job.chapter_index,
            job.eta_s,
            job.error,
            time.time(),
        )


def stream_key(settings: Settings, job_id: str) -> str:
    """Redis key of a job's event stream."""
    return f"{settings.queue_prefix}:job:{job_id}:events"


# XADD unless the event is not final and its progress is below the stream's newest
# event's: two workers sharing a job may publish in the other order than they committed.
_PUBLISH_IN_ORDER = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if ARGV[3] == '0' and newest and tonumber(ARGV[2]) < cjson.decode(newest[2][2]).progress then
  return false
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[1])
"""


def publish(conn: redis.Redis, settings: Settings, job: Job) -> JobEvent:
    """Publish the job row's current state; an event whose progress is below the last
    published one is dropped (atomically, in Redis), unless it is final, so followers
    never see progress go back. A Redis failure is logged, not raised: the row already
    holds the state, and progress must never fail a job."""
    event = JobEvent.from_job(job)
    try:
        conn.register_script(_PUBLISH_IN_ORDER)(
            keys=[stream_key(settings, job.id)],
            args=[json.dumps(asdict(event)), event.progress, int(event.is_final), STREAM_MAXLEN],
        )
    except redis.RedisError as exc:
        log.warning("progress event for job %s not published: %s", job.id, exc)
    return event


def snapshot(settings: Settings, job_id: str, owner_id: int | None = None) -> JobEvent:
    """The job's current state from the database. Raises NotFoundError."""
    with session_scope(settings.database_url) as session:
        return JobEvent.from_job(repo.get_job(session, job_id, owner_id))


def subscribe(
    conn: redis.Redis,
    settings: Settings,
    job_id: str,
    *,
    owner_id: int | None = None,
    block_ms: int = 2000,
    timeout_s: float | None = None,
) -> Iterator[JobEvent]:
    """Follow one job: yield its current state, then each new event, until a final event
    (completed/failed/cancelled) or ``timeout_s``. Raises NotFoundError for an unknown
    job (or one ``owner_id`` does not own). While Redis is unreachable it falls back to
    polling the row every ``block_ms``, so a Redis restart never ends a subscription."""
    key = stream_key(settings, job_id)
    last_id = _last_id(conn, key)
    current = snapshot(settings, job_id, owner_id)
    yield current
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not current.is_final and (deadline is None or time.monotonic() < deadline):
        try:
            batches = conn.xread({key: last_id}, block=block_ms, count=100)
        except redis.RedisError:
            time.sleep(block_ms / 1000)
            batches = None
        if not batches:  # quiet, or Redis lost the stream: the row is the truth
            polled = snapshot(settings, job_id, owner_id)
            if (polled.progress, polled.status) != (current.progress, current.status):
                current = polled
                yield current
            continue
        for entry_id, fields in batches[0][1]:
            last_id = entry_id
            current = JobEvent(**json.loads(fields[b"event"]))
            yield current
            if current.is_final:
                break


def _last_id(conn: redis.Redis, key: str) -> bytes | str:
    try:
        newest = conn.xrevrange(key, count=1)
    except redis.RedisError:
        return "0-0"
    return newest[0][0] if newest else "0-0"  # the stream id of its newest entry
