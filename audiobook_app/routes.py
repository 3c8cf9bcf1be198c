"""HTTP routes served beside the pages, on the same port (mounted via ``api_transformer``).

``GET /health``: the report of :func:`audiobook_app.health.check_health` as JSON,
``{"healthy": bool, "checks": [{"name", "ok", "detail", "required"}, ...]}``, with
status 200 when every required part is ok and 503 otherwise. The checks (engines,
workers, addresses) are for operators: only a request from this machine (a loopback
address, not forwarded by a proxy) or a signed-in admin gets them; anyone else gets
``{"healthy": bool}`` with the same status. The checks block (they query the database
and Redis and let Piper speak a word), so they run in a thread.

``GET /auth/session`` and ``POST /auth/signout``: the session cookie's routes, and
:class:`~audiobook_app.session_routes.SessionCookieRefresh` around everything
(:mod:`audiobook_app.session_routes`).

``GET /files/{file_id}[?download=1]``: one of the signed-in author's stored files (the
``ab_session`` cookie names the session), with HTTP range requests (Starlette's
FileResponse: 206 Partial Content, what the player's seeking needs) from local
storage, or a redirect to a short-lived presigned URL on S3. ``GET /covers/{book_id}``:
a book's cover. ``GET /jobs/{job_id}/chapters.zip``: every chapter file of a job in one
ZIP (stored, not deflated: MP3 does not compress), built in a temporary file.
``GET /account/export.zip``: everything of the signed-in user's as one ZIP
(:func:`audiobook_app.account_data.export_zip`). Anything not the caller's answers 404,
exactly like a missing id, and so does an id no row can have (``/files/99999999999999999999``:
:func:`audiobook_app.accounts.ownership.valid_row_id`, checked before any query).
"""

from __future__ import annotations

import ipaddress
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import BinaryIO, TypeVar

from fastapi import FastAPI
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from audiobook_app import account_data, library
from audiobook_app.api.app import build_rest_api
from audiobook_app.db.models import FilePurpose
from audiobook_app.db.session import session_scope
from audiobook_app.downloads import attachment, spooled
from audiobook_app.health import check_health, is_healthy
from audiobook_app.session_routes import SessionCookieRefresh, end_session, start_session
from audiobook_app.settings import get_settings
from audiobook_app.state.auth import (
    SESSION_COOKIE,
    SESSION_PATH,
    SIGN_OUT_PATH,
    resolve,
    resolve_with_role,
)
from audiobook_app.state.clients import storage
from audiobook_app.storage import LocalStorage
from pipeline.encode import slugify
from pipeline.errors import NotFoundError

CHAPTER_PURPOSES = (FilePurpose.MP3, FilePurpose.FLAC, FilePurpose.WAV)

HEALTH_PATH = "/health"
HTTP_OK, HTTP_SERVICE_UNAVAILABLE = 200, 503
# Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever
# the peer address says.
FORWARDED_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def health_report(details: bool = True) -> tuple[dict, int]:
    """The health report as a JSON-ready dict, and its HTTP status; ``details`` False
    leaves the checks out (``{"healthy": bool}``), the status is the same."""
    checks = check_health(get_settings())
    healthy = is_healthy(checks)
    payload: dict = {"healthy": healthy}
    if details:
        payload["checks"] = [asdict(check) for check in checks]
    return payload, HTTP_OK if healthy else HTTP_SERVICE_UNAVAILABLE


def is_local(request: Request) -> bool:
    """Whether ``request`` comes from this machine: a loopback peer address (IPv4,
    IPv6 or IPv4-mapped) and no header of a proxy that forwarded it."""
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not any(h in request.headers for h in FORWARDED_HEADERS)


def _health_for(local: bool, token: str | None) -> tuple[dict, int]:
    found = None if local else resolve_with_role(token or "")
    return health_report(details=local or bool(found and found[2]))


async def health(request: Request) -> JSONResponse:
    """``GET /health`` (see the module docstring)."""
    payload, status = await run_in_threadpool(
        _health_for, is_local(request), request.cookies.get(SESSION_COOKIE)
    )
    return JSONResponse(payload, status_code=status)


@dataclass(frozen=True)
class _Located:
    key: str
    mime: str
    name: str


T = TypeVar("T")


def _as_owner(token: str | None, find: Callable[[Session, int], T | None]) -> T | None:
    """``find(session, user id)`` for the session cookie's user; None when signed out or
    when ``find`` raises NotFoundError (another user's object reads as a missing one)."""
    found = resolve(token or "")
    if found is None:
        return None
    with session_scope(get_settings().database_url) as session:
        try:
            return find(session, found[0])
        except NotFoundError:
            return None


def _file(session: Session, user_id: int, file_id: int) -> _Located:
    row = library.owned_file(session, user_id, file_id)
    return _Located(row.key, row.mime, row.key.rsplit("/", 1)[-1])


def _cover(session: Session, user_id: int, book_id: int) -> _Located | None:
    book = library.owned_book(session, user_id, book_id)
    return _Located(book.cover_key, "image/jpeg", "cover") if book.cover_key else None


def _respond(located: _Located | None, download: bool) -> Response:
    if located is None:
        return PlainTextResponse("not found", status_code=404)
    store = storage()
    if isinstance(store, LocalStorage):
        path = store.path_for(located.key)
        if not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(
            path,
            media_type=located.mime,
            filename=located.name,
            content_disposition_type="attachment" if download else "inline",
        )
    url = store.download_url(
        located.key,
        expires_s=get_settings().download_url_ttl_s,
        filename=located.name if download else None,
    )
    return RedirectResponse(url, status_code=307)


async def serve_file(request: Request) -> Response:
    """``GET /files/{file_id}`` (see the module docstring)."""
    file_id = request.path_params["file_id"]
    located = await run_in_threadpool(
        _as_owner,
        request.cookies.get(SESSION_COOKIE),
        lambda session, user_id: _file(session, user_id, file_id),
    )
    return _respond(located, request.query_params.get("download") == "1")


async def serve_cover(request: Request) -> Response:
    """``GET /covers/{book_id}`` (see the module docstring)."""
    book_id = request.path_params["book_id"]
    located = await run_in_threadpool(
        _as_owner,
        request.cookies.get(SESSION_COOKIE),
        lambda session, user_id: _cover(session, user_id, book_id),
    )
    return _respond(located, False)


def _chapter_files(session: Session, user_id: int, job_id: str) -> tuple[list[str], str]:
    job = library.owned_job(session, user_id, job_id)
    files = [
        f.key for f in library.job_files(session, user_id, job_id) if f.purpose in CHAPTER_PURPOSES
    ]
    return files, library.owned_book(session, user_id, job.book_id).title


def _chapters_zip(token: str | None, job_id: str) -> tuple[BinaryIO, int, str] | None:
    """The caller's ZIP of a job's chapter files as ``(open file, size in bytes, download
    name)``; the file is already unlinked, so it vanishes when closed. None: not theirs."""
    found = _as_owner(token, lambda session, user_id: _chapter_files(session, user_id, job_id))
    if found is None:
        return None
    files, title = found
    if not files:
        return None

    def write(handle: BinaryIO) -> None:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
            for key in files:
                archive.writestr(key.rsplit("/", 1)[-1], storage().get_bytes(key))

    return *spooled(write), f"{slugify(title)}-chapters.zip"


async def serve_chapters_zip(request: Request) -> Response:
    """``GET /jobs/{job_id}/chapters.zip`` (see the module docstring), streamed from an
    unlinked temporary file (:mod:`audiobook_app.downloads`)."""
    made = await run_in_threadpool(
        _chapters_zip, request.cookies.get(SESSION_COOKIE), request.path_params["job_id"]
    )
    if made is None:
        return PlainTextResponse("not found", status_code=404)
    return attachment(*made)


def _account_export(token: str | None) -> tuple[BinaryIO, int, str] | None:
    """The cookie's user's data export (:func:`account_data.export_zip`) as ``(open
    unlinked file, size in bytes, download name)``; None when signed out."""
    found = resolve(token or "")
    if found is None:
        return None
    return *account_data.export_file(
        get_settings(), storage(), found[0]
    ), account_data.export_filename()


async def serve_account_export(request: Request) -> Response:
    """``GET /account/export.zip``: everything of the signed-in user's as one ZIP (the
    account page's "Download all my data"), streamed like the chapters ZIP."""
    made = await run_in_threadpool(_account_export, request.cookies.get(SESSION_COOKIE))
    if made is None:
        return PlainTextResponse("not found", status_code=404)
    return attachment(*made)


def build_api() -> FastAPI:
    """The app Reflex mounts its own backend into (our routes take precedence): the
    REST API (:func:`audiobook_app.api.app.build_rest_api`) plus the routes above, which
    stay out of the OpenAPI document (they answer to the session cookie, not a key),
    and :class:`SessionCookieRefresh` around everything (the pages included)."""
    app = build_rest_api()
    app.add_middleware(SessionCookieRefresh)
    app.router.routes.extend(
        [
            Route(HEALTH_PATH, health, methods=["GET"]),
            Route(SESSION_PATH, start_session, methods=["GET"]),
            Route(SIGN_OUT_PATH, end_session, methods=["POST"]),
            Route("/files/{file_id:int}", serve_file, methods=["GET", "HEAD"]),
            Route("/covers/{book_id:int}", serve_cover, methods=["GET"]),
            Route("/jobs/{job_id}/chapters.zip", serve_chapters_zip, methods=["GET"]),
            Route("/account/export.zip", serve_account_export, methods=["GET"]),
        ]
    )
    return app
