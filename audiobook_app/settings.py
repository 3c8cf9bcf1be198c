"""The one settings object: every URL, path, secret and limit of the platform.

Values come from environment variables prefixed ``AUDIOBOOK_`` (``AUDIOBOOK_STORAGE_ROOT``)
or, for the three that operators know by their usual names, unprefixed ``DATABASE_URL``,
``REDIS_URL`` and ``SECRET_KEY``; a ``.env`` file in the working directory is read too.
Defaults are the embedded single-machine setup (PRODUCT.md): SQLite file, local-folder
storage, local Redis, Piper. Read them through :func:`get_settings` (cached); tests build
their own :class:`Settings` and pass it down instead of patching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

DEV_SECRET_KEY = "dev-insecure-secret-change-me"
DATA_DIR = Path("data")


class Settings(BaseSettings):
    """Platform settings (validated at start; see the module docstring for sources)."""

    model_config = SettingsConfigDict(env_prefix="AUDIOBOOK_", env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None  # None: INFO for workers, else WARNING
    secret_key: str = Field(DEV_SECRET_KEY, validation_alias=AliasChoices("SECRET_KEY", "AUDIOBOOK_SECRET_KEY"))

    # Database: SQLite file by default; DATABASE_URL=postgresql+psycopg://... for PostgreSQL.
    database_url: str = Field(
        f"sqlite:///{DATA_DIR / 'audiobook.db'}", validation_alias=AliasChoices("DATABASE_URL", "AUDIOBOOK_DATABASE_URL")
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL", "AUDIOBOOK_REDIS_URL"))

    # Storage: a local folder by default, or any S3-compatible endpoint.
    storage_backend: Literal["local", "s3"] = "local"
    storage_root: Path = DATA_DIR / "storage"
    s3_bucket: str = "audiobooks"
    s3_endpoint_url: str | None = None  # None = AWS; http://127.0.0.1:9000 for MinIO etc.
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    public_base_url: str = "http://127.0.0.1:3000"  # prefix of signed local file URLs

    # Web app (Reflex, prod mode): pages, websocket, uploads and /health on one port.
    web_port: int = Field(3000, ge=1, le=65535)
    download_url_ttl_s: int = Field(3600, ge=10, le=7 * 24 * 3600)  # S3 caps presigned URLs at 7 days

    # Uploads
    max_upload_bytes: int = Field(100 * 1024 * 1024, ge=1)

    # Queue, workers, jobs
    queue_prefix: str = "audiobook"  # RQ queues are <prefix>-cpu and <prefix>-tts
    synth_batch_chars: int = Field(6000, ge=200)  # one `tts` task: ~6k chars = ~6 min of audio
    task_lease_s: int = Field(45, ge=3)  # a running task not heard from for this long is abandoned
    heartbeat_interval_s: float = Field(10.0, gt=0)
    watchdog_interval_s: float = Field(15.0, gt=0)  # lease + interval = 60 s worst-case detection
    max_task_attempts: int = Field(4, ge=1)  # runs of one task (RQ retries + abandoned resumes)
    retry_backoff_s: tuple[int, ...] = (5, 30, 120)  # RQ Retry intervals for transient failures
    prepare_timeout_s: int = Field(900, ge=1)
    synth_timeout_s: int = Field(3600, ge=1)
    assemble_timeout_s: int = Field(3600, ge=1)
    tts_threads: int = Field(0, ge=0)  # onnxruntime threads per tts worker (0 = runtime default)
    work_dir: Path = DATA_DIR / "work"  # local scratch of a worker (downloads, assembly)
    cli_user_email: str = "local@localhost"  # owner of books submitted from the CLI

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> "Settings":
        if self.environment == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError("SECRET_KEY must be set in production (it signs file URLs and sessions)")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("AUDIOBOOK_S3_BUCKET is required with AUDIOBOOK_STORAGE_BACKEND=s3")
        return self

    def queue_name(self, kind: Literal["cpu", "tts"]) -> str:
        """RQ queue name for a kind of work: ``cpu`` (parse, assemble) or ``tts`` (synthesis)."""
        return f"{self.queue_prefix}-{kind}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Raises :class:`ConfigError` when invalid."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}".splitlines()[0] + " " + str(exc).splitlines()[-1]) from None
