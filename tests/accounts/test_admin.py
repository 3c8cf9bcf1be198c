"""The first admin: from arguments, from the settings, and from the ``audiobook admin
create`` command run as an operator runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app.accounts.admin import admin_exists, create_first_admin, ensure_first_admin
from audiobook_app.accounts.users import sign_in
from audiobook_app.db.models import User, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import AdminExistsError, ConfigError, EmailTakenError, WeakPasswordError
from tests.accounts.conftest import PASSWORD, make_settings

AUDIOBOOK = str(Path(sys.executable).with_name("audiobook"))


def test_create_first_admin_once(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        assert not admin_exists(session)
        admin = create_first_admin(session, settings, "Boss@Example.com", PASSWORD)
        assert (admin.email, admin.role) == ("boss@example.com", UserRole.ADMIN)
    with session_scope(settings.database_url) as session:
        assert sign_in(session, settings, "boss@example.com", PASSWORD).id == admin.id
        with pytest.raises(AdminExistsError, match="an admin account exists already"):
            create_first_admin(session, settings, "second@example.com", PASSWORD)


def test_create_first_admin_checks_like_sign_up(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        session.add(User(email="local@example.com"))
    with session_scope(settings.database_url) as session:
        with pytest.raises(EmailTakenError):
            create_first_admin(session, settings, "local@example.com", PASSWORD)
        with pytest.raises(WeakPasswordError):
            create_first_admin(session, settings, "boss@example.com", "short")


def test_ensure_first_admin_from_settings(db_url: str, tmp_path: Path) -> None:
    unset = make_settings(db_url, tmp_path, admin_email=None, admin_password=None)
    half = make_settings(db_url, tmp_path, admin_email="boss@example.com", admin_password=None)
    full = make_settings(db_url, tmp_path, admin_email="boss@example.com", admin_password=PASSWORD)
    with session_scope(db_url) as session:
        assert ensure_first_admin(session, unset) is None
        with pytest.raises(
            ConfigError, match="set both AUDIOBOOK_ADMIN_EMAIL and AUDIOBOOK_ADMIN_PASSWORD"
        ):
            ensure_first_admin(session, half)
        assert ensure_first_admin(session, full).email == "boss@example.com"
    with session_scope(db_url) as session:
        assert ensure_first_admin(session, full) is None  # at the next start: nothing to do
        assert ensure_first_admin(session, half) is None
        assert len(session.exec(select(User)).all()) == 1


def _cli(db_url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOBOOK_")}
    return subprocess.run(
        [AUDIOBOOK, "admin", "create", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**clean, "DATABASE_URL": db_url, **env},
    )


def test_cli_admin_create(db_url: str, tmp_path: Path) -> None:
    no_password = _cli(db_url, tmp_path, "--email", "boss@example.com")
    assert no_password.returncode == 2
    assert (
        "set AUDIOBOOK_ADMIN_PASSWORD, or run `audiobook admin create` in a terminal"
        in no_password.stderr
    )

    created = _cli(
        db_url, tmp_path, "--email", "Boss@Example.com", AUDIOBOOK_ADMIN_PASSWORD=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created admin boss@example.com (user ")
    assert PASSWORD not in created.stdout + created.stderr

    again = _cli(
        db_url,
        tmp_path,
        AUDIOBOOK_ADMIN_EMAIL="other@example.com",
        AUDIOBOOK_ADMIN_PASSWORD=PASSWORD,
    )
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "audiobook: error: an admin account exists already; "
        "an admin can promote other users in the app"
    )
    with session_scope(db_url) as session:
        assert [(u.email, u.role) for u in session.exec(select(User)).all()] == [
            ("boss@example.com", "admin")
        ]


def test_cli_admin_create_needs_an_email(sqlite_url: str, tmp_path: Path) -> None:
    result = _cli(sqlite_url, tmp_path, AUDIOBOOK_ADMIN_PASSWORD=PASSWORD)
    assert result.returncode == 2
    assert "audiobook admin create --email you@example.com" in result.stderr
