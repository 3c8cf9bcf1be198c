"""Who calls the API: a personal API key, ``Authorization: Bearer abk_...`` (or the
``X-API-Key`` header). Every route but the OpenAPI document and signed downloads needs
one; admin routes also need the admin role (403 for an author). Every authenticated
request counts against ``settings.rate_api_requests`` twice, per user and per key
(:mod:`audiobook_app.ratelimit`): over either, 429 with ``Retry-After``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from audiobook_app import ratelimit
from audiobook_app.accounts.api_keys import resolve_key
from audiobook_app.db.models import UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from pipeline.errors import ForbiddenError, SignInError

_bearer = HTTPBearer(auto_error=False, description="a personal API key: abk_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="a personal API key")


class MissingKeyError(SignInError):
    """No API key, or one that is unknown, revoked, or whose account is disabled (401)."""


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: user id, email, role and the key used."""

    user_id: int
    email: str
    role: UserRole
    key_id: int

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN


def _resolve(secret: str) -> Caller | None:
    with session_scope(get_settings().database_url) as session:
        found = resolve_key(session, secret)
        if found is None:
            return None
        user, key = found
        return Caller(user.id, user.email, UserRole(user.role), key.id)


def _count_request(caller: Caller) -> None:
    settings = get_settings()
    ratelimit.hit(settings, "api_requests", "user", caller.user_id)
    ratelimit.hit(settings, "api_requests", "key", caller.key_id)


async def current_caller(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Caller:
    """The caller of a request, counted against the API rate limit. Raises
    MissingKeyError (401), RateLimitedError (429)."""
    secret = bearer.credentials if bearer else header
    caller = await run_in_threadpool(_resolve, secret or "")
    if caller is None:
        raise MissingKeyError(
            "send a valid API key: 'Authorization: Bearer abk_...' (create one on the dashboard)"
        )
    await run_in_threadpool(_count_request, caller)
    return caller


async def admin_caller(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """The caller, who must be an admin. Raises ForbiddenError (403)."""
    if not caller.is_admin:
        raise ForbiddenError("this needs the admin role")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
AdminDep = Annotated[Caller, Depends(admin_caller)]
