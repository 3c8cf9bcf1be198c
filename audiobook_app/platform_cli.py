"""Arguments of the ``audiobook`` subcommands that drive the jobs platform:

    audiobook submit FILE [--chapters 1-3,5] [--config FILE.yaml]   prints the job id
    audiobook status JOB_ID [--follow] [--json]                      exit 0 completed, 1 failed/cancelled
    audiobook cancel JOB_ID
    audiobook worker [--queues cpu,tts] [--burst]
    audiobook doctor                                                 exit 1 when a required part is down
    audiobook db upgrade | current
    audiobook admin create [--email EMAIL]                           password: prompt or AUDIOBOOK_ADMIN_PASSWORD
    audiobook housekeeping                                           purge expired and left-behind data now

The commands themselves live in :mod:`audiobook_app.platform_commands`, imported only
when one runs (it pulls in SQLAlchemy, Redis and RQ).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path


def _lazy(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module("audiobook_app.platform_commands"), name)(args)

    return run


def add_platform_commands(sub: argparse._SubParsersAction) -> None:
    """Register submit, status, cancel, worker, doctor, db, admin and housekeeping on the
    ``audiobook`` parser."""
    p = sub.add_parser(
        "submit", help="queue a manuscript for conversion by the workers; prints the job id"
    )
    p.add_argument("file", type=Path)
    p.add_argument("--chapters", help="chapters to convert, e.g. 1-3,5 (default: all)")
    p.add_argument("--config", type=Path, help="YAML file overriding the defaults")
    p.set_defaults(run=_lazy("submit"))
    p = sub.add_parser("status", help="show a job's progress (--follow: until it ends)")
    p.add_argument("job_id")
    p.add_argument(
        "--follow", action="store_true", help="print every progress event until the job ends"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.set_defaults(run=_lazy("status"))
    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    p.set_defaults(run=_lazy("cancel"))
    p = sub.add_parser("worker", help="run a worker serving the cpu and/or tts queues")
    p.add_argument("--queues", default="cpu,tts", help="comma-separated: cpu, tts (default: both)")
    p.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    p.add_argument("--name", help="worker name prefix (default: random)")
    p.set_defaults(run=_lazy("worker"))
    p = sub.add_parser("doctor", help="check database, Redis, storage, TTS engines and workers")
    p.set_defaults(run=_lazy("doctor"))
    p = sub.add_parser("db", help="database schema: upgrade to the code's revision, or show it")
    p.add_argument("action", choices=("upgrade", "current"))
    p.set_defaults(run=_lazy("db"))
    p = sub.add_parser("admin", help="create the first admin account of the web app")
    p.add_argument("action", choices=("create",))
    p.add_argument("--email", help="the admin's email (default: AUDIOBOOK_ADMIN_EMAIL)")
    p.set_defaults(run=_lazy("admin"))
    p = sub.add_parser(
        "housekeeping",
        help="purge expired sessions and tokens, old temporary files and worker scratch now "
        "(the workers also do it every AUDIOBOOK_HOUSEKEEPING_INTERVAL_S)",
    )
    p.set_defaults(run=_lazy("housekeeping"))
