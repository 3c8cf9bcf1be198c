"""Personal REST API keys: created and revoked on the dashboard, shown once.

A key is ``abk_`` + a 256-bit random token (:func:`tokens.new_token`). The row keeps its
SHA-256 digest (like session tokens: the key is random and long, so a fast hash is
enough and lookups are an index hit) and its first :data:`PREFIX_CHARS` characters, so
the dashboard can tell keys apart without being able to show one again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from audiobook_app.accounts.tokens import new_token, plausible, token_digest
from audiobook_app.db.models import ApiKey, User, utcnow
from audiobook_app.db.repo import audit
from pipeline.errors import ConflictError, InputError, NotFoundError

KEY_PREFIX = "abk_"
PREFIX_CHARS = 12  # "abk_" + 8 characters of the token
MAX_NAME_CHARS = 100
MAX_KEYS = 20  # live keys per user
USE_RECORD_INTERVAL_S = 60  # last_used_at is written at most once a minute


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` exists only here, shown to its owner once."""

    key: ApiKey
    secret: str


def create_key(session: Session, user_id: int, name: str) -> NewKey:
    """Create a key called ``name`` for ``user_id``. Raises InputError for a blank or
    over-long name, ConflictError when the user has :data:`MAX_KEYS` live keys."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InputError(f"name the key (1 to {MAX_NAME_CHARS} characters), e.g. 'laptop'")
    if len(list_keys(session, user_id)) >= MAX_KEYS:
        raise ConflictError(f"you have {MAX_KEYS} keys: revoke one you no longer use first")
    secret = KEY_PREFIX + new_token()
    key = ApiKey(
        user_id=user_id, name=name, prefix=secret[:PREFIX_CHARS], key_hash=token_digest(secret)
    )
    session.add(key)
    session.flush()
    audit(session, user_id, "api_key.create", "api_key", str(key.id), name=name)
    return NewKey(key, secret)


def list_keys(session: Session, user_id: int) -> list[ApiKey]:
    """The user's live (not revoked) keys, newest first."""
    query = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id, col(ApiKey.revoked_at).is_(None))
        .order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())
    )
    return list(session.exec(query).all())


def revoke_key(session: Session, user_id: int, key_id: int) -> ApiKey:
    """Revoke one of the user's keys (it stops working at once). Raises NotFoundError
    (not theirs, or unknown) and ConflictError (revoked already)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFoundError(f"no API key {key_id}")
    if key.revoked_at is not None:
        raise ConflictError(f"API key {key.prefix}… was revoked already")
    key.revoked_at = utcnow()
    session.add(key)
    audit(session, user_id, "api_key.revoke", "api_key", str(key.id))
    return key


def resolve_key(session: Session, secret: str | None) -> tuple[User, ApiKey] | None:
    """The enabled user and live key of ``secret`` (None otherwise; never raises for a
    bad key). Records the use (at most once a minute)."""
    if not plausible(secret) or not secret.startswith(KEY_PREFIX):
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_digest(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    user = session.get(User, key.user_id)
    if user is None or user.disabled:
        return None
    now = utcnow()
    if (
        key.last_used_at is None
        or (now - key.last_used_at).total_seconds() >= USE_RECORD_INTERVAL_S
    ):
        key.last_used_at = now
        session.add(key)
        session.flush()
    return user, key
