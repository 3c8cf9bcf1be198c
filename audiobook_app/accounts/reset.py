"""Password reset by email: a single-use link that works for ``settings.password_reset_ttl_s``
(default one hour), and signs the account out everywhere when used.

Asking for a reset never says whether the email has an account (the page shows the
same "if an account exists, we sent a link" either way); a new request replaces the
links sent before, so only the latest works.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import update
from sqlmodel import Session, col, select

from audiobook_app.accounts.mailer import Mailer
from audiobook_app.accounts.sessions import revoke_all_sessions
from audiobook_app.accounts.tokens import new_token, plausible, token_digest
from audiobook_app.accounts.users import find_user, set_password
from audiobook_app.db.models import PasswordResetToken, User, utcnow
from audiobook_app.db.repo import audit
from audiobook_app.settings import Settings
from pipeline.errors import InvalidResetTokenError

log = logging.getLogger(__name__)

RESET_PAGE_PATH = "/reset-password"  # the web app's page that takes ?token=
SUBJECT = "Reset your Audiobook Studio password"
BODY = """Someone (hopefully you) asked to reset the password of the Audiobook Studio account {email}.

Choose a new password here within {minutes} minutes:

{link}

The link works once. If you did not ask for this, ignore this email: your password stays as it is.
"""


def reset_link(settings: Settings, token: str) -> str:
    """The link a reset email carries: the web app's reset page with the token."""
    return f"{settings.public_base_url.rstrip('/')}{RESET_PAGE_PATH}?{urlencode({'token': token})}"


def request_password_reset(
    session: Session, settings: Settings, mailer: Mailer, email: str
) -> None:
    """Email a reset link to ``email`` when it belongs to an enabled account; otherwise
    do nothing (see the module docstring). Earlier unused links of the account stop
    working. The mail is sent before anything is written, so no database lock is held
    while the mail server answers, and a failed send leaves no usable token behind.

    Raises :class:`InvalidEmailError` for a malformed address and :class:`MailError`
    when the mail could not be sent.
    """
    user = find_user(session, email)
    if user is None or user.disabled:
        log.info("password reset asked for an address without an enabled account")
        return
    token = new_token()
    now = utcnow()
    minutes = settings.password_reset_ttl_s // 60
    mailer.send(
        user.email,
        SUBJECT,
        BODY.format(email=user.email, minutes=minutes, link=reset_link(settings, token)),
    )
    session.execute(
        update(PasswordResetToken)
        .where(
            col(PasswordResetToken.user_id) == user.id, col(PasswordResetToken.used_at).is_(None)
        )
        .values(used_at=now)
    )
    session.add(
        PasswordResetToken(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.password_reset_ttl_s),
        )
    )
    audit(session, user.id, "user.password_reset_requested", "user", user.id)
    session.flush()


def reset_password(session: Session, settings: Settings, token: str, new_password: str) -> User:
    """Set a new password with the token of a reset link; return the account.

    The token is used up (also by a concurrent second use, which fails) and every
    session of the account ends. The caller may sign the user in afterwards.

    Raises :class:`InvalidResetTokenError` for a token that is unknown, expired or used,
    and :class:`WeakPasswordError` for a password against the policy (the token then
    stays usable, so the user can try another password).
    """
    invalid = InvalidResetTokenError(
        "this password-reset link is expired or was used already: ask for a new one"
    )
    if not plausible(token):
        raise invalid
    row = session.exec(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(token))
    ).first()
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise invalid
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise invalid
    set_password(session, settings, user, new_password)
    used = session.execute(
        update(PasswordResetToken)
        .where(col(PasswordResetToken.id) == row.id, col(PasswordResetToken.used_at).is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # a concurrent request used it first
        raise invalid
    ended = revoke_all_sessions(session, user.id)
    audit(session, user.id, "user.password_reset", "user", user.id, sessions_ended=ended)
    session.flush()
    return user
