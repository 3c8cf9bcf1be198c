"""Alembic migrations and the models, on SQLite and PostgreSQL.

Every revision goes up, down and up again; after ``upgrade head`` the database matches
the models exactly (autogenerate finds nothing, so a model change without a migration
fails here); :func:`ensure_schema` migrates SQLite (also with two processes racing on
one fresh file) and refuses a lagging PostgreSQL; every table takes a row through the
ORM, and the credit ledger refuses updates and deletes.

PostgreSQL: the server at ``AUDIOBOOK_TEST_PG_SERVER`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``, trust auth; ``scripts/services.sh``
starts one). Each test creates a throwaway database ``ab_test_<random>`` and drops it
afterwards, so parallel runs and a developer's data are never touched. Server down:
the PostgreSQL tests fail when ``CI`` is set, and are skipped otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select

from audiobook_app.db import migrate
from audiobook_app.db.models import (
    AuditLog,
    Book,
    Chapter,
    ChapterStatus,
    File,
    FilePurpose,
    Job,
    JobStatus,
    LedgerEntry,
    LedgerReason,
    Segment,
    Task,
    TaskKind,
    TaskStatus,
    UsageEvent,
    User,
    Voice,
    utcnow,
)
from audiobook_app.db.session import get_engine
from pipeline.errors import ConfigError

MODEL_TABLES = {
    "users",
    "api_keys",
    "books",
    "jobs",
    "tasks",
    "chapters",
    "segments",
    "files",
    "voices",
    "usage_events",
    "credit_ledger",
    "audit_log",
    "sessions",
    "password_reset_tokens",
    "oauth_states",
    "oauth_identities",
}


# --- databases -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def _tables(url: str) -> set[str]:
    engine = migrate.migration_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _revisions_base_to_head() -> list[tuple[str, str]]:
    """(revision, the revision below it or "base") for every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    revisions = list(script.walk_revisions("base", "heads"))[::-1]
    return [(r.revision, r.down_revision or "base") for r in revisions]


# --- migrations ------------------------------------------------------------------------


def test_models_tables_are_the_expected_ones() -> None:
    assert MODEL_TABLES <= set(SQLModel.metadata.tables)


def test_single_head_and_initial_revision() -> None:
    revisions = _revisions_base_to_head()
    assert revisions[0] == ("0001", "base")
    assert migrate.head_revision() == revisions[-1][0]


def test_every_revision_upgrades_downgrades_and_upgrades_again(db_url: str) -> None:
    for revision, below in _revisions_base_to_head():
        migrate.upgrade(db_url, revision)
        assert migrate.current_revision(db_url) == revision
        migrate.downgrade(db_url, below)
        assert migrate.current_revision(db_url) == (None if below == "base" else below)
        migrate.upgrade(db_url, revision)
        assert migrate.current_revision(db_url) == revision

    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert MODEL_TABLES <= _tables(db_url)

    migrate.downgrade(db_url, "base")
    assert migrate.current_revision(db_url) is None
    assert _tables(db_url) <= {migrate.VERSION_TABLE}, (
        "downgrade to base must drop everything it created"
    )

    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert MODEL_TABLES <= _tables(db_url)


def test_migrated_schema_matches_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = migrate.migration_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], (
        "the models and the migrations disagree; add a revision "
        "(alembic revision --autogenerate -m '...', then read and tidy it):\n"
        + "\n".join(map(repr, diff))
    )


def test_offline_mode_renders_sql(capsys: pytest.CaptureFixture[str]) -> None:
    from alembic import command

    command.upgrade(
        migrate.alembic_config("postgresql+psycopg://nobody@127.0.0.1:1/none"), "head", sql=True
    )
    sql = capsys.readouterr().out
    assert "CREATE TABLE credit_ledger" in sql
    assert "INSERT INTO alembic_version" in sql


# --- ensure_schema ---------------------------------------------------------------------


def test_ensure_schema_creates_a_fresh_sqlite_schema(sqlite_url: str) -> None:
    migrate.ensure_schema(sqlite_url)
    assert migrate.current_revision(sqlite_url) == migrate.head_revision()
    assert MODEL_TABLES <= _tables(sqlite_url)
    migrate.ensure_schema(sqlite_url)  # at head: nothing to do


def test_ensure_schema_refuses_a_postgres_database_behind(pg_url: str) -> None:
    head = migrate.head_revision()
    with pytest.raises(ConfigError) as caught:
        migrate.ensure_schema(pg_url)
    message = str(caught.value)
    assert "audiobook db upgrade" in message
    assert f"code expects {head}" in message
    assert migrate.current_revision(pg_url) is None
    assert not MODEL_TABLES & _tables(pg_url), "ensure_schema must never migrate PostgreSQL"

    migrate.upgrade(pg_url)
    migrate.ensure_schema(pg_url)  # at head: fine


def test_ensure_schema_refuses_tables_without_revision(sqlite_url: str) -> None:
    engine = migrate.migration_engine(sqlite_url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(ConfigError, match="no Alembic revision"):
        migrate.ensure_schema(sqlite_url)


def test_ensure_schema_refuses_unknown_revision(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    engine = migrate.migration_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(
        ConfigError, match="database schema is at ffff, which this code does not know"
    ):
        migrate.ensure_schema(sqlite_url)


def test_ensure_schema_refuses_in_memory_sqlite() -> None:
    with pytest.raises(ConfigError, match="in-memory"):
        migrate.ensure_schema("sqlite://")


RACER = """
import sys, time
from pathlib import Path
from audiobook_app.db.migrate import ensure_schema
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.005)
ensure_schema(url)
print("ok")
"""


def test_ensure_schema_two_processes_on_one_fresh_sqlite_file(
    tmp_path: Path, sqlite_url: str
) -> None:
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, sqlite_url, str(tmp_path / f"ready{i}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):  # both imported
            assert time.monotonic() < deadline, "racers did not start"
            assert all(r.poll() is None for r in racers), [r.communicate() for r in racers]
            time.sleep(0.01)
        go.touch()
        results = [r.communicate(timeout=120) for r in racers]
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
    for racer, (out, err) in zip(racers, results):
        assert racer.returncode == 0 and out.strip() == "ok", err
    assert migrate.current_revision(sqlite_url) == migrate.head_revision()
    assert MODEL_TABLES <= _tables(sqlite_url)


# --- the ORM on the migrated schema ----------------------------------------------------


def test_orm_round_trip_and_append_only_ledger(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = get_engine(db_url)  # the application's engine (SQLite: foreign keys on)
    now = utcnow()
    try:
        with Session(engine) as session:
            user = User(email="author@example.com", password_hash="x")
            session.add(user)
            session.flush()
            book = Book(
                owner_id=user.id,
                title="The Lighthouse",
                source_filename="book.epub",
                source_key="uploads/1/book.epub",
                chapters=[{"index": 1, "title": "One", "words": 10}],
                chosen_chapters=[1],
                casting={"narrator": "joe"},
            )
            session.add(book)
            session.flush()
            job = Job(
                book_id=book.id,
                owner_id=user.id,
                config={"tts": {"engine": "piper"}},
                started_at=now,
            )
            session.add(job)
            session.flush()
            session.add_all(
                [
                    Task(
                        id=f"{job.id}-prepare",
                        job_id=job.id,
                        kind=TaskKind.PREPARE,
                        lease_expires_at=now,
                    ),
                    Chapter(job_id=job.id, index=1, title="One", words=10),
                    Segment(
                        job_id=job.id, chapter_index=1, position=0, segment_hash="ab" * 32, chars=42
                    ),
                    File(
                        owner_id=user.id,
                        book_id=book.id,
                        job_id=job.id,
                        key="out/1/book.m4b",
                        size_bytes=1234,
                        mime="audio/mp4",
                        purpose=FilePurpose.M4B,
                    ),
                    Voice(name="Joe", engine="piper", model="en_US-joe-medium"),
                    UsageEvent(
                        user_id=user.id,
                        job_id=job.id,
                        kind="audio_generated",
                        quantity=61.5,
                        unit="s",
                    ),
                    LedgerEntry(
                        user_id=user.id, delta=100, reason=LedgerReason.GRANT, external_ref="evt_1"
                    ),
                    AuditLog(
                        actor_id=user.id,
                        action="job.cancel",
                        target_type="job",
                        target_id=job.id,
                        detail={"why": "test"},
                    ),
                ]
            )
            session.commit()
            user_id, book_id, job_id = user.id, book.id, job.id

        with Session(engine) as session:
            assert session.get(User, user_id).email == "author@example.com"
            book = session.get(Book, book_id)
            assert book.chapters == [{"index": 1, "title": "One", "words": 10}]
            assert book.chosen_chapters == [1] and book.casting == {"narrator": "joe"}
            job = session.get(Job, job_id)
            assert job.status == JobStatus.PENDING and job.config == {"tts": {"engine": "piper"}}
            assert job.started_at == now and job.started_at.tzinfo is None
            task = session.exec(select(Task).where(Task.job_id == job_id)).one()
            assert (task.kind, task.status, task.lease_expires_at) == (
                TaskKind.PREPARE,
                TaskStatus.QUEUED,
                now,
            )
            chapter = session.exec(select(Chapter).where(Chapter.job_id == job_id)).one()
            assert (chapter.index, chapter.status) == (1, ChapterStatus.PENDING)
            segment = session.exec(select(Segment).where(Segment.job_id == job_id)).one()
            assert (segment.position, segment.chars) == (0, 42)
            assert (
                session.exec(select(File).where(File.job_id == job_id)).one().purpose
                == FilePurpose.M4B
            )
            assert session.exec(select(Voice)).one().owner_id is None
            assert session.exec(select(UsageEvent)).one().quantity == 61.5
            audit = session.exec(select(AuditLog)).one()
            assert (audit.target_id, audit.detail) == (job_id, {"why": "test"})

            entry = session.exec(select(LedgerEntry)).one()
            assert (entry.delta, entry.reason) == (100, LedgerReason.GRANT)
            entry.delta = 1_000_000
            with pytest.raises(ValueError, match="append-only"):
                session.flush()
            session.rollback()

            session.delete(session.exec(select(LedgerEntry)).one())
            with pytest.raises(ValueError, match="append-only"):
                session.flush()
            session.rollback()

        with Session(engine) as session:
            entry = session.exec(select(LedgerEntry)).one()
            assert (entry.delta, entry.external_ref) == (100, "evt_1")
    finally:
        engine.dispose()
