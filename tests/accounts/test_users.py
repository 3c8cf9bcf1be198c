"""Sign up and sign in against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from audiobook_app.accounts.users import find_user, sign_in, sign_up
from audiobook_app.db.models import AuditLog, User, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import (
    AccountDisabledError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailError,
    WeakPasswordError,
)
from tests.accounts.conftest import PASSWORD, make_settings


def _sign_up(
    settings: Settings, email: str = "Writer@Example.com", password: str = PASSWORD
) -> User:
    with session_scope(settings.database_url) as session:
        return sign_up(session, settings, email, password)


def test_sign_up_stores_a_normalised_email_and_an_argon2id_hash(settings: Settings) -> None:
    user = _sign_up(settings)
    with session_scope(settings.database_url) as session:
        row = session.get(User, user.id)
        assert (row.email, row.role, row.disabled) == ("writer@example.com", UserRole.AUTHOR, False)
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
        assert find_user(session, " WRITER@example.com") == row
        audit, grant = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
        assert (audit.action, audit.actor_id, audit.detail) == (
            "user.sign_up",
            user.id,
            {"method": "password", "role": "author"},
        )
        # the new account's free credits (settings.free_credits), once
        assert (grant.action, grant.target_id, grant.detail["delta"]) == (
            "credits.grant",
            str(user.id),
            settings.free_credits,
        )


def test_sign_up_refusals_say_what_is_wrong(settings: Settings) -> None:
    _sign_up(settings)
    with pytest.raises(
        EmailTakenError, match="an account with the email writer@example.com exists"
    ):
        _sign_up(settings, "WRITER@EXAMPLE.COM ")
    with pytest.raises(InvalidEmailError, match="must have an @-sign"):
        _sign_up(settings, "writer.example.com")
    with pytest.raises(WeakPasswordError, match="at least 10 characters"):
        _sign_up(settings, "other@example.com", "short")
    with pytest.raises(WeakPasswordError, match="not be the email address"):
        _sign_up(settings, "longer.name@example.com", "Longer.Name@example.com")
    with session_scope(settings.database_url) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_sign_in(settings: Settings) -> None:
    user = _sign_up(settings)
    with session_scope(settings.database_url) as session:
        assert sign_in(session, settings, " writer@EXAMPLE.com", PASSWORD).id == user.id
        actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id)).all()]
        assert actions == ["user.sign_up", "credits.grant", "user.sign_in"]


def test_wrong_password_and_unknown_email_are_the_same_error(settings: Settings) -> None:
    _sign_up(settings)
    with session_scope(settings.database_url) as session:
        for email, password in [
            ("writer@example.com", PASSWORD + "x"),
            ("nobody@example.com", PASSWORD),
        ]:
            with pytest.raises(InvalidCredentialsError) as caught:
                sign_in(session, settings, email, password)
            assert str(caught.value) == "wrong email or password"


def test_unknown_email_costs_an_argon2_verification_too(settings: Settings) -> None:
    """Response time must not tell which emails have accounts (a dummy hash is verified)."""
    _sign_up(settings)

    def seconds(email: str) -> float:
        with session_scope(settings.database_url) as session:
            start = time.perf_counter()
            with pytest.raises(InvalidCredentialsError):
                sign_in(session, settings, email, "wrong password!")
            return time.perf_counter() - start

    seconds("nobody@example.com")  # warm the dummy hash
    known = min(seconds("writer@example.com") for _ in range(3))
    unknown = min(seconds("nobody@example.com") for _ in range(3))
    assert unknown > 0.5 * known, (unknown, known)


def test_account_without_password_cannot_sign_in_with_one(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        session.add(User(email="oauth-only@example.com"))
    with session_scope(settings.database_url) as session, pytest.raises(InvalidCredentialsError):
        sign_in(session, settings, "oauth-only@example.com", PASSWORD)


def test_disabled_account_is_refused_only_with_the_right_password(settings: Settings) -> None:
    user = _sign_up(settings)
    with session_scope(settings.database_url) as session:
        session.get(User, user.id).disabled = True
    with session_scope(settings.database_url) as session:
        with pytest.raises(AccountDisabledError, match="disabled"):
            sign_in(session, settings, "writer@example.com", PASSWORD)
        with pytest.raises(InvalidCredentialsError):
            sign_in(session, settings, "writer@example.com", "not the password")


def test_sign_in_rehashes_after_the_costs_changed(
    settings: Settings, db_url: str, tmp_path
) -> None:
    user = _sign_up(settings)
    with session_scope(db_url) as session:
        old = session.get(User, user.id).password_hash
    stronger = make_settings(db_url, tmp_path, argon2_time_cost=3)
    with session_scope(db_url) as session:
        sign_in(session, stronger, "writer@example.com", PASSWORD)
    with session_scope(db_url) as session:
        new = session.get(User, user.id).password_hash
        assert new != old and "t=3" in new
        sign_in(session, stronger, "writer@example.com", PASSWORD)  # the new hash verifies
        assert session.get(User, user.id).password_hash == new  # and is not replaced again
