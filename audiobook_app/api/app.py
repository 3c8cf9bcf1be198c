"""The FastAPI application of ``/api/v1`` (see :mod:`audiobook_app.api`)."""

from __future__ import annotations

from fastapi import FastAPI

from audiobook_app.api import errors

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"


def build_rest_api() -> FastAPI:
    """The API app: every router under :data:`API_PREFIX`, JSON errors, OpenAPI."""
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
