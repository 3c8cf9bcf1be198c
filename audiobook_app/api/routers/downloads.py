"""``/api/v1/downloads/{key}``: the signed download links of local storage (see
:mod:`audiobook_app.api.common`). No API key: the signature is the permission. A link
that is expired, altered or not this server's answers 403; with S3 storage links go to
the bucket and this route answers 404."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from audiobook_app.api.schemas import errors
from audiobook_app.state.clients import storage
from audiobook_app.storage import LocalStorage
from pipeline.errors import ForbiddenError, NotFoundError

router = APIRouter(tags=["files"])
RESPONSES: dict = {}  # no API key: none of the key's errors (see api.app._routers)


@router.get(
    "/downloads/{key:path}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        **errors(403, 404, 422),
    },
)
def download(
    key: str,
    expires: Annotated[int, Query(description="unix time the link expires at")],
    sig: Annotated[str, Query(max_length=128, description="the link's signature")],
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> FileResponse:
    """Download a file through a signed link (``url`` of a download link from
    ``GET /files/{id}`` or ``GET /jobs/{id}/downloads``)."""
    store = storage()
    if not isinstance(store, LocalStorage):
        raise NotFoundError("downloads are served by the storage bucket on this server")
    if not store.verify_download(key, expires, sig, filename):
        raise ForbiddenError("this download link is invalid or expired: ask the API for a new one")
    path = store.path_for(key)
    if not path.is_file():
        raise NotFoundError("the file of this download link was deleted")
    mime = mimetypes.guess_type(filename or key)[0] or "application/octet-stream"
    return FileResponse(path, media_type=mime, filename=filename or key.rsplit("/", 1)[-1])
