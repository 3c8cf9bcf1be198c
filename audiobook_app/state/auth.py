"""Who is signed in: a server-side session whose token lives in the ``ab_session`` cookie.

Pages that need an author subclass :class:`AuthState` and put
``AuthState.require_user`` first in their ``on_load``. The token never reaches another
var; the user's id and email are all the pages see. argon2 hashing and database work
run in a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app.accounts import admin, oauth, sessions, users
from audiobook_app.db.models import UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.state.clients import settings
from pipeline.errors import AudiobookError

SESSION_COOKIE = "ab_session"
COOKIE_MAX_AGE_S = (
    30 * 24 * 3600
)  # the server-side session's own expiry decides (settings.session_ttl_s)
SIGN_IN_ROUTE, HOME_ROUTE, OAUTH_CALLBACK_ROUTE = "/signin", "/", "/auth/callback"


def resolve(token: str) -> tuple[int, str] | None:
    """(user id, email) of a live session token, None otherwise (blocking)."""
    found = resolve_with_role(token)
    return found[:2] if found else None


def resolve_with_role(token: str) -> tuple[int, str, bool] | None:
    """(user id, email, is admin) of a live session token, None otherwise (blocking)."""
    if not token:
        return None
    with session_scope(settings().database_url) as session:
        user = sessions.resolve_session(session, settings(), token)
        return (user.id, user.email, user.role == UserRole.ADMIN) if user else None


def first_run() -> bool:
    """True while no admin account exists: the next sign-up becomes the admin (blocking)."""
    with session_scope(settings().database_url) as session:
        return not admin.admin_exists(session)


def ensure_configured_admin() -> None:
    """At start: the admin account from AUDIOBOOK_ADMIN_EMAIL/_PASSWORD, if set and none exists."""
    with session_scope(settings().database_url) as session:
        admin.ensure_first_admin(session, settings())


def open_session(
    email: str, password: str, *, new_account: bool, address: str = ""
) -> tuple[str, int, str]:
    """Sign up (``new_account``; the first account of a fresh install is the admin) or
    sign in from client ``address`` (the failed-sign-in limits of
    :func:`users.sign_in_guarded`); return (session token, user id, email). Raises the
    accounts' InputError subclasses (RateLimitedError included) with messages safe to
    show (blocking)."""
    with session_scope(settings().database_url) as session:
        if new_account and not admin.admin_exists(session):
            user = admin.create_first_admin(session, settings(), email, password)
        elif new_account:
            user = users.sign_up(session, settings(), email, password)
        else:
            user = users.sign_in_guarded(session, settings(), email, password, address)
        token = sessions.create_session(session, settings(), user)
        return token, user.id, user.email


def providers() -> list[dict]:
    """The configured OpenID providers as sign-in buttons: [{name, label}]."""
    return [
        {"name": p.name, "label": f"Sign in with {p.display_name or p.name.capitalize()}"}
        for p in settings().oauth_providers
    ]


def callback_uri(provider: str) -> str:
    """The callback page registered at ``provider`` (public base URL + /auth/callback/<name>)."""
    return f"{settings().public_base_url.rstrip('/')}{OAUTH_CALLBACK_ROUTE}/{provider}"


def begin_provider_login(provider: str) -> tuple[str, str]:
    """(the provider's authorization URL, the state to expect back) (blocking). Raises
    NotFoundError for an unconfigured provider, OAuthProviderError when it is unreachable."""
    with session_scope(settings().database_url) as session:
        url, pending = oauth.authorization_url(
            session, settings(), settings().oauth_provider(provider), callback_uri(provider)
        )
        return url, pending.state


def finish_provider_login(
    provider: str, params: dict[str, str], expected_state: str
) -> tuple[str, int, str]:
    """Complete a provider sign-in from the callback's query; return (session token,
    user id, email) (blocking). Raises the OAuth errors of :mod:`audiobook_app.accounts.oauth`."""
    with session_scope(settings().database_url) as session:
        user = oauth.complete_login(
            session,
            settings(),
            settings().oauth_provider(provider),
            callback_uri(provider),
            params,
            expected_state=expected_state or None,
        )
        return sessions.create_session(session, settings(), user), user.id, user.email


def close_session(token: str) -> None:
    """End the session behind ``token`` (blocking)."""
    with session_scope(settings().database_url) as session:
        sessions.sign_out(session, token)


class AuthState(rx.State):
    """The signed-in author (``user_id`` 0: nobody) and the sign-in form's error."""

    session_token: str = rx.Cookie(
        "", name=SESSION_COOKIE, max_age=COOKIE_MAX_AGE_S, same_site="lax"
    )
    user_id: int = 0
    email: str = ""
    is_admin: bool = False  # shows the Admin link; every admin page checks again itself
    auth_error: str = ""
    _oauth_state: str = ""  # the provider sign-in this browser started (backend only)

    @rx.event
    async def require_user(self):
        """on_load of private pages: resolve the cookie, or go to the sign-in page."""
        found = await asyncio.to_thread(resolve_with_role, self.session_token)
        if found is None:
            self.user_id, self.email, self.is_admin = 0, "", False
            return rx.redirect(SIGN_IN_ROUTE)
        self.user_id, self.email, self.is_admin = found

    async def _open(self, form: dict, new_account: bool):
        self.auth_error = ""
        try:
            token, self.user_id, self.email = await asyncio.to_thread(
                open_session,
                str(form.get("email", "")),
                str(form.get("password", "")),
                new_account=new_account,
                address=self.router.session.client_ip,
            )
        except AudiobookError as exc:  # refusals (InputError), the sign-in limits' Redis down
            self.auth_error = str(exc)
            return None
        self.session_token = token
        return rx.redirect(HOME_ROUTE)

    @rx.event
    async def sign_in(self, form: dict):
        """Sign-in form submit: {email, password}."""
        return await self._open(form, new_account=False)

    @rx.event
    async def sign_up(self, form: dict):
        """Sign-up form submit: {email, password}."""
        return await self._open(form, new_account=True)

    @rx.event
    async def sign_in_with(self, provider: str):
        """A "Sign in with ..." button: off to the provider (the state kept server-side)."""
        self.auth_error = ""
        try:
            url, self._oauth_state = await asyncio.to_thread(begin_provider_login, provider)
        except AudiobookError as exc:
            self.auth_error = str(exc)
            return None
        return rx.redirect(url)

    @rx.event
    async def provider_callback(self):
        """on_load of /auth/callback/<provider>: finish the sign-in, then go home."""
        params = dict(self.router.url.query_parameters)
        provider = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            token, self.user_id, self.email = await asyncio.to_thread(
                finish_provider_login, provider, params, self._oauth_state
            )
        except AudiobookError as exc:
            self.auth_error = str(exc)
            return rx.redirect(SIGN_IN_ROUTE)
        self.session_token, self._oauth_state = token, ""
        return rx.redirect(HOME_ROUTE)

    @rx.event
    async def sign_out(self):
        """End the session and forget the cookie."""
        await asyncio.to_thread(close_session, self.session_token)
        self.session_token, self.user_id, self.email, self.is_admin = "", 0, "", False
        return rx.redirect(SIGN_IN_ROUTE)
