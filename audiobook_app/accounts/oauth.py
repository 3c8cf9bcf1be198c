"""OpenID Connect sign-in ("Sign in with Google", a company Keycloak...) as two plain
functions, since Reflex handlers are not Starlette routes:

1. :func:`authorization_url` - where to send the browser; remembers the attempt.
2. :func:`complete_login` - given the query of the provider's redirect back, exchanges
   the code (authlib's :class:`OAuth2Session`, PKCE S256), validates the ID token
   (:mod:`.oidc`) and returns the user, found or created by the provider's verified email.

Where the attempt lives: a table (``oauth_states``), not a signed value, because
(a) a state must work once, and refusing a replayed signed value needs a server-side
record of its use anyway; (b) the nonce and the PKCE verifier must not reach the browser
before the code exchange, and a signed (not encrypted) value would carry them in the
clear; (c) a Reflex handler cannot set a cookie on the redirect the way a route could.
The row is keyed by the state's SHA-256 and deleted when used; it expires after
``settings.oauth_state_ttl_s``. To bind the attempt to the browser that started it
(against login CSRF), keep :attr:`PendingLogin.state` in the page's backend-only state
and pass it back as ``expected_state``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import delete
from sqlmodel import Session, col, select

from audiobook_app.accounts.oidc import provider_metadata, validate_id_token
from audiobook_app.accounts.passwords import normalize_email
from audiobook_app.accounts.tokens import new_token, plausible, token_digest
from audiobook_app.accounts.users import find_user
from audiobook_app.billing import ledger
from audiobook_app.db.models import OAuthIdentity, OAuthState, User, utcnow
from audiobook_app.db.repo import audit
from audiobook_app.settings import OAuthProviderSettings, Settings
from pipeline.errors import (
    AccountDisabledError,
    IdTokenError,
    OAuthDeniedError,
    OAuthProviderError,
    OAuthStateError,
    UnverifiedEmailError,
)


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in sent to a provider, as the page keeps it (no secrets beyond the state)."""

    provider: str
    state: str
    expires_at: datetime


def _client(
    settings: Settings, provider: OAuthProviderSettings, redirect_uri: str, metadata: Mapping
) -> OAuth2Session:
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return OAuth2Session(
        provider.client_id,
        provider.client_secret.get_secret_value(),
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=settings.oauth_http_timeout_s,
        token_endpoint_auth_method="client_secret_basic"
        if "client_secret_basic" in methods
        else "client_secret_post",
    )


def authorization_url(
    session: Session, settings: Settings, provider: OAuthProviderSettings, redirect_uri: str
) -> tuple[str, PendingLogin]:
    """The provider's authorization URL to send the browser to, and the attempt.

    ``redirect_uri`` is the web app's callback page for this provider, exactly as
    registered at the provider. Stores the state's digest, a nonce and a PKCE verifier
    (``oauth_states``). Raises :class:`OAuthProviderError` when the provider's discovery
    document cannot be fetched or is invalid.
    """
    metadata = provider_metadata(provider, settings.oauth_http_timeout_s)
    state, nonce, verifier = (
        new_token(),
        new_token(),
        new_token(),
    )  # verifier: 43 chars, RFC 7636 4.1
    with _client(settings, provider, redirect_uri, metadata) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    now = utcnow()
    expires_at = now + timedelta(seconds=settings.oauth_state_ttl_s)
    session.add(
        OAuthState(
            state_hash=token_digest(state),
            provider=provider.name,
            redirect_uri=redirect_uri,
            nonce=nonce,
            code_verifier=verifier,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return url, PendingLogin(provider.name, state, expires_at)


def complete_login(
    session: Session,
    settings: Settings,
    provider: OAuthProviderSettings,
    redirect_uri: str,
    params: Mapping[str, str],
    *,
    expected_state: str | None = None,
) -> User:
    """Finish a sign-in from the callback's query ``params``; return the user (then
    create a session with ``sessions.create_session``).

    The user is the one linked to this provider account before, else the account with
    the provider's email (linked now), else a new account without a password; the email
    must be verified by the provider (``email_verified``, or the provider's
    ``trust_email``) to link or create. No database write happens before the provider
    has answered, so no lock is held across the network.

    Raises :class:`OAuthStateError` (state unknown, expired, used, for another provider
    or redirect URI, or not ``expected_state``), :class:`OAuthDeniedError` (the provider
    sent an error, or refused the code), :class:`IdTokenError` (ID token invalid or
    without an email), :class:`UnverifiedEmailError`, :class:`AccountDisabledError`, and
    :class:`OAuthProviderError` (provider unreachable or answering nonsense).
    """
    pending = _pending(session, provider, redirect_uri, params.get("state"), expected_state)
    if "error" in params:
        raise OAuthDeniedError(
            f"{provider.name} did not sign you in ({params['error']}: "
            f"{params.get('error_description', 'no reason given')}); try again"
        )
    metadata = provider_metadata(provider, settings.oauth_http_timeout_s)
    if "iss" in params and params["iss"] != metadata["issuer"]:  # RFC 9207: a mixed-up provider
        raise OAuthStateError(
            "the sign-in answer came from another provider than the one asked; start again"
        )
    if not params.get("code"):
        raise OAuthDeniedError(
            f"{provider.name} sent no authorization code; start the sign-in again"
        )
    token = _exchange(
        settings, provider, redirect_uri, metadata, params["code"], pending.code_verifier
    )
    if "id_token" not in token:
        raise IdTokenError(f"{provider.name} returned no ID token: is 'openid' among its scopes?")
    claims = validate_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=provider.client_id,
        nonce=pending.nonce,
        access_token=token.get("access_token"),
        timeout_s=settings.oauth_http_timeout_s,
    )
    if session.execute(delete(OAuthState).where(col(OAuthState.id) == pending.id)).rowcount != 1:
        raise OAuthStateError(
            "this sign-in was completed already; start again"
        )  # a concurrent callback won
    user = _linked_user(session, settings, provider, claims)
    if user.disabled:
        raise AccountDisabledError("this account is disabled; ask the studio's administrator")
    audit(session, user.id, "user.sign_in", "user", user.id, method=f"oauth:{provider.name}")
    session.flush()
    return user


def _pending(
    session: Session,
    provider: OAuthProviderSettings,
    redirect_uri: str,
    state: str | None,
    expected_state: str | None,
) -> OAuthState:
    """The stored attempt of the callback's ``state``. Raises OAuthStateError."""
    if not plausible(state):
        raise OAuthStateError("the sign-in answer has no state; start the sign-in again")
    if expected_state is not None and not hmac.compare_digest(
        state.encode(), expected_state.encode()
    ):
        raise OAuthStateError("this sign-in was not started in this browser; start it again")
    row = session.exec(
        select(OAuthState).where(OAuthState.state_hash == token_digest(state))
    ).first()
    if row is None or row.expires_at <= utcnow():
        raise OAuthStateError("this sign-in expired or was completed already; start it again")
    if row.provider != provider.name or row.redirect_uri != redirect_uri:
        raise OAuthStateError(
            "this sign-in was started for another provider or page; start it again"
        )
    return row


def _exchange(
    settings: Settings,
    provider: OAuthProviderSettings,
    redirect_uri: str,
    metadata: Mapping,
    code: str,
    code_verifier: str,
) -> dict[str, Any]:
    """Trade the code for tokens at the token endpoint (client secret + PKCE verifier)."""
    try:
        with _client(settings, provider, redirect_uri, metadata) as client:
            return dict(
                client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            )
    except OAuthError as exc:
        raise OAuthDeniedError(
            f"{provider.name} refused the sign-in code ({exc.error}: {exc.description}); "
            "start again"
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise OAuthProviderError(
            f"the token endpoint of {provider.name} did not answer usably: {exc}"
        ) from None


def _linked_user(
    session: Session,
    settings: Settings,
    provider: OAuthProviderSettings,
    claims: Mapping[str, Any],
) -> User:
    """The user of this provider account: linked before, or by verified email (linking
    it now), or new. Raises IdTokenError (no email), UnverifiedEmailError."""
    identity = session.exec(
        select(OAuthIdentity).where(
            OAuthIdentity.provider == provider.name, OAuthIdentity.subject == claims["sub"]
        )
    ).first()
    if identity is not None:
        identity.last_login_at = utcnow()
        session.add(identity)
        return session.get(User, identity.user_id)
    if not claims.get("email"):
        raise IdTokenError(
            f"{provider.name} shared no email address: add the 'email' scope to its settings"
        )
    email = normalize_email(claims["email"])
    if not (provider.trust_email or claims.get("email_verified") in (True, "true")):
        raise UnverifiedEmailError(
            f"{provider.name} has not verified {email}: verify it there, or sign up with a password"
        )
    user = find_user(session, email)
    if user is None:
        user = User(email=email)  # no password: signs in through the provider (or resets one)
        session.add(user)
        session.flush()
        audit(session, user.id, "user.sign_up", "user", user.id, method=f"oauth:{provider.name}")
        ledger.welcome_grant(session, settings, user.id)
    session.add(
        OAuthIdentity(user_id=user.id, provider=provider.name, subject=claims["sub"], email=email)
    )
    audit(session, user.id, "user.oauth_linked", "user", user.id, provider=provider.name)
    session.flush()
    return user
