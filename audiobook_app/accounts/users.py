"""Password accounts: sign up, sign in (with the failed-sign-in limits:
:func:`sign_in_guarded`), set a password, look a user up by email."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from audiobook_app import ratelimit
from audiobook_app.accounts.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    normalize_email,
    verify_password,
)
from audiobook_app.billing import ledger
from audiobook_app.db.models import User, UserRole
from audiobook_app.db.repo import audit
from audiobook_app.settings import Settings
from pipeline.errors import AccountDisabledError, EmailTakenError, InvalidCredentialsError

log = logging.getLogger(__name__)


def find_user(session: Session, email: str) -> User | None:
    """The user whose email is ``email`` once normalised, or None.

    Raises :class:`InvalidEmailError` when ``email`` is not an email address.
    """
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def sign_up(
    session: Session,
    settings: Settings,
    email: str,
    password: str,
    *,
    role: UserRole = UserRole.AUTHOR,
) -> User:
    """Create a password account and return it.

    Raises :class:`InvalidEmailError` for a malformed email, :class:`WeakPasswordError`
    for a password against the policy (see ``passwords.check_password_policy``), and
    :class:`EmailTakenError` when the email has an account already (also one created by
    a provider sign-in or the CLI: its owner can set a password by resetting it). After
    that error from a concurrent sign-up, the caller's transaction must be rolled back
    (``session_scope`` does so as the error leaves it).
    """
    email = normalize_email(email)
    check_password_policy(settings, password, email)
    taken = EmailTakenError(
        f"an account with the email {email} exists: sign in, or reset its password"
    )
    if find_user(session, email) is not None:
        raise taken
    user = User(email=email, password_hash=hash_password(settings, password), role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same email signed up between our check and the insert
        raise taken from None
    audit(session, user.id, "user.sign_up", "user", user.id, method="password", role=role.value)
    ledger.welcome_grant(session, settings, user.id)
    return user


def sign_in(session: Session, settings: Settings, email: str, password: str) -> User:
    """The user whose email and password these are.

    Takes about one argon2 verification whether or not the email has an account (see
    ``passwords.verify_password``). When the settings' argon2 costs changed since the
    password was hashed, the hash is replaced with one at the current costs. Records
    the sign-in in the audit log; the caller then creates a session
    (``sessions.create_session``).

    Raises :class:`InvalidEmailError` for a malformed email,
    :class:`InvalidCredentialsError` for an unknown email or a wrong password (the same
    error, so it does not reveal which emails have accounts), and
    :class:`AccountDisabledError` when the password is right but the account disabled.
    """
    user = find_user(session, email)
    if not verify_password(settings, user.password_hash if user else None, password):
        log.info("password sign-in failed (%s)", f"user {user.id}" if user else "no such account")
        raise InvalidCredentialsError("wrong email or password")
    if user.disabled:
        raise AccountDisabledError("this account is disabled; ask the studio's administrator")
    if needs_rehash(settings, user.password_hash):
        user.password_hash = hash_password(settings, password)
        log.info("rehashed the password of user %s with the current argon2 costs", user.id)
    session.add(user)
    audit(session, user.id, "user.sign_in", "user", user.id, method="password")
    session.flush()
    return user


def sign_in_guarded(
    session: Session, settings: Settings, email: str, password: str, address: str = ""
) -> User:
    """:func:`sign_in` behind the failed-sign-in limits (:mod:`audiobook_app.ratelimit`):
    ``settings.rate_sign_in_account`` per account (its email, whether or not it has an
    account, so the limit reveals nothing) and ``settings.rate_sign_in_address`` per
    client ``address`` ("" when unknown: no per-address limit). Over either limit the
    sign-in is refused before the password is checked; each wrong password counts once
    against both. Raises :class:`RateLimitedError` (its message says when to try again),
    QueueError (Redis down), and whatever :func:`sign_in` raises."""
    account = ratelimit.account_identity(normalize_email(email))
    ratelimit.check(settings, "sign_in_account", account)
    if address:
        ratelimit.check(settings, "sign_in_address", address)
    try:
        return sign_in(session, settings, email, password)
    except InvalidCredentialsError:
        ratelimit.record(settings, "sign_in_account", account)
        if address:
            ratelimit.record(settings, "sign_in_address", address)
        raise


def set_password(session: Session, settings: Settings, user: User, password: str) -> None:
    """Give ``user`` a new password (policy-checked, hashed). Does not touch sessions:
    callers revoke them where the change calls for it (a reset does).

    Raises :class:`WeakPasswordError` for a password against the policy.
    """
    check_password_policy(settings, password, user.email)
    user.password_hash = hash_password(settings, password)
    session.add(user)
    session.flush()
