"""A real OpenID Connect provider for the tests, on loopback.

authlib's own authorization server (``AuthorizationServer`` for Flask, the
authorization code grant with the ``OpenIDCode`` and PKCE ``CodeChallenge``
extensions) serves discovery, JWKS, authorize and token endpoints over real HTTP
(werkzeug, a thread, a random port). Its RSA key is generated per provider. A
"browser" signs in at ``/login`` (a cookie) before following the authorization URL.

Knobs for the negative tests: ``extra_claims`` is merged into every ID token last
(a wrong ``aud``, ``nonce`` or ``iss``), ``signing_key`` signs instead of the published
key (a forged token).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "audiobook-studio"
REDIRECT_URI = "http://127.0.0.1:3000/auth/callback/test"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class AuthCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


@dataclass
class EndUser:
    subject: str

    def get_user_id(self):
        return self.subject


class Provider:
    """The provider; ``users`` maps a subject to its claims (``email``, ``email_verified``)."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "op-key-1", "use": "sig", "alg": "RS256"}
        )
        self.signing_key = self.key
        self.extra_claims: dict[str, Any] = {}
        self.client = Client(CLIENT_ID, secrets.token_urlsafe(24), (REDIRECT_URI,))
        self.codes: dict[str, AuthCode] = {}
        self.browser_sessions: dict[str, str] = {}
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        self.users.clear()
        self.extra_claims.clear()
        self.signing_key = self.key

    def sign_in_and_authorize(self, authorization_url: str, subject: str) -> dict[str, str]:
        """What a browser does: sign in at the provider as ``subject``, open the
        authorization URL, and read the query of the redirect back to the app."""
        with requests.Session() as browser:
            browser.post(
                f"{self.issuer}/login", data={"subject": subject}, timeout=10
            ).raise_for_status()
            response = browser.get(authorization_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, (response.status_code, response.text)
        location = response.headers["Location"]
        assert location.startswith(REDIRECT_URI + "?"), location
        return dict(parse_qsl(urlsplit(location).query))

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified"],
        }

    def _build_app(self) -> Flask:
        app = Flask("test-oidc-provider")
        server = AuthorizationServer(
            app,
            query_client=lambda cid: self.client if cid == CLIENT_ID else None,
            save_token=lambda token, req: None,
        )
        server.register_grant(_code_grant(self), [_OpenIDCode(self), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(self.metadata())

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.post("/login")
        def login():
            cookie = secrets.token_urlsafe(16)
            self.browser_sessions[cookie] = request.form["subject"]
            response = jsonify({"ok": True})
            response.set_cookie("op_session", cookie)
            return response

        @app.get("/authorize")
        def authorize():
            subject = self.browser_sessions.get(request.cookies.get("op_session", ""))
            if subject is None:
                return "sign in first", 401
            user = EndUser(subject)
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/token")
        def token():
            return server.create_token_response()

        return app


def _code_grant(provider: Provider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

        def save_authorization_code(self, code, req):
            data = req.payload.data
            provider.codes[code] = AuthCode(
                code,
                req.client.client_id,
                req.payload.redirect_uri,
                req.payload.scope,
                req.user.subject,
                data.get("nonce"),
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code, client):
            found = provider.codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code):
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code):
            return EndUser(authorization_code.subject)

    return CodeGrant


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce, req):
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client):
        return self.provider.signing_key

    def get_client_claims(self, client):
        return {"iss": self.provider.issuer}

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.provider.signing_key.kid}

    def generate_user_info(self, user, scope):
        claims = {"sub": user.subject, **self.provider.users.get(user.subject, {})}
        return UserInfo({**claims, **self.provider.extra_claims})
