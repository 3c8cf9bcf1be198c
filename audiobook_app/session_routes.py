"""The session cookie's HTTP routes, beside the pages on the same port.

``GET /auth/session?ticket=...``: sets the HttpOnly session cookie of a sign-in
(:func:`audiobook_app.state.auth.redeem_ticket`) and redirects home; ``POST
/auth/signout`` ends the cookie's session and removes the cookie (204; the page's
script asks it when the author signs out). Both refuse cross-site requests
(``Sec-Fetch-Site``; a cross-site POST does not carry the SameSite=Lax cookie
anyway). Every page load that carries the cookie gets it back with a fresh Max-Age, so
it lives as long as the session's sliding idle lifetime (:class:`SessionCookieRefresh`).
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiobook_app.settings import get_settings
from audiobook_app.state.auth import (
    HOME_ROUTE,
    SESSION_COOKIE,
    SIGN_IN_ROUTE,
    close_session,
    cookie_token,
    redeem_ticket,
    session_cookie,
)
from pipeline.errors import AudiobookError

HTTP_OK, HTTP_NO_CONTENT, HTTP_SEE_OTHER, HTTP_SERVICE_UNAVAILABLE = 200, 204, 303, 503
REFRESHED = (HTTP_OK, 304)  # page loads whose answer renews the session cookie
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # what accounts.tokens.new_token makes
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _not_cross_site(request: Request) -> bool:
    """Whether the browser says ``request`` comes from our own pages (``Sec-Fetch-Site:
    same-origin``); clients that send no ``Sec-Fetch-Site`` pass."""
    return request.headers.get("sec-fetch-site", "same-origin") == "same-origin"


async def start_session(request: Request) -> Response:
    """``GET /auth/session?ticket=...`` (see the module docstring): a sign-in's one-time
    ticket becomes the HttpOnly session cookie; an unknown, used or expired ticket, or
    a cross-site request, goes to the sign-in page without a cookie."""
    ticket = request.query_params.get("ticket", "")
    try:
        token = await run_in_threadpool(redeem_ticket, ticket) if _not_cross_site(request) else None
    except AudiobookError as exc:  # Redis unreachable
        return PlainTextResponse(str(exc), status_code=HTTP_SERVICE_UNAVAILABLE)
    if token is None:
        return RedirectResponse(SIGN_IN_ROUTE, status_code=HTTP_SEE_OTHER, headers=NO_STORE)
    response = RedirectResponse(HOME_ROUTE, status_code=HTTP_SEE_OTHER, headers=NO_STORE)
    response.set_cookie(value=token, **session_cookie(get_settings()))
    return response


async def end_session(request: Request) -> Response:
    """``POST /auth/signout`` (see the module docstring): 204, or 403 cross-site."""
    if not _not_cross_site(request):
        return PlainTextResponse("sign out from the studio's own pages", status_code=403)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(close_session, token)
    response = Response(status_code=HTTP_NO_CONTENT, headers=NO_STORE)
    cookie = session_cookie(get_settings())
    del cookie["max_age"]
    response.delete_cookie(**cookie)
    return response


def refreshed_cookie(token: str) -> str | None:
    """The ``Set-Cookie`` value that gives session cookie ``token`` a fresh Max-Age,
    None for a value that is not one of our tokens (never echoed back)."""
    if not _TOKEN.match(token):
        return None
    response = Response()
    response.set_cookie(value=token, **session_cookie(get_settings()))
    return response.headers["set-cookie"]


def is_page_load(headers: Headers) -> bool:
    """Whether a request is a browser navigation: ``Sec-Fetch-Dest: document``, or, from
    a browser that does not send it, one that accepts HTML."""
    dest = headers.get("sec-fetch-dest")
    return dest == "document" if dest is not None else "text/html" in headers.get("accept", "")


class SessionCookieRefresh:
    """ASGI middleware: a page load (:func:`is_page_load`, answered 200, or 304 from the
    browser's cache) that carried the session cookie gets it back with a fresh Max-Age
    (``settings.session_ttl_s``), the way the server-side session's idle expiry moves
    on each use. The cookie's value is not checked here: a dead token stays dead, only
    its cookie lives on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cookie = None
        if scope["type"] == "http" and scope["method"] == "GET":
            headers = Headers(scope=scope)
            token = cookie_token(headers.get("cookie"))
            if token and is_page_load(headers):
                cookie = refreshed_cookie(token)
        if cookie is None:
            await self.app(scope, receive, send)
            return

        async def send_refreshed(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in REFRESHED:
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_refreshed)
