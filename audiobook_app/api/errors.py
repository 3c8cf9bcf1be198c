"""Errors as JSON: ``{"error": {"code": str, "message": str}}`` with the right status.

Each :mod:`pipeline.errors` class maps to one status (:data:`STATUS_OF`, first match
in MRO order); any other ``InputError`` is 400, any other ``AudiobookError`` 503 (a
part of ours or of the environment failed: try again), FastAPI's validation errors
422, and a 429 carries ``Retry-After``.

An id in the URL that no object can have (``/books/99999999999999999999``, ``/books/0``,
``/books/abc``, ``/jobs?book_id=-1``) answers 404 ``not_found``, exactly like a
missing id, not 422: every path parameter of this API names an object (or a chapter or
segment of one), so a path parameter that fails validation does, and so does a query
parameter named ``*_id``. The routers declare the ranges (``Path(ge=1, le=MAX_ID)``)
once; this handler turns their refusal into the 404.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import errors

log = logging.getLogger(__name__)

STATUS_OF: dict[type[errors.AudiobookError], int] = {
    errors.RateLimitedError: 429,
    errors.InsufficientCreditsError: 402,
    errors.PaymentsDisabledError: 409,
    errors.ForbiddenError: 403,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.UploadTooLargeError: 413,
    errors.StorageQuotaExceededError: 413,
    errors.SignInError: 401,
    errors.WebhookError: 400,
    errors.InputError: 400,
    errors.NoWorkerError: 503,
    errors.AudiobookError: 503,
}


def status_of(exc: errors.AudiobookError) -> int:
    """The HTTP status of ``exc`` (see the module docstring)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def error_body(code: str, message: str) -> dict:
    """The one JSON error shape."""
    return {"error": {"code": code, "message": message}}


def _code(exc: Exception) -> str:
    name = type(exc).__name__.removesuffix("Error")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_") or "error"


async def _audiobook_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AudiobookError)
    status = status_of(exc)
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(max(1, exc.retry_after_s))
    if status >= 500:
        log.warning("API request failed: %s", exc)
    return JSONResponse(error_body(_code(exc), str(exc)), status_code=status, headers=headers)


def _names_no_object(loc: tuple | list) -> bool:
    """Whether a validation error at ``loc`` is in an id of the URL (see the module docstring)."""
    return len(loc) >= 2 and (
        loc[0] == "path" or (loc[0] == "query" and str(loc[1]).endswith("_id"))
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    missing = next(
        (
            e
            for e in exc.errors()
            if _names_no_object(e.get("loc", ())) and e.get("type") != "missing"
        ),
        None,
    )
    if missing is not None:
        name = str(missing["loc"][1]).removesuffix("_id").replace("_", " ")
        value = str(missing.get("input", ""))[:40]
        return JSONResponse(error_body("not_found", f"no {name} {value!r}"), status_code=404)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return JSONResponse(error_body("invalid_request", message), status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(f"http_{exc.status_code}", str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(errors.AudiobookError, _audiobook_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
