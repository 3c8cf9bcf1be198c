"""Schema migrations from Python: a thin layer over Alembic (``alembic.ini``, ``alembic/``).

The schema changes only through the revisions in ``alembic/versions/``. Operators run
``audiobook db upgrade`` (or ``.venv/bin/alembic upgrade head``); processes call
:func:`ensure_schema` at start: an embedded SQLite database is brought to the code's
revision automatically, a shared database (PostgreSQL) that lags is an error that names
the command to run, because several machines of different versions may use it.

Every function takes the database URL explicitly (tests and tools pass their own); the
Alembic files are found relative to the repository root (the package is installed
editable from a checkout).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, inspect, make_url, pool
from sqlalchemy.exc import OperationalError

from alembic import command
from pipeline.errors import AudiobookError, ConfigError

try:  # POSIX; elsewhere ensure_schema falls back to re-checking after a failed upgrade
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
SCRIPT_LOCATION = REPO_ROOT / "alembic"
VERSION_TABLE = "alembic_version"


def _escape(value: str) -> str:
    return value.replace("%", "%%")  # Config values go through ConfigParser interpolation


def _config(database_url: str | None) -> Config:
    if not ALEMBIC_INI.is_file() or not (SCRIPT_LOCATION / "env.py").is_file():
        raise AudiobookError(
            f"Alembic files not found (expected {ALEMBIC_INI} and {SCRIPT_LOCATION / 'env.py'}): "
            "run from a checkout of the project installed with `pip install -e .`"
        )
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", _escape(str(SCRIPT_LOCATION)))
    if database_url is not None:
        cfg.set_main_option("sqlalchemy.url", _escape(database_url))
    cfg.attributes["configure_logger"] = False  # leave the host application's logging alone
    return cfg


def alembic_config(database_url: str) -> Config:
    """An Alembic :class:`~alembic.config.Config` for ``database_url``.

    It reads the repository's ``alembic.ini``, points ``script_location`` at the
    repository's ``alembic/`` folder (so it works from any working directory), sets
    ``sqlalchemy.url`` and tells ``env.py`` not to reconfigure logging. Pass it to
    ``alembic.command`` functions. Raises :class:`AudiobookError` when ``alembic.ini``
    or ``alembic/env.py`` is missing (package not installed from a checkout).
    """
    return _config(database_url)


def is_sqlite(database_url: str) -> bool:
    """True when ``database_url`` names an SQLite database."""
    return make_url(database_url).get_backend_name() == "sqlite"


def _sqlite_file(database_url: str) -> Path | None:
    """The database file of an SQLite URL; None for an in-memory database."""
    url = make_url(database_url)
    name = url.database or ""
    if not name or name == ":memory:" or url.query.get("mode") == "memory":
        return None
    if name.startswith("file:"):  # URI filename (sqlite:///file:path?uri=true)
        name = name[len("file:") :]
    return Path(name)


def migration_engine(database_url: str) -> Engine:
    """A pool-less engine for migrating or inspecting ``database_url``; dispose it after use.

    SQLite: creates the file's parent folder, waits up to 30 s on a locked database and
    leaves ``foreign_keys`` off (batch migrations copy and drop tables). Used by
    ``alembic/env.py`` and by this module.
    """
    if is_sqlite(database_url):
        path = _sqlite_file(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return create_engine(database_url, poolclass=pool.NullPool, connect_args={"timeout": 30})
    return create_engine(database_url, poolclass=pool.NullPool)


@contextmanager
def _engine(database_url: str) -> Iterator[Engine]:
    engine = migration_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest).

    Raises ``alembic.util.CommandError`` for an unknown revision and SQLAlchemy's
    ``OperationalError`` when the database is unreachable or a migration step fails.
    """
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"``: drop everything).

    Raises as :func:`upgrade` does.
    """
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None when it was never migrated (empty database).

    Connecting to a missing SQLite file creates it (empty). Raises SQLAlchemy's
    ``OperationalError`` when the database is unreachable, and ``CommandError`` when
    the database records several heads.
    """
    with _engine(database_url) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision in ``alembic/versions/``, the one the code expects.

    Raises :class:`AudiobookError` when there is none or the Alembic files are missing,
    and ``alembic.util.CommandError`` when the history has several heads (two branches
    merged without a merge revision).
    """
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    if head is None:
        raise AudiobookError(f"no migration revisions in {SCRIPT_LOCATION / 'versions'}")
    return head


def _check_upgradable(database_url: str, current: str | None, head: str) -> None:
    """Raise ConfigError when an upgrade cannot help: unknown revision, unversioned tables."""
    if current is not None:
        try:
            ScriptDirectory.from_config(_config(None)).get_revision(current)
        except CommandError:
            raise ConfigError(
                f"database schema is at {current}, which this code does not know (it expects {head}): "
                "newer code migrated it; run that version, or downgrade the database with it"
            ) from None
        return
    with _engine(database_url) as engine, engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != VERSION_TABLE]
    if tables:
        raise ConfigError(
            f"database has tables ({', '.join(sorted(tables)[:5])}...) but no Alembic revision: "
            "it was not created by migrations; use a new database, or `alembic stamp` it "
            "if its schema is exactly a known revision"
        )


@contextmanager
def _sqlite_migration_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.migrate.lock`` (POSIX ``flock``).

    The kernel drops the lock when its holder exits, even by a crash, so it never goes
    stale. Without ``fcntl`` (Windows) this does nothing.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process migrating %s", path)
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def ensure_schema(database_url: str) -> None:
    """Make sure the database schema is at the code's revision (call at process start).

    * At head already: nothing to do (one cheap query).
    * SQLite (embedded, one machine): upgraded automatically. Concurrent callers on one
      file are serialized by an exclusive ``flock`` on ``<database>.migrate.lock``; each
      re-reads the revision once it holds the lock, so the second finds the first's work
      done and returns. Should an upgrade still fail (say, a concurrent
      ``alembic upgrade`` run that does not take the lock), it re-reads the revision and
      accepts head; any other failure is raised.
    * Any other database (PostgreSQL, shared by many machines of possibly different
      versions): never migrated here.

    Raises :class:`ConfigError` when a non-SQLite database is not at head ("database
    schema is at X, code expects Y: run `audiobook db upgrade`"), when the database holds
    a revision this code does not know (newer code migrated it), when it has tables but
    no Alembic revision, or for an in-memory SQLite URL (each connection would be a new,
    empty database: use ``SQLModel.metadata.create_all`` on one connection instead).
    Raises SQLAlchemy's ``OperationalError`` when the database is unreachable.
    """
    head = head_revision()
    current = current_revision(database_url)
    if current == head:
        return
    if not is_sqlite(database_url):
        _check_upgradable(database_url, current, head)
        raise ConfigError(
            f"database schema is at {current or 'no revision (empty database)'}, code expects {head}: "
            "run `audiobook db upgrade`"
        )
    path = _sqlite_file(database_url)
    if path is None:
        raise ConfigError(
            "an in-memory SQLite database cannot be migrated by URL: use a database file"
        )
    with _sqlite_migration_lock(path):
        # Re-read under the lock: another process may have migrated while we waited (and
        # a half-migrated file, tables but no revision yet, is only seen outside the lock).
        current = current_revision(database_url)
        if current == head:
            return
        _check_upgradable(database_url, current, head)
        log.info("migrating %s from %s to %s", path, current or "an empty database", head)
        try:
            upgrade(database_url, head)
        except (OperationalError, CommandError):
            if current_revision(database_url) != head:
                raise
            log.info("%s was migrated to %s by another process", path, head)
