"""OpenID Connect, the provider's side as we check it: discovery metadata, its JWKS, and
the ID token of a sign-in.

Validation is authlib's own client path (``authlib.integrations.base_client.sync_openid``,
``parse_id_token``): the signature with :mod:`joserfc` (authlib's JOSE library since 1.7;
``authlib.jose`` is deprecated) against the provider's JWKS, refetched once when the
token names an unknown key (key rotation); then the claims with
:class:`authlib.oidc.core.CodeIDToken`: issuer, audience (our client id), expiry,
issued-at, nonce, ``azp`` and ``at_hash`` (OpenID Connect Core 1.0, section 3.1.3.7).
Only asymmetric algorithms the provider announces are accepted, never ``none`` or an
HMAC keyed with the client secret.

Each call fetches what it needs (two small HTTP requests): sign-ins are rare, and a
provider's rotated keys are then picked up without any cache to expire.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from audiobook_app.settings import OAuthProviderSettings
from pipeline.errors import IdTokenError, OAuthProviderError

# JWS algorithms with a public key in the JWKS (RFC 7518 section 3.1, RFC 8037).
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
CLOCK_LEEWAY_S = 120  # clock skew tolerated on exp/iat, authlib's parse_id_token default


def get_json(url: str, timeout_s: float) -> dict[str, Any]:
    """GET ``url`` and return its JSON object. Raises :class:`OAuthProviderError` when
    the provider is unreachable, answers an HTTP error, or not a JSON object."""
    try:
        response = requests.get(url, timeout=timeout_s, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OAuthProviderError(
            f"the sign-in provider did not answer {url} usably: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise OAuthProviderError(
            f"the sign-in provider answered {url} with JSON that is not an object"
        )
    return data


def provider_metadata(provider: OAuthProviderSettings, timeout_s: float) -> OpenIDProviderMetadata:
    """The provider's discovery document (OpenID Connect Discovery 1.0), validated by
    authlib, whose ``issuer`` must be the configured one (section 4.3).

    Raises :class:`OAuthProviderError` when it cannot be fetched, is invalid, or names
    another issuer.
    """
    url = provider.server_metadata_url or get_well_known_url(provider.issuer, external=True)
    metadata = OpenIDProviderMetadata(get_json(url, timeout_s))
    try:
        metadata.validate()
    except ValueError as exc:
        raise OAuthProviderError(
            f"the discovery document of {provider.name} is invalid: {exc}"
        ) from None
    if metadata["issuer"] != provider.issuer:
        raise OAuthProviderError(
            f"the discovery document of {provider.name} names the issuer "
            f"{metadata['issuer']!r}, not the configured {provider.issuer!r}"
        )
    return metadata


def _decode(id_token: str, metadata: OpenIDProviderMetadata, timeout_s: float) -> jwt.Token:
    announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in announced if alg in ASYMMETRIC_ALGORITHMS]
    if not algorithms:
        raise OAuthProviderError(
            f"the provider signs ID tokens only with {announced}, none of them asymmetric"
        )
    try:
        return jwt.decode(
            id_token, KeySet.import_key_set(get_json(metadata["jwks_uri"], timeout_s)), algorithms
        )
    except InvalidKeyIdError:  # keys rotated since the token was signed? fetch them again, once
        return jwt.decode(
            id_token, KeySet.import_key_set(get_json(metadata["jwks_uri"], timeout_s)), algorithms
        )


def validate_id_token(
    id_token: str,
    *,
    metadata: OpenIDProviderMetadata,
    client_id: str,
    nonce: str,
    access_token: str | None,
    timeout_s: float,
) -> dict[str, Any]:
    """The claims of ``id_token`` once its signature and claims check out (see the
    module docstring); ``nonce`` is the one sent with the authorization request.

    Raises :class:`IdTokenError` naming what failed (bad signature, unknown key, wrong
    issuer, audience or nonce, expired), and :class:`OAuthProviderError` when the JWKS
    cannot be fetched.
    """
    try:
        token = _decode(id_token, metadata, timeout_s)
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": client_id},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(leeway=CLOCK_LEEWAY_S)
    except ClaimError as exc:
        raise IdTokenError(
            f"the provider's ID token has a bad {exc.claim!r} claim: {exc.description}"
        ) from None
    except (JoseError, ValueError) as exc:
        raise IdTokenError(
            f"the provider's ID token is not valid: {type(exc).__name__}: {exc}"
        ) from None
    return dict(claims)
