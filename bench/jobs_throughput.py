"""Benchmark: one book through the jobs platform with 1 and 2 ``tts`` workers, against
the CLI path (``audiobook convert``) on the same chapters, in one run.

Layouts on N cores (the same as the CLI's best): 1 worker = one process serving cpu and
tts with the runtime's default threads (like ``convert --jobs 1``); 2 workers = one
serving cpu+tts and one serving tts, one onnxruntime thread each (like ``convert
--jobs 2``). Throughput is seconds of audio per wall-clock second from submit to
``completed`` (workers already started and idle, as in production); the overhead is
1 - platform throughput / CLI throughput for the same layout. Uses the machine's Redis
(REDIS_URL, default redis://127.0.0.1:6379/0) under a private queue prefix, a temporary
SQLite database and local storage.

    .venv/bin/python bench/jobs_throughput.py [--book FILE] [--chapters 1-2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUDIOBOOK = str(REPO / ".venv" / "bin" / "audiobook")
DEFAULT_BOOK = REPO.parent / "shared" / "corpus" / "epub" / "alice-in-wonderland_epubjs-epub3.epub"


def cli(book: Path, chapters: str, jobs: int) -> dict:
    """``audiobook convert`` from a fresh folder: wall time and audio seconds."""
    with tempfile.TemporaryDirectory() as out:
        start = time.monotonic()
        subprocess.run(
            [
                AUDIOBOOK,
                "convert",
                str(book),
                "-o",
                out,
                "--chapters",
                chapters,
                "--jobs",
                str(jobs),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.monotonic() - start
        audio = sum(
            c["duration_s"] for c in json.loads((Path(out) / "report.json").read_text())["chapters"]
        )
    return {
        "wall_s": round(wall, 2),
        "audio_s": round(audio, 1),
        "audio_s_per_s": round(audio / wall, 2),
    }


def platform(book: Path, chapters: str, tts_workers: int) -> dict:
    """Submit to idle workers and follow the job to the end: wall time and audio seconds."""
    with tempfile.TemporaryDirectory() as root:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{root}/db.sqlite",
            "AUDIOBOOK_STORAGE_ROOT": f"{root}/storage",
            "AUDIOBOOK_WORK_DIR": f"{root}/work",
            "AUDIOBOOK_QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "AUDIOBOOK_TTS_THREADS": "0" if tts_workers == 1 else "1",
        }
        subprocess.run(
            [AUDIOBOOK, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=root
        )
        layout = ["cpu,tts"] + ["tts"] * (tts_workers - 1)
        workers = [
            subprocess.Popen(
                [AUDIOBOOK, "worker", "--queues", q],
                env=env,
                cwd=root,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for q in layout
        ]
        try:
            time.sleep(5)  # let the workers register and go idle
            start = time.monotonic()
            job = subprocess.run(
                [AUDIOBOOK, "submit", str(book), "--chapters", chapters],
                env=env,
                cwd=root,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            events = subprocess.run(
                [AUDIOBOOK, "status", job, "--follow", "--json"],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            wall = time.monotonic() - start
        finally:
            for proc in workers:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
        last = json.loads(events[-1])
        if last["status"] != "completed":
            sys.exit(f"job {job} ended {last['status']}: {last['message']}")
        audio = _job_audio_s(env["DATABASE_URL"], job)
    return {
        "wall_s": round(wall, 2),
        "audio_s": round(audio, 1),
        "audio_s_per_s": round(audio / wall, 2),
        "events": len(events),
    }


def _job_audio_s(database_url: str, job_id: str) -> float:
    sys.path.insert(0, str(REPO))
    from audiobook_app.db.models import Job
    from audiobook_app.db.session import session_scope

    with session_scope(database_url) as session:
        return session.get(Job, job_id).audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--chapters", default="1-2")
    args = parser.parse_args()
    results: dict = {"book": args.book.name, "chapters": args.chapters, "cores": os.cpu_count()}
    for n in (1, 2):
        results[f"cli_jobs{n}"] = cli(args.book, args.chapters, n)
        results[f"platform_{n}_tts_worker{'s' if n > 1 else ''}"] = p = platform(
            args.book, args.chapters, n
        )
        results[f"overhead_vs_cli_{n}"] = round(
            1 - p["audio_s_per_s"] / results[f"cli_jobs{n}"]["audio_s_per_s"], 3
        )
    one, two = results["platform_1_tts_worker"], results["platform_2_tts_workers"]
    results["speedup_2_vs_1_workers"] = round(two["audio_s_per_s"] / one["audio_s_per_s"], 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
