"""Fixtures of the REST API tests: the API app in-process (FastAPI's TestClient over
:func:`audiobook_app.routes.build_api`) against a real database of each kind, real
Redis (a queue and rate-limit prefix of the test's own) and local storage in a
temporary folder.

The routes read :func:`get_settings` (cached) and the clients of
``state/clients.py`` (cached), so :func:`api_settings` sets the environment and clears
those caches before and after each test. Small limits come through ``overrides``
(:func:`make_api`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlmodel import Session

from audiobook_app.accounts.api_keys import create_key
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.models import Book, BookStatus
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings, get_settings
from audiobook_app.state import clients
from tests.platform.harness import PASSWORD

BASE_URL = "http://testserver"  # TestClient's host: download links point here


def _clear_caches() -> None:
    get_settings.cache_clear()
    clients.storage.cache_clear()
    clients.redis_conn.cache_clear()


@dataclass
class Author:
    """A signed-up author and one API key of theirs (``headers`` sends it)."""

    id: int
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Api:
    """One test's API: ``client`` (TestClient), ``settings`` (as the routes read them)."""

    client: TestClient
    settings: Settings

    def author(self, email: str) -> Author:
        """Sign ``email`` up (with the free credits) and give them an API key."""
        with session_scope(self.settings.database_url) as session:
            user = sign_up(session, self.settings, email, PASSWORD)
            secret = create_key(session, user.id, "tests").secret
            return Author(user.id, user.email, secret)

    def session(self) -> AbstractContextManager[Session]:
        """A transaction on the test's database."""
        return session_scope(self.settings.database_url)

    def ready_book(self, owner_id: int, chapters: int = 2, words: int = 100) -> int:
        """A book as the inspect job leaves it: ready, ``chapters`` chapters of ``words``."""
        with session_scope(self.settings.database_url) as session:
            book = Book(
                owner_id=owner_id,
                title="Tiny",
                source_filename="tiny.txt",
                source_key=f"users/{owner_id}/books/tiny.txt",
                status=BookStatus.READY,
                words=words * chapters,
                chapters=[
                    {"index": i, "title": f"Chapter {i}", "words": words, "first": i, "last": i}
                    for i in range(1, chapters + 1)
                ],
            )
            session.add(book)
            session.flush()
            return book.id

    def run_cpu_jobs(self) -> None:
        """Run what waits on the ``cpu`` queue (the inspect job) in this process."""
        conn = clients.redis_conn()
        worker = SimpleWorker(
            [queue.queue(conn, self.settings, "cpu")], connection=conn, serializer=JSONSerializer
        )
        worker.work(burst=True)


@pytest.fixture
def make_api(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Api]]:
    """``make_api(**overrides)``: the API over this test's database, Redis prefix and
    storage; ``overrides`` are settings by field name (``rate_api_requests="3/minute"``)."""
    made: list[TestClient] = []

    def make(**overrides: object) -> Api:
        for name in list(os.environ):
            if name.startswith("AUDIOBOOK_"):
                monkeypatch.delenv(name)
        values = {
            "DATABASE_URL": db_url,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "AUDIOBOOK_QUEUE_PREFIX": f"abapi-{uuid.uuid4().hex[:10]}",
            "AUDIOBOOK_STORAGE_ROOT": str(tmp_path / "storage"),
            "AUDIOBOOK_WORK_DIR": str(tmp_path / "work"),
            "AUDIOBOOK_MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
            "AUDIOBOOK_PUBLIC_BASE_URL": BASE_URL,
            "AUDIOBOOK_FREE_CREDITS": "60",
            "AUDIOBOOK_RESERVATION_MARGIN": "0",
            **{f"AUDIOBOOK_{k.upper()}": str(v) for k, v in overrides.items()},
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        _clear_caches()
        from audiobook_app.routes import build_api

        client = TestClient(build_api(), base_url=BASE_URL)
        made.append(client)
        return Api(client, get_settings())

    yield make
    for client in made:
        client.close()
    _clear_caches()
