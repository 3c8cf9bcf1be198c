"""Server-side sessions against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import select

from audiobook_app.accounts import sessions
from audiobook_app.accounts.tokens import purge_expired
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.models import User, UserSession, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import NotFoundError
from tests.accounts.conftest import PASSWORD

DAYS_14_S = 14 * 24 * 3600


def _user(settings: Settings, email: str = "writer@example.com") -> User:
    with session_scope(settings.database_url) as session:
        return sign_up(session, settings, email, PASSWORD)


def _start(settings: Settings, user: User, user_agent: str | None = "Firefox/140") -> str:
    with session_scope(settings.database_url) as session:
        return sessions.create_session(session, settings, user, user_agent=user_agent)


def _resolve(settings: Settings, token: str | None) -> User | None:
    with session_scope(settings.database_url) as session:
        return sessions.resolve_session(session, settings, token)


def _row(settings: Settings) -> UserSession:
    with session_scope(settings.database_url) as session:
        return session.exec(select(UserSession)).one()


def test_a_session_resolves_to_its_user_and_stores_only_the_token_digest(
    settings: Settings,
) -> None:
    user = _user(settings)
    token = _start(settings, user)
    assert len(token) == 43
    assert _resolve(settings, token).id == user.id
    row = _row(settings)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert (row.user_id, row.user_agent) == (user.id, "Firefox/140")
    assert row.expires_at - row.created_at == timedelta(seconds=DAYS_14_S)


@pytest.mark.parametrize("token", [None, "", "not-a-session-token", "x" * 10_000])
def test_unknown_tokens_resolve_to_nobody(settings: Settings, token: str | None) -> None:
    _start(settings, _user(settings))
    assert _resolve(settings, token) is None


def test_expired_session_and_disabled_user_resolve_to_nobody(settings: Settings) -> None:
    user = _user(settings)
    token = _start(settings, user)
    with session_scope(settings.database_url) as session:
        session.get(User, user.id).disabled = True
    assert _resolve(settings, token) is None

    with session_scope(settings.database_url) as session:
        session.get(User, user.id).disabled = False
        session.exec(select(UserSession)).one().expires_at = utcnow() - timedelta(seconds=1)
    assert _resolve(settings, token) is None


def test_use_slides_the_expiry_at_most_once_a_minute(settings: Settings) -> None:
    token = _start(settings, _user(settings))
    before = _row(settings)
    _resolve(settings, token)
    assert _row(settings).expires_at == before.expires_at  # used again within a minute: no write

    with session_scope(settings.database_url) as session:
        row = session.exec(select(UserSession)).one()
        row.last_seen_at = utcnow() - timedelta(days=13)
        row.expires_at = utcnow() + timedelta(days=1)
    assert _resolve(settings, token) is not None
    after = _row(settings)
    assert after.expires_at - after.last_seen_at == timedelta(seconds=DAYS_14_S)
    assert abs((after.last_seen_at - utcnow()).total_seconds()) < 60


def test_sign_out_ends_the_session_once(settings: Settings) -> None:
    token = _start(settings, _user(settings))
    with session_scope(settings.database_url) as session:
        assert sessions.sign_out(session, token) is True
        assert sessions.sign_out(session, token) is False
        assert sessions.sign_out(session, None) is False
    assert _resolve(settings, token) is None


def test_revoke_all_ends_every_session_of_the_user_but_the_kept_one(settings: Settings) -> None:
    writer, other = _user(settings), _user(settings, "other@example.com")
    mine = [_start(settings, writer) for _ in range(3)]
    theirs = _start(settings, other)
    with session_scope(settings.database_url) as session:
        assert sessions.revoke_all_sessions(session, writer.id, keep_token=mine[0]) == 2
    assert [_resolve(settings, t) is not None for t in mine] == [True, False, False]
    assert _resolve(settings, theirs).id == other.id


def test_list_and_revoke_one_session_of_ones_own_only(settings: Settings) -> None:
    writer, other = _user(settings), _user(settings, "other@example.com")
    kept, dropped = _start(settings, writer, "Phone"), _start(settings, writer, "Laptop")
    _start(settings, other)
    with session_scope(settings.database_url) as session:
        listed = sessions.list_sessions(session, writer)
        assert sorted(s.user_agent for s in listed) == ["Laptop", "Phone"]
        laptop = next(s for s in listed if s.user_agent == "Laptop")
        other_id = sessions.list_sessions(session, other)[0].id
        with pytest.raises(NotFoundError, match=f"no session {other_id}"):
            sessions.revoke_session(session, writer, other_id)
        sessions.revoke_session(session, writer, laptop.id)
    assert _resolve(settings, dropped) is None
    assert _resolve(settings, kept).id == writer.id


def test_long_user_agent_is_cut_to_the_column(settings: Settings) -> None:
    _start(settings, _user(settings), "A" * 2000)
    assert _row(settings).user_agent == "A" * 512


def test_purge_expired_deletes_only_expired_rows(settings: Settings) -> None:
    user = _user(settings)
    live, dead = _start(settings, user), _start(settings, user)
    with session_scope(settings.database_url) as session:
        digest = hashlib.sha256(dead.encode()).hexdigest()
        session.exec(
            select(UserSession).where(UserSession.token_hash == digest)
        ).one().expires_at = utcnow()
    with session_scope(settings.database_url) as session:
        assert purge_expired(session) == {
            "sessions": 1,
            "password_reset_tokens": 0,
            "oauth_states": 0,
        }
    assert _resolve(settings, live) is not None
