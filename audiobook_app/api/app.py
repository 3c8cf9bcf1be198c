"""The FastAPI application of ``/api/v1`` (see :mod:`audiobook_app.api`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from audiobook_app.api import errors
from audiobook_app.settings import get_settings
from audiobook_app.storage import size_text

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
MANUSCRIPT_UPLOADS = (f"{API_PREFIX}/books", f"{API_PREFIX}/files")  # POST: multipart
MULTIPART_SLACK_BYTES = 64 * 1024  # a multipart body's boundaries, part headers, other fields


class UploadSizeGuard:
    """ASGI middleware: a manuscript upload (``POST`` to one of ``paths``) whose
    ``Content-Length`` is over ``settings.max_upload_bytes`` plus
    :data:`MULTIPART_SLACK_BYTES` is answered 413 (``upload_too_large``, the API's error
    shape) before any of its body is read. Smaller or chunked bodies go on to the
    route, where ``read_upload`` and the service's own checks still apply."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"].rstrip("/") in self.paths:
                length = Headers(scope=scope).get("content-length", "")
                limit = get_settings().max_upload_bytes
                if length.isdigit() and int(length) > limit + MULTIPART_SLACK_BYTES:
                    await _too_large(int(length), limit)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _too_large(length: int, limit: int) -> JSONResponse:
    message = f"the upload ({size_text(length)}) is larger than the {size_text(limit)} upload limit"
    return JSONResponse(
        errors.error_body("upload_too_large", message),
        status_code=413,
        headers={"Connection": "close"},
    )


def build_rest_api() -> FastAPI:
    """The API app: every router under :data:`API_PREFIX`, JSON errors, OpenAPI, and
    manuscript uploads over the size limit refused from their ``Content-Length``
    (:class:`UploadSizeGuard`)."""
    app = FastAPI(
        title="Audiobook Studio API",
        version="1.0.0",
        description=(
            "Manuscripts in, mastered audiobooks out. Authenticate with a personal API key "
            "(dashboard → API keys): `Authorization: Bearer abk_...`. Errors are "
            '`{"error": {"code", "message"}}`; 429 responses carry `Retry-After`.'
        ),
        openapi_url=OPENAPI_PATH,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(UploadSizeGuard, paths=MANUSCRIPT_UPLOADS)
    for router, responses in _routers():
        app.include_router(router, prefix=API_PREFIX, responses=responses)
    return app


def _routers() -> list:
    """Every router of the API (each module under ``audiobook_app.api.routers`` that
    defines ``router``), in a fixed order, with the error responses its routes declare
    besides their own: the module's ``RESPONSES`` when it has one (a router without
    API keys), else :data:`schemas.AUTHED` (401, 422, 429 with ``Retry-After``, 503)."""
    import importlib
    import pkgutil

    from audiobook_app.api import routers
    from audiobook_app.api.schemas import AUTHED

    found = []
    for info in sorted(pkgutil.iter_modules(routers.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{routers.__name__}.{info.name}")
        if hasattr(module, "router"):
            found.append((module.router, getattr(module, "RESPONSES", AUTHED)))
    return found
