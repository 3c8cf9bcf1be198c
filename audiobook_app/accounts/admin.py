"""The first admin account: created once, from the settings at start or by the
``audiobook admin create`` command. Later admins are promoted by an admin in the app."""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from audiobook_app.accounts.users import sign_up
from audiobook_app.db.models import User, UserRole
from audiobook_app.db.repo import audit
from audiobook_app.settings import Settings
from pipeline.errors import AdminExistsError, ConfigError

log = logging.getLogger(__name__)


def admin_exists(session: Session) -> bool:
    """Whether any account (enabled or not) has the admin role."""
    return (
        session.exec(select(User.id).where(User.role == UserRole.ADMIN).limit(1)).first()
        is not None
    )


def create_first_admin(session: Session, settings: Settings, email: str, password: str) -> User:
    """Create the admin account ``email`` with ``password`` while no admin exists.

    Raises :class:`AdminExistsError` when an admin exists, and what ``users.sign_up``
    raises (:class:`InvalidEmailError`, :class:`WeakPasswordError`,
    :class:`EmailTakenError`).
    """
    if admin_exists(session):
        raise AdminExistsError(
            "an admin account exists already; an admin can promote other users in the app"
        )
    user = sign_up(session, settings, email, password, role=UserRole.ADMIN)
    audit(session, user.id, "user.first_admin", "user", user.id)
    log.info("created the first admin account, user %s", user.id)
    return user


def ensure_first_admin(session: Session, settings: Settings) -> User | None:
    """At start: create the first admin from ``settings.admin_email`` and
    ``settings.admin_password`` when both are set and no admin exists; return it, or
    None when there was nothing to do.

    Raises :class:`ConfigError` when only one of the two settings is set and no admin
    exists, and what :func:`create_first_admin` raises for unusable values.
    """
    if admin_exists(session) or not (settings.admin_email or settings.admin_password):
        return None
    if not (settings.admin_email and settings.admin_password):
        raise ConfigError(
            "set both AUDIOBOOK_ADMIN_EMAIL and AUDIOBOOK_ADMIN_PASSWORD to create the first admin"
        )
    return create_first_admin(
        session, settings, settings.admin_email, settings.admin_password.get_secret_value()
    )
