"""Functions the queue tests put on RQ queues (imported by name by the worker)."""

from __future__ import annotations

import redis


def fail(message: str = "the engine caught fire") -> None:
    """Always raises, so the job ends in the failed registry."""
    raise RuntimeError(message)


def hold(redis_url: str, key: str, timeout_s: int = 60) -> str:
    """Block until something is pushed onto the list ``key`` (the test lets go), so a
    worker is seen running this job."""
    found = redis.Redis.from_url(redis_url).blpop([key], timeout=timeout_s)
    return "released" if found else "timed out"
