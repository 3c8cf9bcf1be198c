"""The web app's sign-up/sign-in helpers (``audiobook_app.state.auth``), on a real
SQLite database: the first account of a fresh install is the admin, later ones are
authors, and a session token resolves to its user until signed out."""

from __future__ import annotations

import uuid

import pytest

from audiobook_app.db.migrate import ensure_schema
from audiobook_app.db.models import User, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from audiobook_app.state import auth
from pipeline.errors import InvalidCredentialsError


@pytest.fixture
def fresh_install(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("AUDIOBOOK_STORAGE_ROOT", str(tmp_path / "storage"))
    # failed sign-ins are counted in Redis under the queue prefix: one of this test's own
    monkeypatch.setenv("AUDIOBOOK_QUEUE_PREFIX", f"abtest-{uuid.uuid4().hex[:10]}")
    get_settings.cache_clear()
    ensure_schema(sqlite_url)
    yield sqlite_url
    get_settings.cache_clear()


def test_first_account_is_the_admin_then_authors(fresh_install):
    assert auth.first_run()
    token, first_id, email = auth.open_session(
        "Owner@Example.com", "a long password 1", new_account=True
    )
    assert email == "owner@example.com" and not auth.first_run()
    _, second_id, _ = auth.open_session("writer@example.com", "a long password 2", new_account=True)
    with session_scope(fresh_install) as session:
        assert session.get(User, first_id).role == UserRole.ADMIN
        assert session.get(User, second_id).role == UserRole.AUTHOR
    assert auth.resolve(token) == (first_id, "owner@example.com")
    auth.close_session(token)
    assert auth.resolve(token) is None and auth.resolve("") is None
    with pytest.raises(InvalidCredentialsError):
        auth.open_session("writer@example.com", "wrong password!!", new_account=False)
