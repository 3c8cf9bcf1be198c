"""The random secrets handed to browsers and inboxes, and the digests stored in their place.

A session cookie, a password-reset link and an OAuth ``state`` each carry a token from
:func:`new_token`: 32 random bytes (256 bits; OWASP's Session Management Cheat Sheet
asks for at least 64 bits of entropy), URL-safe base64. The database keeps only
:func:`token_digest`, its SHA-256: a fast hash is enough because the token is random
and long (nothing to brute-force, unlike a password), and it makes lookups by digest an
index hit.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete
from sqlmodel import Session, col

from audiobook_app.db.models import OAuthState, PasswordResetToken, UserSession, utcnow

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128  # longer input is not one of ours: refused before hashing


def new_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of ``token``: what the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible(token: str | None) -> bool:
    """Whether ``token`` could be one of ours (non-empty, not absurdly long)."""
    return bool(token) and len(token) <= MAX_TOKEN_CHARS


def purge_expired(session: Session) -> dict[str, int]:
    """Delete expired sessions, reset tokens and OAuth states; return counts per table.

    Safe to run at any time (a periodic job): every lookup checks expiry itself, so
    this only keeps the tables small.
    """
    now = utcnow()
    counts = {}
    for model in (UserSession, PasswordResetToken, OAuthState):
        result = session.execute(delete(model).where(col(model.expires_at) <= now))
        counts[model.__tablename__] = result.rowcount
    return counts
