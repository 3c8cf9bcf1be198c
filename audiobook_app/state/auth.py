"""Who is signed in: a server-side session whose token lives in the ``ab_session`` cookie.

Pages that need an author subclass :class:`AuthState` and put
``AuthState.require_user`` first in their ``on_load``. The token never reaches another
var; the user's id and email are all the pages see. argon2 hashing and database work
run in a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app.accounts import sessions, users
from audiobook_app.db.session import session_scope
from audiobook_app.state.clients import settings
from pipeline.errors import InputError

SESSION_COOKIE = "ab_session"
COOKIE_MAX_AGE_S = 30 * 24 * 3600  # the server-side session's own expiry decides (settings.session_ttl_s)
SIGN_IN_ROUTE, HOME_ROUTE = "/signin", "/"


def resolve(token: str) -> tuple[int, str] | None:
    """(user id, email) of a live session token, None otherwise (blocking)."""
    if not token:
        return None
    with session_scope(settings().database_url) as session:
        user = sessions.resolve_session(session, settings(), token)
        return (user.id, user.email) if user else None


def open_session(email: str, password: str, *, new_account: bool) -> tuple[str, int, str]:
    """Sign up (``new_account``) or sign in; return (session token, user id, email).
    Raises the accounts' InputError subclasses with messages safe to show (blocking)."""
    with session_scope(settings().database_url) as session:
        if new_account:
            user = users.sign_up(session, settings(), email, password)
        else:
            user = users.sign_in(session, settings(), email, password)
        token = sessions.create_session(session, settings(), user)
        return token, user.id, user.email


def close_session(token: str) -> None:
    """End the session behind ``token`` (blocking)."""
    with session_scope(settings().database_url) as session:
        sessions.sign_out(session, token)


class AuthState(rx.State):
    """The signed-in author (``user_id`` 0: nobody) and the sign-in form's error."""

    session_token: str = rx.Cookie("", name=SESSION_COOKIE, max_age=COOKIE_MAX_AGE_S, same_site="lax")
    user_id: int = 0
    email: str = ""
    auth_error: str = ""

    @rx.event
    async def require_user(self):
        """on_load of private pages: resolve the cookie, or go to the sign-in page."""
        found = await asyncio.to_thread(resolve, self.session_token)
        if found is None:
            self.user_id, self.email = 0, ""
            return rx.redirect(SIGN_IN_ROUTE)
        self.user_id, self.email = found

    async def _open(self, form: dict, new_account: bool):
        self.auth_error = ""
        try:
            token, self.user_id, self.email = await asyncio.to_thread(
                open_session, str(form.get("email", "")), str(form.get("password", "")), new_account=new_account)
        except InputError as exc:
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
    async def sign_out(self):
        """End the session and forget the cookie."""
        await asyncio.to_thread(close_session, self.session_token)
        self.session_token, self.user_id, self.email = "", 0, ""
        return rx.redirect(SIGN_IN_ROUTE)
