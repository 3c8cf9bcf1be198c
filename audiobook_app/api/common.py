"""What the routers share: reading an upload under a size cap, expiring download links,
and the ``/files/<id>`` paths the services hand the pages turned into file ids.

Download links: on S3 a presigned GET URL (:meth:`S3Storage.download_url`); on local
storage the same HMAC-SHA256 signature :class:`LocalStorage` makes for its ``/files/``
URLs (key, expiry, file name; ``settings.secret_key``), served under
``/api/v1/downloads/<key>`` by :mod:`audiobook_app.api.routers.downloads`. Either way a
link works without an API key until ``settings.download_url_ttl_s`` seconds have passed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import UploadFile

from audiobook_app.api.schemas import DownloadLink
from audiobook_app.db.models import File, utcnow
from audiobook_app.downloads import signed_url
from audiobook_app.settings import Settings
from audiobook_app.storage import Storage, size_text
from pipeline.errors import UploadTooLargeError

_FILE_PATH = re.compile(r"^/files/(\d+)(?:\?.*)?$")


def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The whole content of ``upload``, reading at most ``max_bytes`` + 1 bytes. Raises
    UploadTooLargeError (413) when it is larger than ``max_bytes``."""
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        name = upload.filename or "the upload"
        raise UploadTooLargeError(
            f"{name}: the file is larger than the {size_text(max_bytes)} upload limit"
        )
    return data


def file_id_of(path: str) -> int | None:
    """The file id of a ``/files/<id>`` path (as the voice library gives samples), else None."""
    found = _FILE_PATH.match(path or "")
    return int(found.group(1)) if found else None


def download_link(settings: Settings, storage: Storage, row: File) -> DownloadLink:
    """An expiring signed URL that downloads ``row`` (see the module docstring)."""
    name = row.key.rsplit("/", 1)[-1]
    url = signed_url(settings, storage, row.key)
    return DownloadLink(
        file_id=row.id,
        name=name,
        purpose=str(row.purpose),
        mime=row.mime,
        size_bytes=row.size_bytes,
        url=url,
        expires_at=utcnow() + timedelta(seconds=settings.download_url_ttl_s),
    )
