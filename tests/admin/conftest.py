"""Fixtures of the admin tests: a migrated database of each kind (``db_url`` from
``tests/accounts/conftest.py``), settings pointing at it with an RQ queue prefix of the
test's own, a real Redis client whose keys under that prefix (and the RQ jobs on those
queues) are deleted afterwards, and ``process_settings``: the same made the process's
own settings (environment variables, caches cleared), for the API and the pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from audiobook_app.jobs import queue
from audiobook_app.settings import Settings, get_settings
from audiobook_app.state import clients
from tests.admin.factory import QUEUE_KINDS, make_settings
from tests.conftest import unavailable


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:  # noqa: F811
    return make_settings(db_url, tmp_path)


def purge(conn: redis.Redis, settings: Settings) -> None:
    """Delete the RQ jobs of the settings' queues and every key naming its prefix."""
    for kind in QUEUE_KINDS:
        q = queue.queue(conn, settings, kind)
        ids = set(q.get_job_ids())
        for registry in (
            q.started_job_registry,
            q.failed_job_registry,
            q.scheduled_job_registry,
            q.finished_job_registry,
            q.deferred_job_registry,
            q.canceled_job_registry,
        ):
            ids.update(registry.get_job_ids(cleanup=False))
        for rq_job in RQJob.fetch_many(list(ids), connection=conn, serializer=JSONSerializer):
            if rq_job is not None:
                rq_job.delete(remove_from_queue=False)
    keys = list(conn.scan_iter(match=f"*{settings.queue_prefix}*", count=1000))
    if keys:
        conn.delete(*keys)


@pytest.fixture
def conn(settings: Settings) -> Iterator[redis.Redis]:
    """Real Redis (127.0.0.1:6379); the test's queues are emptied afterwards."""
    client = queue.connect(settings)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {settings.redis_url}: {exc} (scripts/services.sh)")
    try:
        yield client
    finally:
        purge(client, settings)


@pytest.fixture
def process_settings(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    """The process settings (``get_settings()``, as the API reads them) pointed at this
    test's database, queues and storage; the caches are cleared before and after."""
    settings = make_settings(db_url, tmp_path)
    for key in [k for k in os.environ if k.startswith("AUDIOBOOK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("AUDIOBOOK_QUEUE_PREFIX", settings.queue_prefix)
    monkeypatch.setenv("AUDIOBOOK_STORAGE_ROOT", str(settings.storage_root))
    monkeypatch.setenv("AUDIOBOOK_MAIL_OUTBOX_DIR", str(settings.mail_outbox_dir))
    monkeypatch.setenv("AUDIOBOOK_FREE_CREDITS", "0")
    monkeypatch.setenv("AUDIOBOOK_RESERVATION_MARGIN", "0")
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    caches = (get_settings, clients.storage, clients.redis_conn)
    for cache in caches:
        cache.cache_clear()
    current = get_settings()
    assert current.queue_prefix == settings.queue_prefix
    try:
        yield current
    finally:
        try:
            purge(clients.redis_conn(), current)
        except redis.RedisError:
            pass
        for cache in caches:
            cache.cache_clear()
