"""Alembic environment: migrates the platform database (SQLite or PostgreSQL).

The URL is the Config's ``sqlalchemy.url`` when a caller set one
(``config.set_main_option``, as :mod:`audiobook_app.db.migrate` and the tests do),
otherwise the platform settings' ``database_url`` (``DATABASE_URL`` selects PostgreSQL).
A caller may also hand over an open connection as ``config.attributes["connection"]``.
Logging is configured from alembic.ini only when Alembic runs as a command; the
programmatic API sets ``config.attributes["configure_logger"] = False`` so that it
leaves the host application's logging alone.
"""

from __future__ import annotations

from logging.config import fileConfig

from sqlalchemy import Connection
from sqlmodel import SQLModel

import audiobook_app.db.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from audiobook_app.db.migrate import migration_engine

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata

# Options shared by online and offline mode. render_as_batch: SQLite cannot ALTER most
# things, so autogenerate writes batch operations (plain ALTERs on PostgreSQL).
CONFIGURE_OPTIONS = {
    "target_metadata": target_metadata,
    "render_as_batch": True,
    "compare_type": True,
}


def database_url() -> str:
    """The URL to migrate: the Config's ``sqlalchemy.url``, else the settings'."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from audiobook_app.settings import Settings

    return Settings().database_url


def run_migrations_offline() -> None:
    """Write the migration SQL to stdout (``alembic upgrade head --sql``) without a database."""
    context.configure(
        url=database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **CONFIGURE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    context.configure(connection=connection, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through a connection: the caller's, or a fresh single-use engine's.

    The engine (``migrate.migration_engine``) is not ``db.session.get_engine``'s:
    migrations run without SQLite's ``foreign_keys=ON`` (batch mode copies and drops
    tables, which that pragma would turn into cascading deletes or failures) and without
    a pool that outlives the command.
    """
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = migration_engine(database_url())
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
