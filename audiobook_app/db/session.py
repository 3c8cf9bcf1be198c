"""Engines and sessions for the settings' database, with retries for brief outages.

SQLite (default) runs in WAL mode with a 30 s busy timeout and foreign keys on, so a
web process and several local workers can share the file. PostgreSQL connections are
pinged before use, so a server restart costs a reconnect, not an error. Wrap short
units of work in :func:`retrying` so a database that is briefly unreachable makes a
worker wait and retry (tenacity: exponential backoff up to ``DB_RETRY_WINDOW_S``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session
from tenacity import before_sleep_log, retry, retry_if_exception, stop_after_delay, wait_exponential

from audiobook_app.db.models import LedgerEntry

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRY_WINDOW_S = 120.0  # how long a worker keeps retrying an unreachable database


@lru_cache(maxsize=8)
def get_engine(database_url: str) -> Engine:
    """One engine per URL per process (SQLite: creates the parent folder)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"timeout": 30, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_recycle=1800)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(database_url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):
        return True  # connection refused / lost, "database is locked"
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retrying(fn: Callable[[], T], *, window_s: float = DB_RETRY_WINDOW_S) -> T:
    """Run ``fn()`` (one short transaction), retrying transient database errors with
    exponential backoff (0.5 s doubling to 10 s) for up to ``window_s`` seconds; then
    the last error is raised."""
    policy = retry(
        retry=retry_if_exception(_is_transient),
        wait=wait_exponential(multiplier=0.5, max=10),
        stop=stop_after_delay(window_s),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return policy(fn)()


@event.listens_for(OrmSession, "before_flush")
def _ledger_is_append_only(session: OrmSession, _context, _instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, LedgerEntry):
            raise ValueError("the credit ledger is append-only: add a correcting entry instead")
