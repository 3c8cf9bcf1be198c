"""Who is signed in: a server-side session whose token lives in the ``ab_session`` cookie.

Pages that need an author subclass :class:`AuthState` and put
``AuthState.require_user`` first in their ``on_load``. The token never reaches a var
the browser sees; the user's id and email are all the pages see. argon2 hashing and
database work run in a thread (``asyncio.to_thread``), never on the event loop.

The cookie is HttpOnly (page scripts cannot read it), SameSite=Lax, Secure when
``settings.public_base_url`` is https, and lives ``settings.session_ttl_s`` like the
session (:func:`session_cookie`). A script-set cookie can never be HttpOnly, so only the
server sets it: a sign-in (password or provider) leaves a one-time ticket in Redis
(:func:`issue_ticket`, :data:`TICKET_TTL_S`) and sends the browser to
``GET /auth/session?ticket=...`` (:data:`SESSION_PATH`, :mod:`audiobook_app.routes`),
which redeems it, sets the cookie and redirects home; a full page load, so the new
websocket connection carries the cookie. The state reads the token from that
connection's ``Cookie`` header (:attr:`AuthState.session_token`). Signing out ends the
session, then the page's script asks ``POST /auth/signout`` (:data:`SIGN_OUT_PATH`) to
remove the cookie and, once it answered, goes to the sign-in page.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

import redis
import reflex as rx
from reflex.event import EventSpec, EventType
from starlette.requests import cookie_parser

from audiobook_app.accounts import admin, oauth, sessions, users
from audiobook_app.accounts.tokens import new_token, plausible, token_digest
from audiobook_app.db.models import UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from audiobook_app.state.clients import redis_conn, settings
from pipeline.errors import AudiobookError, QueueError

SESSION_COOKIE = "ab_session"
SIGN_IN_ROUTE, HOME_ROUTE, OAUTH_CALLBACK_ROUTE = "/signin", "/", "/auth/callback"
SESSION_PATH, SIGN_OUT_PATH = "/auth/session", "/auth/signout"  # routes.py serves them
TICKET_TTL_S = 60  # a sign-in ticket is redeemed at once by the page that got it


def session_cookie(config: Settings) -> dict:
    """The attributes of the ``ab_session`` cookie as keyword arguments of Starlette's
    ``Response.set_cookie`` (all but ``value``): HttpOnly, SameSite=Lax, path ``/``,
    Max-Age ``config.session_ttl_s`` (the session's idle lifetime), Secure when
    ``config.public_base_url`` is https."""
    return {
        "key": SESSION_COOKIE,
        "max_age": config.session_ttl_s,
        "path": "/",
        "httponly": True,
        "secure": config.public_base_url.lower().startswith("https://"),
        "samesite": "lax",
    }


def cookie_token(cookie_header: str | None) -> str:
    """The ``ab_session`` value of a request's ``Cookie`` header ("" when absent)."""
    return cookie_parser(cookie_header or "").get(SESSION_COOKIE, "")


def _ticket_key(ticket: str) -> str:
    return f"{settings().queue_prefix}:signin-ticket:{token_digest(ticket)}"


def issue_ticket(token: str) -> str:
    """A one-time ticket for session ``token``, redeemable once within
    :data:`TICKET_TTL_S` seconds (Redis keeps its digest -> the token). Raises
    QueueError when Redis is unreachable (blocking)."""
    ticket = new_token()
    try:
        redis_conn().set(_ticket_key(ticket), token, ex=TICKET_TTL_S)
    except redis.RedisError as exc:
        raise QueueError(f"signing in needs Redis, which is unreachable: {exc}") from None
    return ticket


def redeem_ticket(ticket: str) -> str | None:
    """The session token of ``ticket``, once (the ticket is deleted); None when it is
    unknown, expired or used. Raises QueueError when Redis is unreachable (blocking)."""
    if not plausible(ticket):
        return None
    key = _ticket_key(ticket)
    try:
        with redis_conn().pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.delete(key)
            token, deleted = pipe.execute()
    except redis.RedisError as exc:
        raise QueueError(f"signing in needs Redis, which is unreachable: {exc}") from None
    if not token or not deleted:
        return None
    return token.decode() if isinstance(token, bytes) else str(token)


def _navigate(path: str) -> EventSpec:
    """A full page load of ``path`` (not the client-side router: the server answers it)."""
    return rx.call_script(f"window.location.assign({json.dumps(path)})")


def _set_cookie_then_home(ticket: str) -> EventSpec:
    return _navigate(f"{SESSION_PATH}?{urlencode({'ticket': ticket})}")


def remove_cookie_then(callback: EventType[Any]) -> EventSpec:
    """Have the page's script ask the server to remove the session cookie
    (``POST`` :data:`SIGN_OUT_PATH`), then send ``callback`` (with the answer's status,
    0 when the request failed): a script cannot remove an HttpOnly cookie itself."""
    request = f"fetch({json.dumps(SIGN_OUT_PATH)}, {{method: 'POST', credentials: 'same-origin'}})"
    return rx.call_script(f"{request}.then((r) => r.status, () => 0)", callback=callback)


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

    user_id: int = 0
    email: str = ""
    is_admin: bool = False  # shows the Admin link; every admin page checks again itself
    auth_error: str = ""
    _oauth_state: str = ""  # the provider sign-in this browser started (backend only)
    _token_override: str = ""  # see session_token (backend only)

    @property
    def session_token(self) -> str:
        """The session token of this browser: the ``ab_session`` cookie its websocket
        connection sent (HttpOnly, so only the server reads it). A token assigned to
        this property is used instead (code that acts without a browser: tests);
        assigning "" goes back to the cookie."""
        return self._token_override or cookie_token(self.router.headers.cookie)

    @session_token.setter
    def session_token(self, token: str) -> None:
        self._token_override = token

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
            ticket = await asyncio.to_thread(issue_ticket, token)
        except AudiobookError as exc:  # refusals (InputError), the sign-in limits' Redis down
            self.auth_error = str(exc)
            return None
        self._token_override = ""
        return _set_cookie_then_home(ticket)

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
            ticket = await asyncio.to_thread(issue_ticket, token)
        except AudiobookError as exc:
            self.auth_error = str(exc)
            return rx.redirect(SIGN_IN_ROUTE)
        self._oauth_state, self._token_override = "", ""
        return _set_cookie_then_home(ticket)

    @rx.event
    async def sign_out(self):
        """End the session, have the server remove the cookie, then show sign-in."""
        await asyncio.to_thread(close_session, self.session_token)
        self._token_override, self.user_id, self.email, self.is_admin = "", 0, "", False
        return remove_cookie_then(AuthState.to_sign_in)

    @rx.event
    def to_sign_in(self, status: int = 0):
        """The sign-in page, after :meth:`sign_out` asked the server to remove the cookie
        (``status``: its answer, 204; 0 when the request failed, the session ended anyway)."""
        return rx.redirect(SIGN_IN_ROUTE)
