"""Files built for one download (a ZIP of chapters, a data export) and their response,
and signed download links (:func:`signed_url`).

They are written to an unlinked temporary file and streamed from it, rather than sent
as a FileResponse with a delete-afterwards task: Granian sends files by path *after*
the response call returns (ASGI pathsend), so deleting the file then raced Granian
opening it (an intermittent 404 "Not found" from the server itself).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from starlette.responses import StreamingResponse

from audiobook_app.api.app import API_PREFIX
from audiobook_app.settings import Settings
from audiobook_app.storage import LocalStorage, Storage, content_disposition

DOWNLOADS_PATH = f"{API_PREFIX}/downloads"  # local storage's signed links (api.routers.downloads)

CHUNK_BYTES = 1 << 20


def spooled(write: Callable[[BinaryIO], None], suffix: str = ".zip") -> tuple[BinaryIO, int]:
    """``write(file)`` into an unlinked temporary file; returns it rewound and its size
    in bytes (it vanishes when closed). Raises what ``write`` raises (the file closed)."""
    handle = tempfile.TemporaryFile(suffix=suffix)
    try:
        write(handle)
    except BaseException:
        handle.close()
        raise
    size = handle.tell()
    handle.seek(0)
    return handle, size


def _read_and_close(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while data := handle.read(CHUNK_BYTES):
            yield data


def attachment(
    handle: BinaryIO, size: int, filename: str, media_type: str = "application/zip"
) -> StreamingResponse:
    """A download of ``handle`` (``size`` bytes) named ``filename``, closed when sent."""
    return StreamingResponse(
        _read_and_close(handle),
        media_type=media_type,
        headers={"Content-Length": str(size), "Content-Disposition": content_disposition(filename)},
    )


def signed_url(settings: Settings, storage: Storage, key: str) -> str:
    """An expiring signed URL that downloads the object ``key`` (valid for
    ``settings.download_url_ttl_s``): on S3 a presigned GET; on local storage the
    :class:`LocalStorage` signature, served under :data:`DOWNLOADS_PATH`. For the API's
    links and the pages' players alike."""
    name = key.rsplit("/", 1)[-1]
    url = storage.download_url(key, expires_s=settings.download_url_ttl_s, filename=name)
    if isinstance(storage, LocalStorage):
        base = settings.public_base_url.rstrip("/")
        url = base + DOWNLOADS_PATH + "/" + url.removeprefix(f"{base}/files/")
    return url
