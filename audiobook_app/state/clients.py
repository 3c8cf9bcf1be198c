"""The web process's platform clients, built on first use (never at import time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

import redis

from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings, get_settings
from audiobook_app.storage import Storage, build_storage
from audiobook_app.voice_library import TrialEntry, get_trial

T = TypeVar("T")


def settings() -> Settings:
    """The one settings object."""
    return get_settings()


@lru_cache(maxsize=1)
def storage() -> Storage:
    """The storage backend the settings name (local folder or S3)."""
    return build_storage(get_settings())


@lru_cache(maxsize=1)
def redis_conn() -> redis.Redis:
    """The Redis client of the queue and the progress streams."""
    return queue.connect(get_settings())


def in_session(fn: Callable[..., T], *args) -> T:
    """``fn(session, *args)`` in one transaction: how pages call the services that take a
    session (blocking: call it with ``asyncio.to_thread``)."""
    with session_scope(get_settings().database_url) as session:
        return fn(session, *args)


async def spoken_trial(
    user_id: int, trial_id: int, *, poll_s: float, watch_s: float
) -> TrialEntry | None:
    """Wait (polling every ``poll_s`` seconds) until trial ``trial_id`` leaves "queued":
    the trial, spoken or failed; None when no worker took it within ``watch_s`` seconds.
    For background events: it awaits, it does not block the event loop."""
    for _ in range(int(watch_s / poll_s)):
        await asyncio.sleep(poll_s)
        trial = await asyncio.to_thread(in_session, get_trial, user_id, trial_id)
        if trial.status != "queued":
            return trial
    return None
