"""Password reset by an emailed link, with the outbox mailer, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from audiobook_app.accounts import reset, sessions
from audiobook_app.accounts.mailer import build_mailer
from audiobook_app.accounts.users import sign_in, sign_up
from audiobook_app.db.models import PasswordResetToken, User, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import (
    InvalidCredentialsError,
    InvalidResetTokenError,
    MailError,
    WeakPasswordError,
)
from tests.accounts.conftest import PASSWORD

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def writer(settings: Settings) -> User:
    with session_scope(settings.database_url) as session:
        return sign_up(session, settings, "writer@example.com", PASSWORD)


def _request(settings: Settings, email: str = "Writer@example.com") -> None:
    with session_scope(settings.database_url) as session:
        reset.request_password_reset(session, settings, build_mailer(settings), email)


def _outbox(settings: Settings) -> list[Path]:
    folder = settings.mail_outbox_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def _link_token(path: Path) -> str:
    body = (
        message_from_bytes(path.read_bytes(), policy=policy.default)
        .get_body(("plain",))
        .get_content()
    )
    link = next(line for line in body.splitlines() if line.startswith("https://"))
    assert link.startswith("https://studio.example.com/reset-password?token=")
    return parse_qs(urlsplit(link).query)["token"][0]


def _reset(settings: Settings, token: str, password: str = NEW_PASSWORD) -> User:
    with session_scope(settings.database_url) as session:
        return reset.reset_password(session, settings, token, password)


def test_reset_by_emailed_link(settings: Settings, writer: User) -> None:
    with session_scope(settings.database_url) as session:
        signed_in = sessions.create_session(session, settings, writer)
    _request(settings)
    [mail] = _outbox(settings)
    message = message_from_bytes(mail.read_bytes(), policy=policy.default)
    assert (message["To"], message["Subject"]) == (
        "writer@example.com",
        "Reset your Audiobook Studio password",
    )
    token = _link_token(mail)
    with session_scope(settings.database_url) as session:
        row = session.exec(select(PasswordResetToken)).one()
        assert token not in row.token_hash and row.expires_at - row.created_at == timedelta(hours=1)

    assert _reset(settings, token).id == writer.id
    with session_scope(settings.database_url) as session:
        assert sign_in(session, settings, "writer@example.com", NEW_PASSWORD).id == writer.id
        with pytest.raises(InvalidCredentialsError):
            sign_in(session, settings, "writer@example.com", PASSWORD)
        assert sessions.resolve_session(session, settings, signed_in) is None, (
            "a reset signs out everywhere"
        )

    with pytest.raises(InvalidResetTokenError, match="expired or was used already"):
        _reset(settings, token, "yet another passphrase")


def test_unknown_or_disabled_account_gets_no_mail_and_no_error(
    settings: Settings, writer: User
) -> None:
    _request(settings, "nobody@example.com")
    with session_scope(settings.database_url) as session:
        session.get(User, writer.id).disabled = True
    _request(settings)
    assert _outbox(settings) == []


def test_only_the_latest_link_works(settings: Settings, writer: User) -> None:
    _request(settings)
    _request(settings)
    first, second = (_link_token(p) for p in _outbox(settings))
    with pytest.raises(InvalidResetTokenError):
        _reset(settings, first)
    _reset(settings, second)


def test_expired_and_garbage_tokens_are_refused(settings: Settings, writer: User) -> None:
    _request(settings)
    token = _link_token(_outbox(settings)[0])
    with session_scope(settings.database_url) as session:
        session.exec(select(PasswordResetToken)).one().expires_at = utcnow() - timedelta(seconds=1)
    for bad in (token, "", "made-up", "x" * 5000):
        with pytest.raises(InvalidResetTokenError):
            _reset(settings, bad)


def test_weak_new_password_keeps_the_link_usable(settings: Settings, writer: User) -> None:
    _request(settings)
    token = _link_token(_outbox(settings)[0])
    with pytest.raises(WeakPasswordError):
        _reset(settings, token, "short")
    _reset(settings, token)


def test_failed_mail_leaves_no_token(settings: Settings, writer: User, tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the outbox folder should be")
    blocked = settings.model_copy(update={"mail_outbox_dir": tmp_path / "blocked" / "outbox"})
    with pytest.raises(MailError):
        _request(blocked)
    with session_scope(settings.database_url) as session:
        assert session.exec(select(PasswordResetToken)).all() == []
