"""The S3 backend: :class:`S3Storage` stores objects in an S3 bucket (AWS or any
S3-compatible endpoint) through boto3, imported lazily so the local backend needs no
boto3, and translates every botocore / boto3 failure into :class:`StorageError` or
:class:`NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audiobook_app.storage.base import Storage
from audiobook_app.storage.keys import _check_ttl, _MiB, content_disposition, validate_key
from pipeline.errors import NotFoundError, StorageError


class S3Storage(Storage):
    """Objects in an S3 bucket (AWS or any S3-compatible endpoint) through boto3.

    ``batch_size`` is the keys per list page and per delete request (S3 allows at most
    1000; smaller only for tests); ``max_attempts`` the botocore retry budget.
    """

    MULTIPART_THRESHOLD = 8 * _MiB

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        *,
        batch_size: int = 1000,
        max_attempts: int = 5,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self._where = endpoint_url or "AWS S3"
        self._batch = max(1, min(batch_size, 1000))
        self._transfer = TransferConfig(
            multipart_threshold=self.MULTIPART_THRESHOLD, multipart_chunksize=8 * _MiB
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        what = f" for {key}" if key else ""
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "")) or "error"
            if key is not None and code in ("NoSuchKey", "404", "NotFound"):
                raise NotFoundError(f"no such file in storage: {key}") from exc
            if code in ("NoSuchBucket", "404", "NotFound"):
                raise StorageError(
                    f"S3 bucket {self.bucket!r} does not exist at {self._where}"
                ) from exc
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageError(
                    f"S3 refused access to bucket {self.bucket!r} ({code}); check the keys"
                ) from exc
            raise StorageError(f"S3 {action} failed{what}: {code}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(
                f"S3 {action} failed{what}: {self._where} unreachable or erring ({type(exc).__name__})"
            ) from exc
        except OSError as exc:
            raise StorageError(f"S3 {action} failed{what}: {exc.strerror or exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """``put_object`` (one request)."""
        with self._errors("upload", validate_key(key)):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """``upload_file``: multipart in 8 MiB parts for files over 8 MiB."""
        with self._errors("upload", validate_key(key)):
            self._s3.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )

    def get_bytes(self, key: str) -> bytes:
        """``get_object``."""
        with self._errors("download", validate_key(key)):
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_file(self, key: str, dest: Path) -> Path:
        """``download_file`` (s3transfer writes a temp file and renames it)."""
        dest = Path(dest)
        with self._errors("download", validate_key(key)):
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._s3.download_file(self.bucket, key, str(dest), Config=self._transfer)
        return dest

    def _head(self, key: str) -> dict:
        with self._errors("stat", validate_key(key)):
            return self._s3.head_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        """``head_object``; False on 404."""
        try:
            self._head(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """``ContentLength`` from ``head_object``."""
        return int(self._head(key)["ContentLength"])

    def list_keys(self, prefix: str) -> list[str]:
        """``list_objects_v2`` paginator over all pages."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=validate_key(prefix, prefix=True),
            PaginationConfig={"PageSize": self._batch},
        )
        with self._errors("list", prefix or "/"):
            return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))

    def delete(self, key: str) -> None:
        """``delete_object`` (idempotent)."""
        with self._errors("delete", validate_key(key)):
            self._s3.delete_object(Bucket=self.bucket, Key=key)

    def _delete_keys(self, keys: list[str]) -> int:
        count = 0
        for i in range(0, len(keys), self._batch):
            batch = keys[i : i + self._batch]
            with self._errors("delete", batch[0]):
                resp = self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            if errors := resp.get("Errors"):
                first = errors[0]
                raise StorageError(
                    f"S3 delete failed for {first.get('Key')}: {first.get('Code')} ({len(errors)} keys)"
                )
            count += len(batch)
        return count

    def download_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str:
        """Presigned GET (``generate_presigned_url``; computed locally, no request)."""
        _check_ttl(expires_s, filename)
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors("sign", key):
            return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)

    def check(self) -> None:
        """``head_bucket``: the endpoint answers, the bucket exists and the keys may use it."""
        with self._errors("bucket check"):
            self._s3.head_bucket(Bucket=self.bucket)
