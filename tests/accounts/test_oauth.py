"""OpenID Connect sign-in against a real provider on loopback (``oidc_provider``):
the full redirect flow over HTTP, then the ways a callback must be refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jwk import RSAKey
from sqlmodel import select

from audiobook_app.accounts.oauth import authorization_url, complete_login
from audiobook_app.accounts.users import sign_in, sign_up
from audiobook_app.db.models import AuditLog, OAuthIdentity, OAuthState, User, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.settings import OAuthProviderSettings, Settings
from pipeline.errors import (
    AccountDisabledError,
    IdTokenError,
    OAuthDeniedError,
    OAuthProviderError,
    OAuthStateError,
    UnverifiedEmailError,
)
from tests.accounts.conftest import PASSWORD, make_settings
from tests.accounts.oidc_provider import CLIENT_ID, REDIRECT_URI, Provider
from tests.platform.harness import free_port

ALICE = {"email": "Alice@Example.com", "email_verified": True}


@pytest.fixture(scope="module")
def running_op() -> Iterator[Provider]:
    with Provider() as op:
        yield op


@pytest.fixture
def op(running_op: Provider) -> Provider:
    running_op.reset()
    running_op.users["alice-sub"] = dict(ALICE)
    return running_op


def _provider(op: Provider, **overrides) -> OAuthProviderSettings:
    values = {
        "name": "test",
        "issuer": op.issuer,
        "client_id": CLIENT_ID,
        "client_secret": op.client.client_secret,
    }
    return OAuthProviderSettings(**{**values, **overrides})


@pytest.fixture
def provider(op: Provider) -> OAuthProviderSettings:
    return _provider(op)


def _start(settings: Settings, provider: OAuthProviderSettings):
    with session_scope(settings.database_url) as session:
        return authorization_url(session, settings, provider, REDIRECT_URI)


def _complete(settings: Settings, provider: OAuthProviderSettings, params: dict, **kwargs) -> User:
    with session_scope(settings.database_url) as session:
        return complete_login(session, settings, provider, REDIRECT_URI, params, **kwargs)


def _callback(
    settings: Settings, op: Provider, provider: OAuthProviderSettings, subject: str = "alice-sub"
):
    url, pending = _start(settings, provider)
    return op.sign_in_and_authorize(url, subject), pending


def test_full_flow_creates_the_user_then_finds_them_again(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    url, pending = _start(settings, provider)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{op.issuer}/authorize?")
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["openid email profile"] and query["state"] == [pending.state]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["nonce"][0]) == 43
    with session_scope(settings.database_url) as session:
        stored = session.exec(select(OAuthState)).one()
        assert stored.state_hash != pending.state and stored.code_verifier not in url

    params = op.sign_in_and_authorize(url, "alice-sub")
    assert params["state"] == pending.state and params["code"]
    user = _complete(settings, provider, params, expected_state=pending.state)
    assert (user.email, user.password_hash, user.disabled) == ("alice@example.com", None, False)
    with session_scope(settings.database_url) as session:
        identity = session.exec(select(OAuthIdentity)).one()
        assert (identity.user_id, identity.provider, identity.subject) == (
            user.id,
            "test",
            "alice-sub",
        )
        assert session.exec(select(OAuthState)).all() == [], "a used state is deleted"
        actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id)).all()]
        assert actions == ["user.sign_up", "credits.grant", "user.oauth_linked", "user.sign_in"]

    op.users["alice-sub"]["email"] = "alice.new@example.com"  # found by subject, not by email
    params, _ = _callback(settings, op, provider)
    assert _complete(settings, provider, params).id == user.id
    with session_scope(settings.database_url) as session:
        assert len(session.exec(select(User)).all()) == 1


def test_verified_email_links_an_existing_password_account(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    with session_scope(settings.database_url) as session:
        alice = sign_up(session, settings, "alice@example.com", PASSWORD)
    params, _ = _callback(settings, op, provider)
    assert _complete(settings, provider, params).id == alice.id
    with session_scope(settings.database_url) as session:
        assert sign_in(session, settings, "alice@example.com", PASSWORD).id == alice.id


@pytest.mark.parametrize("email_verified", [False, None])
def test_unverified_email_neither_links_nor_creates(
    settings: Settings, op: Provider, provider: OAuthProviderSettings, email_verified: bool | None
) -> None:
    op.users["alice-sub"]["email_verified"] = email_verified
    with session_scope(settings.database_url) as session:
        sign_up(session, settings, "alice@example.com", PASSWORD)
    params, _ = _callback(settings, op, provider)
    with pytest.raises(UnverifiedEmailError, match="has not verified alice@example.com"):
        _complete(settings, provider, params)
    op.users["bob-sub"] = {"email": "bob@example.com", "email_verified": email_verified}
    params, _ = _callback(settings, op, provider, "bob-sub")
    with pytest.raises(UnverifiedEmailError):
        _complete(settings, provider, params)

    trusting = _provider(op, trust_email=True)  # e.g. a company IdP that never sends the claim
    params, _ = _callback(settings, op, trusting, "bob-sub")
    assert _complete(settings, trusting, params).email == "bob@example.com"


def test_forged_state_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, _ = _callback(settings, op, provider)
    for state in ("forged-state", "", None):
        with pytest.raises(OAuthStateError):
            _complete(
                settings,
                provider,
                {**params, "state": state}
                if state is not None
                else {k: v for k, v in params.items() if k != "state"},
            )


def test_state_of_another_browser_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, _ = _callback(settings, op, provider)
    _, other_browser = _start(settings, provider)
    with pytest.raises(OAuthStateError, match="not started in this browser"):
        _complete(settings, provider, params, expected_state=other_browser.state)


def test_replayed_state_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, pending = _callback(settings, op, provider)
    _complete(settings, provider, params, expected_state=pending.state)
    with pytest.raises(OAuthStateError, match="expired or was completed already"):
        _complete(settings, provider, params, expected_state=pending.state)


def test_expired_state_and_state_of_another_provider_are_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, _ = _callback(settings, op, provider)
    with pytest.raises(OAuthStateError, match="another provider or page"):
        _complete(settings, _provider(op, name="other"), params)
    with session_scope(settings.database_url) as session:
        session.exec(select(OAuthState)).one().expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(OAuthStateError, match="expired"):
        _complete(settings, provider, params)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("nonce", "a-nonce-we-never-sent"),
        ("aud", "some-other-client"),
        ("iss", "https://evil.example.com"),
        ("exp", 1_000_000_000),  # 2001
    ],
)
def test_id_token_with_a_wrong_claim_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings, claim: str, value
) -> None:
    op.extra_claims[claim] = value
    params, _ = _callback(settings, op, provider)
    with pytest.raises(IdTokenError, match=f"bad '{claim}' claim"):
        _complete(settings, provider, params)
    with session_scope(settings.database_url) as session:
        assert session.exec(select(User)).all() == []


def test_id_token_signed_by_another_key_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    op.signing_key = RSAKey.generate_key(
        2048, parameters={"kid": op.key.kid}
    )  # same kid, not the JWKS key
    params, _ = _callback(settings, op, provider)
    with pytest.raises(IdTokenError, match="BadSignatureError"):
        _complete(settings, provider, params)


def test_pkce_verifier_must_match(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, _ = _callback(settings, op, provider)
    with session_scope(settings.database_url) as session:
        session.exec(select(OAuthState)).one().code_verifier = "x" * 43
    with pytest.raises(OAuthDeniedError, match="invalid_grant"):
        _complete(settings, provider, params)


def test_provider_error_and_missing_code(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    _, pending = _start(settings, provider)
    with pytest.raises(OAuthDeniedError, match="access_denied: the user said no"):
        _complete(
            settings,
            provider,
            {
                "state": pending.state,
                "error": "access_denied",
                "error_description": "the user said no",
            },
        )
    with pytest.raises(OAuthDeniedError, match="no authorization code"):
        _complete(settings, provider, {"state": pending.state})
    with pytest.raises(OAuthStateError, match="another provider than the one asked"):
        _complete(
            settings,
            provider,
            {"state": pending.state, "code": "c", "iss": "https://evil.example.com"},
        )


def test_disabled_account_is_refused(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    params, _ = _callback(settings, op, provider)
    user = _complete(settings, provider, params)
    with session_scope(settings.database_url) as session:
        session.get(User, user.id).disabled = True
    params, _ = _callback(settings, op, provider)
    with pytest.raises(AccountDisabledError):
        _complete(settings, provider, params)


def test_missing_email_claim(
    settings: Settings, op: Provider, provider: OAuthProviderSettings
) -> None:
    op.users["carol-sub"] = {}
    params, _ = _callback(settings, op, provider, "carol-sub")
    with pytest.raises(IdTokenError, match="shared no email address"):
        _complete(settings, provider, params)


def test_discovery_problems(settings: Settings, op: Provider) -> None:
    with pytest.raises(OAuthProviderError, match="names the issuer"):
        _start(
            settings,
            _provider(
                op,
                issuer=op.issuer + "/",
                server_metadata_url=op.issuer + "/.well-known/openid-configuration",
            ),
        )
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(OAuthProviderError, match="did not answer"):
        _start(settings, _provider(op, issuer=closed))
    with session_scope(settings.database_url) as session:
        assert session.exec(select(OAuthState)).all() == []


def test_providers_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> None:
    providers = [
        {
            "name": "google",
            "issuer": "https://accounts.google.com",
            "client_id": "id",
            "client_secret": "very-secret",
        }
    ]
    monkeypatch.setenv("AUDIOBOOK_OAUTH_PROVIDERS", json.dumps(providers))
    settings = make_settings(sqlite_url, tmp_path)
    google = settings.oauth_provider("google")
    assert (google.scopes, google.trust_email) == (("openid", "email", "profile"), False)
    assert "very-secret" not in repr(settings)
    with pytest.raises(Exception, match="no sign-in provider 'github'"):
        settings.oauth_provider("github")
    monkeypatch.setenv("AUDIOBOOK_OAUTH_PROVIDERS", json.dumps(providers * 2))
    with pytest.raises(ValueError, match="duplicate names"):
        make_settings(sqlite_url, tmp_path)
