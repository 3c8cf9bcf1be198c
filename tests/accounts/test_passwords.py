"""Email normalisation, the password policy and argon2id hashing (no database)."""

from __future__ import annotations

import pytest

from audiobook_app.accounts.passwords import (
    MAX_PASSWORD_CHARS,
    check_password_policy,
    hash_password,
    needs_rehash,
    normalize_email,
    verify_password,
)
from audiobook_app.settings import Settings
from pipeline.errors import InvalidEmailError, WeakPasswordError
from tests.accounts.conftest import PASSWORD

SETTINGS = Settings(_env_file=None)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  Bob@Example.COM ", "bob@example.com"),
        ("Zoë@Exämple.com", "zoë@exämple.com"),
        ("studio@intranet", "studio@intranet"),  # single-label domains: self-hosted networks
    ],
)
def test_normalize_email(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("bob", "must have an @-sign"),
        ("bob@@example.com", "invalid characters"),
        ("bob@localhost", "special-use or reserved name"),
        ("", "must have an @-sign"),
    ],
)
def test_normalize_email_refuses_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmailError, match=reason) as caught:
        normalize_email(raw)
    assert "is not a usable email address" in str(caught.value)


def test_policy() -> None:
    check_password_policy(SETTINGS, "x" * 10, "bob@example.com")
    with pytest.raises(WeakPasswordError, match="at least 10 characters"):
        check_password_policy(SETTINGS, "x" * 9, "bob@example.com")
    with pytest.raises(WeakPasswordError, match="at most 1024"):
        check_password_policy(SETTINGS, "x" * (MAX_PASSWORD_CHARS + 1), "bob@example.com")
    with pytest.raises(WeakPasswordError, match="must not be the email address"):
        check_password_policy(SETTINGS, " Bob@Example.com", "bob@example.com")
    with pytest.raises(WeakPasswordError, match="at least 12"):
        check_password_policy(
            Settings(_env_file=None, password_min_chars=12), "x" * 11, "bob@example.com"
        )


def test_hash_is_argon2id_with_the_owasp_costs_and_verifies() -> None:
    stored = hash_password(SETTINGS, PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert hash_password(SETTINGS, PASSWORD) != stored  # salted
    assert verify_password(SETTINGS, stored, PASSWORD)
    assert not verify_password(SETTINGS, stored, PASSWORD + "!")
    assert not needs_rehash(SETTINGS, stored)


def test_no_stored_hash_or_a_corrupt_one_never_verifies() -> None:
    assert not verify_password(SETTINGS, None, PASSWORD)
    assert not verify_password(
        SETTINGS, None, "not a password of anyone's"
    )  # the dummy's own input
    assert not verify_password(SETTINGS, "$argon2id$garbage", PASSWORD)
    assert not verify_password(SETTINGS, "plaintext", PASSWORD)


def test_changed_costs_ask_for_a_rehash_and_old_hashes_still_verify() -> None:
    old = hash_password(SETTINGS, PASSWORD)
    stronger = Settings(_env_file=None, argon2_time_cost=3, argon2_memory_kib=32 * 1024)
    assert needs_rehash(stronger, old)
    assert verify_password(stronger, old, PASSWORD)
    assert hash_password(stronger, PASSWORD).startswith("$argon2id$v=19$m=32768,t=3,p=1$")
