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

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError, NotFoundError

DEV_SECRET_KEY = "dev-insecure-secret-change-me"
DATA_DIR = Path("data")
DAY_S = 24 * 3600


# Accounts: one OpenID Connect provider (the Accounts block of Settings lists them).
class OAuthProviderSettings(BaseModel):
    """One OpenID Connect provider users may sign in with (an item of
    ``AUDIOBOOK_OAUTH_PROVIDERS``, a JSON list). Register the app at the provider with
    the redirect URI the web app shows for ``name``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")  # in URLs and the database
    display_name: str | None = None  # button text; None: name capitalized
    issuer: str  # e.g. https://accounts.google.com; must equal the discovery document's
    server_metadata_url: str | None = None  # None: <issuer>/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    # Treat every email this provider asserts as verified, even without email_verified=true
    # (some providers, e.g. Microsoft Entra ID, never send the claim). Only for a provider
    # whose users cannot choose arbitrary addresses, such as your own company's.
    trust_email: bool = False


class CreditPack(BaseModel):
    """A pack of credits sold through Stripe Checkout (an item of ``AUDIOBOOK_CREDIT_PACKS``,
    a JSON list): ``price_cents`` in the settings' currency's smallest unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    credits: int = Field(ge=1)
    price_cents: int = Field(ge=50)  # Stripe's minimum charge is about 0.50 in most currencies


class Settings(BaseSettings):
    """Platform settings (validated at start; see the module docstring for sources)."""

    model_config = SettingsConfigDict(
        env_prefix="AUDIOBOOK_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = (
        None  # None: INFO for workers, else WARNING
    )
    secret_key: str = Field(
        DEV_SECRET_KEY, validation_alias=AliasChoices("SECRET_KEY", "AUDIOBOOK_SECRET_KEY")
    )

    # Database: SQLite file by default; DATABASE_URL=postgresql+psycopg://... for PostgreSQL.
    database_url: str = Field(
        f"sqlite:///{DATA_DIR / 'audiobook.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "AUDIOBOOK_DATABASE_URL"),
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "AUDIOBOOK_REDIS_URL"),
    )

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
    # The address it listens on: this machine only by default; 0.0.0.0 (every interface,
    # what the Docker image sets) only behind a firewall or a reverse proxy.
    web_host: str = Field("127.0.0.1", min_length=1)
    download_url_ttl_s: int = Field(
        3600, ge=10, le=7 * 24 * 3600
    )  # S3 caps presigned URLs at 7 days

    # Uploads: one manuscript at most max_upload_bytes (checked before it is stored); an
    # author's stored files (manuscripts, uploads, voices, every job's audio) at most
    # storage_quota_bytes, checked when a manuscript is added (0: no quota).
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    storage_quota_bytes: int = Field(5 * 1024**3, ge=0)

    # Queue, workers, jobs
    queue_prefix: str = "audiobook"  # RQ queues are <prefix>-cpu, <prefix>-tts, <prefix>-gpu
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
    # Qwen3-TTS (GPU workers, `audiobook worker --queues gpu`): the operator's local model
    # folders, never downloaded. CustomVoice: built-in speakers; Base: clones (and designed
    # voices, which become clones); VoiceDesign: voices from a description. Unset: no
    # Qwen3-TTS voices are offered.
    qwen_custom_voice_dir: Path | None = None
    qwen_base_dir: Path | None = None
    qwen_voice_design_dir: Path | None = None
    qwen_batch_size: int = Field(8, ge=1, le=64)  # segments per Qwen3-TTS generate() call
    work_dir: Path = DATA_DIR / "work"  # local scratch of a worker (downloads, assembly)
    cli_user_email: str = "local@localhost"  # owner of books submitted from the CLI

    # --- Accounts: passwords, sessions, password reset, mail, first admin, OAuth ---------
    password_min_chars: int = Field(10, ge=8)  # NIST SP 800-63B: at least 8; we ask 10
    # argon2id cost: OWASP Password Storage Cheat Sheet, first configuration
    # (m=19 MiB, t=2, p=1); raising any of these rehashes each password at its next sign-in.
    argon2_memory_kib: int = Field(19 * 1024, ge=7 * 1024)  # OWASP's smallest: 7 MiB with t=5
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    session_ttl_s: int = Field(14 * DAY_S, ge=60)  # idle time after which a session ends
    password_reset_ttl_s: int = Field(3600, ge=60, le=DAY_S)  # lifetime of an emailed reset link
    oauth_state_ttl_s: int = Field(600, ge=60, le=3600)  # time to finish signing in at a provider
    oauth_http_timeout_s: float = Field(10.0, gt=0)  # each request to a provider
    oauth_providers: tuple[OAuthProviderSettings, ...] = ()
    # First admin, created at start when no admin exists (or by `audiobook admin create`)
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    # Mail: "outbox" writes each message as an .eml file (development, or relay it yourself)
    mail_backend: Literal["outbox", "smtp"] = "outbox"
    mail_from: str = "Audiobook Studio <noreply@localhost>"
    mail_outbox_dir: Path = DATA_DIR / "outbox"
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)  # 587 submission (STARTTLS), 465 implicit TLS
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"  # "none": trusted relay only
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None  # CA bundle for a relay with a private certificate
    smtp_timeout_s: float = Field(30.0, gt=0)

    # --- Credits and billing (audiobook_app.billing) -------------------------------------
    # One credit buys credits_per_audio_minute^-1 minutes of generated audio; a job is
    # charged for the minutes it produced, rounded up to whole credits, never more than
    # it reserved at Start (the estimate shown before Start, plus the margin).
    credits_per_audio_minute: int = Field(1, ge=0)  # 0: generation is free (no reservations)
    free_credits: int = Field(60, ge=0)  # granted to every new account (60 = one hour)
    reservation_margin: float = Field(0.25, ge=0, le=2)  # reserved = estimate * (1 + margin)
    credit_packs: tuple[CreditPack, ...] = (
        CreditPack(id="hour-5", credits=60, price_cents=500),
        CreditPack(id="book-20", credits=300, price_cents=2000),
        CreditPack(id="shelf-60", credits=1200, price_cents=6000),
    )
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    # Stripe Checkout: payments are on when both keys are set; otherwise admins grant credits
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # None: Stripe's servers (set only for a test double)
    # --- Rate limits (audiobook_app.ratelimit; `limits` syntax, kept in Redis) -----------
    rate_api_requests: str = "300/minute"  # REST API requests, per user and per key
    rate_job_starts: str = "10/minute"  # jobs started, per user (API and pages)
    rate_voice_tries: str = "20/minute"  # voice tries, designs and clones, per user
    rate_sign_in_account: str = "10/15minutes"  # failed sign-ins per account
    rate_sign_in_address: str = "50/15minutes"  # failed sign-ins per client address
    # --- Housekeeping (the workers' watchdog runs it) ------------------------------------
    housekeeping_interval_s: float = Field(3600.0, gt=0)
    temp_upload_ttl_s: int = Field(DAY_S, ge=60)  # unclaimed upload files older than this go
    inspect_lease_s: int = Field(120, ge=3)  # an inspect not heard from for this long is redone

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "SECRET_KEY must be set in production (it signs file URLs and sessions)"
            )
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("AUDIOBOOK_S3_BUCKET is required with AUDIOBOOK_STORAGE_BACKEND=s3")
        if self.mail_backend == "smtp" and not self.smtp_host:
            raise ValueError("AUDIOBOOK_SMTP_HOST is required with AUDIOBOOK_MAIL_BACKEND=smtp")
        names = [p.name for p in self.oauth_providers]
        if len(names) != len(set(names)):
            raise ValueError(f"AUDIOBOOK_OAUTH_PROVIDERS has duplicate names: {names}")
        return self

    def oauth_provider(self, name: str) -> OAuthProviderSettings:
        """The configured OAuth provider ``name``. Raises NotFoundError when none is."""
        for provider in self.oauth_providers:
            if provider.name == name:
                return provider
        raise NotFoundError(
            f"no sign-in provider {name!r}; configured: {[p.name for p in self.oauth_providers]}"
        )

    @property
    def payments_enabled(self) -> bool:
        """Whether credits can be bought (both Stripe keys are set)."""
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    def credit_pack(self, pack_id: str) -> CreditPack:
        """The configured pack ``pack_id``. Raises NotFoundError."""
        for pack in self.credit_packs:
            if pack.id == pack_id:
                return pack
        raise NotFoundError(
            f"no credit pack {pack_id!r}; offered: {[p.id for p in self.credit_packs]}"
        )

    def queue_name(self, kind: Literal["cpu", "tts", "gpu"]) -> str:
        """RQ queue name for a kind of work: ``cpu`` (parse, assemble), ``tts`` (Piper
        synthesis on CPU) or ``gpu`` (Qwen3-TTS synthesis, served only by GPU workers)."""
        return f"{self.queue_prefix}-{kind}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Raises :class:`ConfigError` when invalid."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(
            f"invalid settings: {exc}".splitlines()[0] + " " + str(exc).splitlines()[-1]
        ) from None
