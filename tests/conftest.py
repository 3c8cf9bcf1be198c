"""Shared test fixtures: the real-book corpus and throwaway databases.

The real-book corpus lives beside the checkout in ``../shared/corpus`` (CI has it; a
user's clone may not). Tests that need it take the ``corpus`` fixture and skip, saying
so, where it is absent; small fixtures built by the tests cover each format anyway.

PostgreSQL: the server at ``AUDIOBOOK_TEST_PG_SERVER`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``, trust auth; ``scripts/services.sh``
starts one). Each test gets a database ``ab_test_<random>`` dropped afterwards. Server
down: PostgreSQL tests fail when ``CI`` is set and are skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, make_url, pool, text
from sqlalchemy.exc import OperationalError

from audiobook_app.db import migrate
from audiobook_app.db.session import get_engine

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = Path(os.environ.get("AUDIOBOOK_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))
PG_SERVER = os.environ.get(
    "AUDIOBOOK_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


def unavailable(reason: str) -> NoReturn:
    """A test needs something this machine lacks: fail under CI (which has everything,
    so a skip there would hide a broken set-up), skip with ``reason`` elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Path of the shared real-book corpus; skips the test when it is absent (fails under CI)."""
    if not (CORPUS_DIR / "MANIFEST.md").is_file():
        unavailable(f"real-book corpus not found at {CORPUS_DIR} (set AUDIOBOOK_CORPUS)")
    return CORPUS_DIR


def _admin_engine():
    url = make_url(PG_SERVER).set(database="postgres")
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 5},
    )


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL (no database); fails under CI, skips elsewhere, when down."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return PG_SERVER
    except OperationalError as exc:
        reason = (
            f"PostgreSQL is not reachable at {PG_SERVER} ({str(exc.orig).strip().splitlines()[0]}): "
            "start it with scripts/services.sh or set AUDIOBOOK_TEST_PG_SERVER"
        )
    finally:
        engine.dispose()
    unavailable(reason)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """URL of a throwaway PostgreSQL database, dropped (connections and all) afterwards."""
    name = f"ab_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file (not created yet)."""
    return f"sqlite:///{tmp_path / 'audiobook.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of each kind (SQLite file, throwaway PostgreSQL database), migrated to
    head with Alembic; its engine disposed afterwards."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate.upgrade(url)
    yield url
    get_engine(url).dispose()
