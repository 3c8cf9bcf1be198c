"""A small platform under test: real worker processes, real Redis, a real database.

:class:`Platform` holds the environment one test's processes share (a database URL,
a Redis URL with a queue prefix of the test's own, a storage folder) with short leases
and backoff so crash recovery takes seconds, and starts ``audiobook`` subprocesses
exactly as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from unittest import mock

from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings

AUDIOBOOK = str(Path(sys.executable).with_name("audiobook"))
T = TypeVar("T")

# Three chapters; the second is long enough (12 paragraphs, one segment each) to be
# killed or cancelled in the middle of.
PARAGRAPH = (
    "The keeper climbed the {n} steps of the tower at dusk and trimmed the wick. "
    "Far below, the sea moved against the rocks as it had every night of his life."
)


def story_text(paragraphs: int = 12) -> str:
    """The three-chapter story with ``paragraphs`` paragraphs (about 9 s of speech each)
    in chapter 2."""
    return "\n\n".join(
        [
            "The Lighthouse Keeper",
            "Chapter 1",
            "Mr. Abernathy kept the light on the northern rock for 23 years.",
            "Chapter 2",
            *(PARAGRAPH.format(n=100 + i) for i in range(paragraphs)),
            "Chapter 3",
            "By spring the girl could trim the wick herself.",
        ]
    )


STORY = story_text()


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str, poll_s: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class Platform:
    """One test's platform: ``env`` for its subprocesses, :meth:`read` for the database."""

    root: Path
    database_url: str
    redis_url: str = "redis://127.0.0.1:6379/0"
    extra: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"abtest-{uuid.uuid4().hex[:10]}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOBOOK_")}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "AUDIOBOOK_QUEUE_PREFIX": self.prefix,
                "AUDIOBOOK_STORAGE_ROOT": str(self.root / "storage"),
                "AUDIOBOOK_WORK_DIR": str(self.root / "work"),
                "AUDIOBOOK_TASK_LEASE_S": "4",
                "AUDIOBOOK_HEARTBEAT_INTERVAL_S": "1",
                "AUDIOBOOK_WATCHDOG_INTERVAL_S": "1",
                "AUDIOBOOK_RETRY_BACKOFF_S": "[1, 1]",
                "AUDIOBOOK_SYNTH_BATCH_CHARS": "100000",
                "AUDIOBOOK_TTS_THREADS": "1",
                **self.extra,
            }
        )
        return env

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``audiobook ARGS`` in this platform's environment."""
        return subprocess.run(
            [AUDIOBOOK, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def submit(self, path: Path, *args: str) -> str:
        """Submit a manuscript; return the job id."""
        proc = self.cli("submit", str(path), *args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def start_worker(self, queues: str = "cpu,tts", name: str = "w") -> subprocess.Popen:
        """Start ``audiobook worker`` in its own process group (log under root/)."""
        log = open(self.root / f"worker-{name}-{len(self.workers)}.log", "w")
        proc = subprocess.Popen(
            [AUDIOBOOK, "worker", "--queues", queues, "--name", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
        )
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal a worker's whole process group (worker and RQ scheduler) and reap it."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                self.kill(proc)

    def settings(self) -> Settings:
        """The platform's settings as its subprocesses read them from :attr:`env`."""
        with mock.patch.dict(os.environ, self.env, clear=True):
            return Settings(_env_file=None)

    def read(self, fn: Callable) -> object:
        """Run ``fn(session)`` against this platform's database and return its result."""
        with session_scope(self.database_url) as session:
            return fn(session)

    def logs(self, tail_chars: int | None = 3000) -> str:
        """The workers' logs (the last ``tail_chars`` of each; None: all of it)."""
        return "\n".join(
            p.read_text()[-(tail_chars or 0) :] for p in sorted(self.root.glob("worker-*.log"))
        )

    def events(self, job_id: str, timeout: float = 300) -> list[dict]:
        """``audiobook status JOB --follow --json``: every event until the job ends."""
        proc = self.cli("status", job_id, "--follow", "--json", timeout=timeout)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


PASSWORD = "correct horse battery"


def two_authors(platform: Platform):
    """(settings, Redis, storage, alice's id, bob's id) for ``platform``: its schema made
    (migrated with Alembic on PostgreSQL) and two authors signed up."""
    from audiobook_app.accounts.users import sign_up
    from audiobook_app.db.migrate import ensure_schema, upgrade
    from audiobook_app.jobs import queue
    from audiobook_app.storage import build_storage

    settings = platform.settings()
    postgres = settings.database_url.startswith("postgresql")
    (upgrade if postgres else ensure_schema)(settings.database_url)
    with session_scope(settings.database_url) as session:
        alice = sign_up(session, settings, "alice@example.com", PASSWORD).id
        bob = sign_up(session, settings, "bob@example.com", PASSWORD).id
    return settings, queue.connect(settings), build_storage(settings), alice, bob


def call(settings: Settings, fn: Callable, *args):
    """``fn(session, *args)`` in one transaction; returns what it returns."""
    with session_scope(settings.database_url) as session:
        return fn(session, *args)
