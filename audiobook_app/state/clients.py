"""The web process's platform clients, built on first use (never at import time)."""

from __future__ import annotations

from functools import lru_cache

import redis

from audiobook_app.jobs import queue
from audiobook_app.settings import Settings, get_settings
from audiobook_app.storage import Storage, build_storage


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
