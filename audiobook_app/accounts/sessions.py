"""Server-side sessions: the browser holds a random token, the ``sessions`` table its digest.

A session ends ``settings.session_ttl_s`` (default 14 days) after it was last used:
each use pushes ``expires_at`` forward (sliding expiry), at most once per
:data:`RENEW_INTERVAL_S` so that busy pages do not write on every event. Signing out
deletes the row; revoking all of a user's sessions signs them out everywhere (done by
a password reset). Tokens are never logged.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from audiobook_app.accounts.tokens import new_token, plausible, token_digest
from audiobook_app.db.models import User, UserSession, utcnow
from audiobook_app.settings import Settings
from pipeline.errors import NotFoundError

RENEW_INTERVAL_S = 60  # a used session's expiry moves forward at most once a minute
USER_AGENT_CHARS = 512  # the column's size; longer user agents are cut


def create_session(
    session: Session, settings: Settings, user: User, *, user_agent: str | None = None
) -> str:
    """Start a session for ``user`` (after a successful sign-in) and return its token,
    the only time it exists in the clear: put it in an HttpOnly, Secure, SameSite cookie."""
    token = new_token()
    now = utcnow()
    session.add(
        UserSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_ttl_s),
            user_agent=user_agent[:USER_AGENT_CHARS] if user_agent else None,
        )
    )
    session.flush()
    return token


def resolve_session(session: Session, settings: Settings, token: str | None) -> User | None:
    """The signed-in user of ``token``, or None when the token is missing, unknown,
    expired, or its user is gone or disabled. Renews the session's expiry (see the
    module docstring). Never raises for a bad token."""
    if not plausible(token):
        return None
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == token_digest(token))
    ).first()
    now = utcnow()
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if (now - row.last_seen_at).total_seconds() >= RENEW_INTERVAL_S:
        row.last_seen_at, row.expires_at = now, now + timedelta(seconds=settings.session_ttl_s)
        session.add(row)
        session.flush()
    return user


def sign_out(session: Session, token: str | None) -> bool:
    """End the session of ``token``; False when there was none (already signed out)."""
    if not plausible(token):
        return False
    result = session.execute(
        delete(UserSession).where(col(UserSession.token_hash) == token_digest(token))
    )
    return result.rowcount > 0


def list_sessions(session: Session, user: User) -> list[UserSession]:
    """The user's unexpired sessions, most recently used first (a "your devices" page)."""
    query = (
        select(UserSession)
        .where(UserSession.user_id == user.id, col(UserSession.expires_at) > utcnow())
        .order_by(col(UserSession.last_seen_at).desc())
    )
    return list(session.exec(query).all())


def revoke_session(session: Session, user: User, session_id: int) -> None:
    """End one of ``user``'s sessions by its id (from :func:`list_sessions`).

    Raises :class:`NotFoundError` when ``user`` has no session ``session_id``.
    """
    result = session.execute(
        delete(UserSession).where(
            col(UserSession.id) == session_id, col(UserSession.user_id) == user.id
        )
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no session {session_id}")


def revoke_all_sessions(session: Session, user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of the user (except ``keep_token``'s, e.g. the browser that
    changed the password); return how many ended."""
    query = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if plausible(keep_token):
        query = query.where(col(UserSession.token_hash) != token_digest(keep_token))
    return session.execute(query).rowcount
