"""Email normalisation, the password policy, and password hashing with argon2id.

Hashing uses ``argon2-cffi``'s :class:`~argon2.PasswordHasher` with the settings'
``argon2_*`` costs (default: OWASP Password Storage Cheat Sheet, m=19 MiB, t=2, p=1),
a 16-byte random salt and a 32-byte hash (RFC 9106 section 4). The stored string
records its own parameters, so hashes made under older costs still verify, and
:func:`needs_rehash` says when to replace one after the costs change.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from audiobook_app.settings import Settings
from pipeline.errors import InvalidEmailError, WeakPasswordError

log = logging.getLogger(__name__)

# Longer passwords are refused: argon2 pre-hashes any length, but an unbounded input is
# a cheap way to make the server work (OWASP: allow at least 64 characters).
MAX_PASSWORD_CHARS = 1024


def normalize_email(email: str) -> str:
    """``email`` checked and normalised: trimmed, Unicode NFC, the whole address lower-case.

    Syntax is checked by ``email-validator`` without DNS look-ups; single-label domains
    (``studio@intranet``) are accepted for self-hosted networks, special-use ones
    (``localhost``, ``.test``) are not. Raises :class:`InvalidEmailError` saying what
    is wrong (e.g. "An email address must have an @-sign.").
    """
    try:
        info = validate_email(email.strip(), check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise InvalidEmailError(f"{email.strip()!r} is not a usable email address: {exc}") from None
    return info.normalized.lower()


def check_password_policy(settings: Settings, password: str, email: str) -> None:
    """Refuse a new password that is too short (``settings.password_min_chars``, default
    10; NIST SP 800-63B asks at least 8), too long (:data:`MAX_PASSWORD_CHARS`) or the
    account's email address. Raises :class:`WeakPasswordError` saying which."""
    if len(password) < settings.password_min_chars:
        raise WeakPasswordError(
            f"the password must have at least {settings.password_min_chars} characters"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPasswordError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    if password.strip().lower() == email.strip().lower():
        raise WeakPasswordError("the password must not be the email address")


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def password_hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for the settings' costs (one per distinct costs, cached)."""
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not a password of anyone's")


def hash_password(settings: Settings, password: str) -> str:
    """The argon2id hash of ``password`` (a ``$argon2id$v=19$m=...`` string)."""
    return password_hasher(settings).hash(password)


def verify_password(settings: Settings, stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``.

    With no stored hash (unknown user, or an account that signs in only through a
    provider) a dummy hash is verified instead and False returned, so the answer takes
    as long as for a real account and response times do not reveal which emails exist.
    A corrupt stored hash counts as a mismatch and is logged (without the hash).
    """
    hasher = password_hasher(settings)
    try:
        return (
            hasher.verify(stored_hash or _dummy_hash(hasher), password) and stored_hash is not None
        )
    except InvalidHashError:
        log.warning("a stored password hash is not an argon2 hash; treated as a wrong password")
        return False
    except VerificationError:  # VerifyMismatchError and other verification failures
        return False


def needs_rehash(settings: Settings, stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other costs than the settings' current ones."""
    return password_hasher(settings).check_needs_rehash(stored_hash)
