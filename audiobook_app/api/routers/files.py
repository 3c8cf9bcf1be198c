"""``/api/v1/files``: upload a manuscript (to make a book of later: ``POST /books``
with its ``file_id``), list the caller's stored files, get one with a signed download
link, delete an upload. Services: :mod:`audiobook_app.user_files`.

Routes are plain functions: FastAPI runs them in its thread pool, so their blocking
database and storage work never stalls the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, UploadFile
from fastapi import File as FormFile

from audiobook_app import library, user_files
from audiobook_app.api.common import download_link, read_upload
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import (
    AUTHED,
    MAX_ID,
    FileDetail,
    FileList,
    FileOut,
    errors,
    next_offset,
)
from audiobook_app.db.models import FilePurpose
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from audiobook_app.state.clients import storage

router = APIRouter(tags=["files"], responses=AUTHED)
FileId = Annotated[int, Path(ge=1, le=MAX_ID, description="a file id")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


@router.post("/files", status_code=201, response_model=FileOut, responses=errors(400, 413))
def upload_file(
    caller: CallerDep,
    file: Annotated[UploadFile, FormFile(description="EPUB, DOCX, PDF, TXT or Markdown")],
) -> FileOut:
    """Upload a manuscript. It waits to become a book (``POST /books`` with its id);
    uploads nobody makes a book of are removed after a day."""
    settings = get_settings()
    data = read_upload(file, settings.max_upload_bytes)
    with session_scope(settings.database_url) as session:
        row = user_files.store_upload(
            session, storage(), settings, caller.user_id, file.filename or "manuscript", data
        )
        return FileOut.of(row)


@router.get("/files", response_model=FileList)
def list_files(
    caller: CallerDep,
    purpose: FilePurpose | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FileList:
    """The caller's stored files, newest first (``purpose``: only those)."""
    with session_scope(get_settings().database_url) as session:
        rows = user_files.list_files(
            session, caller.user_id, purpose=purpose, limit=limit, offset=offset
        )
        items = [FileOut.of(r) for r in rows]
    return FileList(
        items=items, limit=limit, offset=offset, next_offset=next_offset(len(items), limit, offset)
    )


@router.get("/files/{file_id}", response_model=FileDetail, responses=errors(404))
def get_file(caller: CallerDep, file_id: FileId) -> FileDetail:
    """One of the caller's files, with an expiring signed link that downloads it."""
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        row = library.owned_file(session, caller.user_id, file_id)
        link = download_link(settings, storage(), row)
        return FileDetail(**FileOut.of(row).model_dump(), download=link)


@router.delete("/files/{file_id}", status_code=204, responses=errors(404, 409))
def delete_file(caller: CallerDep, file_id: FileId) -> Response:
    """Delete an upload that is not a book yet (a book's files go with the book:
    ``DELETE /books/{id}``)."""
    with session_scope(get_settings().database_url) as session:
        user_files.delete_upload(session, storage(), caller.user_id, file_id)
    return Response(status_code=204)
