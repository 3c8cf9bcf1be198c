"""Rate limits, kept in Redis with the ``limits`` library (moving window).

Each limit is a setting in ``limits``' notation (``"10/minute"``, ``"10/15minutes"``)
and counts one kind of request per identity:

============================  =====================  ======================================
kind                          setting                counted per
============================  =====================  ======================================
``api_requests``              rate_api_requests      user and API key (``api.deps``)
``job_starts``                rate_job_starts        user (``library.start``/``retry``)
``voice_tries``               rate_voice_tries       user (try, design and clone a voice)
``sign_in_account``           rate_sign_in_account   account email (failed sign-ins only)
``sign_in_address``           rate_sign_in_address   client address (failed sign-ins only)
============================  =====================  ======================================

The moving window (``limits``' ``MovingWindowRateLimiter``) keeps the time of each of
the last N requests; a request is refused while N fell within the window, and
``retry_after_s`` is when the oldest of them leaves it (rounded up, at least 1 s): the
``Retry-After`` of a 429. Keys live under ``<settings.queue_prefix>:ratelimit:`` so
every deployment (and every test) has its own counters. Emails are hashed before they
become part of a key.
"""

from __future__ import annotations

import hashlib
import math
import time
from functools import lru_cache
from typing import Literal

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from audiobook_app.settings import Settings
from pipeline.errors import ConfigError, QueueError, RateLimitedError

Kind = Literal["api_requests", "job_starts", "voice_tries", "sign_in_account", "sign_in_address"]
REDIS_TIMEOUT_S = 5.0

# What each kind counts, for the refusal's message: "too many <what>".
_WHAT: dict[str, str] = {
    "api_requests": "API requests",
    "job_starts": "conversions started",
    "voice_tries": "voice tries, designs and clones",
    "sign_in_account": "failed sign-ins for this account",
    "sign_in_address": "failed sign-ins from this address",
}


@lru_cache(maxsize=8)
def _limiter(redis_url: str, key_prefix: str) -> MovingWindowRateLimiter:
    storage = RedisStorage(
        redis_url,
        key_prefix=key_prefix,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
    )
    return MovingWindowRateLimiter(storage)


@lru_cache(maxsize=32)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def limiter(settings: Settings) -> MovingWindowRateLimiter:
    """The limiter of ``settings`` (one per Redis URL and queue prefix, built on first use)."""
    return _limiter(settings.redis_url, f"{settings.queue_prefix}:ratelimit")


def limit_of(settings: Settings, kind: Kind) -> RateLimitItem:
    """The parsed limit of ``kind`` (setting ``rate_<kind>``). Raises ConfigError when the
    setting is not in ``limits``' notation."""
    value = getattr(settings, f"rate_{kind}")
    try:
        return _parse(value)
    except ValueError:
        raise ConfigError(
            f"AUDIOBOOK_RATE_{kind.upper()}={value!r} is not a rate limit like '10/minute'"
        ) from None


def account_identity(email: str) -> str:
    """The identity of an account in a key: a digest of its (normalised) email."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _refusal(settings: Settings, kind: Kind, identity: tuple[str, ...]) -> RateLimitedError:
    item = limit_of(settings, kind)
    reset_at = limiter(settings).get_window_stats(item, kind, *identity).reset_time
    wait_s = max(1, math.ceil(reset_at - time.time()))
    return RateLimitedError(
        f"too many {_WHAT[kind]} (at most {getattr(settings, f'rate_{kind}')}): "
        f"try again in {_wait_text(wait_s)}",
        wait_s,
    )


def hit(settings: Settings, kind: Kind, *identity: str | int) -> None:
    """Count one request of ``kind`` by ``identity`` (e.g. ``"user", 12``). Raises
    :class:`RateLimitedError` (not counted) when the limit is reached, with
    ``retry_after_s`` in seconds; QueueError when Redis cannot be reached."""
    parts = tuple(str(p) for p in identity)
    try:
        if limiter(settings).hit(limit_of(settings, kind), kind, *parts):
            return
        raise _refusal(settings, kind, parts)
    except redis.RedisError as exc:
        raise QueueError(f"the rate limiter is unavailable; try again in a minute ({exc})") from exc


def check(settings: Settings, kind: Kind, *identity: str | int) -> None:
    """Refuse, without counting, when ``identity`` has used up its ``kind`` limit (how a
    sign-in is refused before the password is checked). Raises RateLimitedError,
    QueueError (Redis down)."""
    parts = tuple(str(p) for p in identity)
    try:
        if limiter(settings).test(limit_of(settings, kind), kind, *parts):
            return
        raise _refusal(settings, kind, parts)
    except redis.RedisError as exc:
        raise QueueError(f"the rate limiter is unavailable; try again in a minute ({exc})") from exc


def record(settings: Settings, kind: Kind, *identity: str | int) -> None:
    """Count one request of ``kind`` by ``identity`` without refusing it (a failed
    sign-in, counted after the fact). Raises QueueError when Redis is down."""
    parts = tuple(str(p) for p in identity)
    try:
        limiter(settings).hit(limit_of(settings, kind), kind, *parts)
    except redis.RedisError as exc:
        raise QueueError(f"the rate limiter is unavailable; try again in a minute ({exc})") from exc
