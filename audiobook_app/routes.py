"""HTTP routes served beside the pages, on the same port (mounted via ``api_transformer``).

``GET /health``: the report of :func:`audiobook_app.health.check_health` as JSON,
``{"healthy": bool, "checks": [{"name", "ok", "detail", "required"}, ...]}``, with
status 200 when every required part is ok and 503 otherwise. The checks block (they
query the database and Redis and let Piper speak a word), so they run in a thread.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audiobook_app.health import check_health, is_healthy
from audiobook_app.settings import get_settings

HEALTH_PATH = "/health"
HTTP_OK, HTTP_SERVICE_UNAVAILABLE = 200, 503


def health_report() -> tuple[dict, int]:
    """The health report as a JSON-ready dict, and its HTTP status."""
    checks = check_health(get_settings())
    healthy = is_healthy(checks)
    payload = {"healthy": healthy, "checks": [asdict(check) for check in checks]}
    return payload, HTTP_OK if healthy else HTTP_SERVICE_UNAVAILABLE


async def health(_request: Request) -> JSONResponse:
    """``GET /health`` (see the module docstring)."""
    payload, status = await run_in_threadpool(health_report)
    return JSONResponse(payload, status_code=status)


def build_api() -> Starlette:
    """The Starlette app Reflex mounts its own backend into (our routes take precedence)."""
    return Starlette(routes=[Route(HEALTH_PATH, health, methods=["GET"])])
