"""Faults of the services around the workers, injected for real mid-book:

* Redis restarts (killed, then started again empty, as a server without persistence
  does): no job is lost; the watchdog re-enqueues what the queues forgot.
* PostgreSQL becomes unreachable for several seconds (a TCP proxy between the workers
  and the server drops every connection and refuses new ones): workers wait and retry,
  none crashes, the book completes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.platform.harness import Platform, free_port, wait_for
from tests.platform.test_jobs import _assert_complete_book, _done, _job


class RedisServer:
    """A private redis-server without persistence on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.port, self.root, self.proc = free_port(), root, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(self.port), 10, "redis-server to listen")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class TcpProxy:
    """Forwards a loopback port to ``target``; :meth:`outage` drops every connection and
    refuses new ones for a while, as a database server that went away would."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def outage(self, seconds: float) -> None:
        self.listener.close()
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                except OSError:
                    pass
            self.conns = []
        time.sleep(seconds)
        self._listen()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed (scripts/services.sh)"
)
def test_redis_restart_mid_book_loses_no_job(tmp_path: Path, sqlite_url: str, story: Path):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    plat = Platform(tmp_path, sqlite_url, redis_url=redis_server.url)
    plat.extra["AUDIOBOOK_SYNTH_BATCH_CHARS"] = "400"  # several tts tasks waiting in the queue
    try:
        job_id = plat.submit(story)
        worker = plat.start_worker("cpu,tts")
        wait_for(lambda: len(_done(plat, job_id)) >= 3, 240, "synthesis to start", poll_s=0.05)
        redis_server.kill()
        time.sleep(2)
        redis_server.start()  # empty: the queued RQ jobs are gone
        wait_for(
            lambda: _job(plat, job_id).status in ("completed", "failed"), 300, "the job to end"
        )
        _assert_complete_book(plat, job_id)
        assert worker.poll() is None, "the worker survived the restart"
        assert "has no live RQ job" in plat.logs(None), "the watchdog re-enqueued what Redis forgot"
    finally:
        plat.stop()
        redis_server.kill()


def test_database_briefly_unreachable_makes_workers_wait(tmp_path: Path, pg_url: str, story: Path):
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    plat = Platform(tmp_path, proxied)
    plat.extra["AUDIOBOOK_TASK_LEASE_S"] = (
        "30"  # longer than the outage: nobody's task is taken over
    )
    try:
        assert plat.cli("db", "upgrade").returncode == 0  # PostgreSQL is never migrated implicitly
        job_id = plat.submit(story)
        workers = [plat.start_worker("cpu,tts", "a"), plat.start_worker("tts", "b")]
        wait_for(lambda: len(_done(plat, job_id)) >= 3, 240, "synthesis to start", poll_s=0.05)
        proxy.outage(6)
        wait_for(
            lambda: _job(plat, job_id).status in ("completed", "failed"), 300, "the job to end"
        )
        _assert_complete_book(plat, job_id)
        assert all(w.poll() is None for w in workers), plat.logs()
        assert "OperationalError" in plat.logs(None), "the outage was felt"
    finally:
        plat.stop()
        proxy.close()
