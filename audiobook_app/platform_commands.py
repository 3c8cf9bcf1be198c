"""The ``audiobook`` subcommands that drive the jobs platform (no browser needed): their
implementations (``audiobook_app.platform_cli`` declares their arguments and imports
this module only when one of them runs). They read the one settings object
(``DATABASE_URL``, ``REDIS_URL``, ``AUDIOBOOK_STORAGE_*``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict

from audiobook_app.db import repo
from audiobook_app.db.migrate import current_revision, ensure_schema, head_revision, upgrade
from audiobook_app.db.session import session_scope
from audiobook_app.health import check_health, is_healthy
from audiobook_app.jobs import events, queue, service
from audiobook_app.jobs.events import JobEvent
from audiobook_app.settings import get_settings
from audiobook_app.storage import build_storage
from pipeline.config import load_config
from pipeline.errors import InputError


def _ready():
    settings = get_settings()
    ensure_schema(settings.database_url)
    queue.ping(settings)
    return settings, queue.connect(settings)


def submit(args: argparse.Namespace) -> int:
    settings, conn = _ready()
    config = load_config(args.config)
    try:
        data = args.file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{args.file}: no such file") from None
    with session_scope(settings.database_url) as session:
        user = repo.get_or_create_user(session, settings.cli_user_email)
    submission = service.submit(
        conn,
        settings,
        build_storage(settings),
        user,
        args.file.name,
        data,
        chapters=args.chapters,
        config=config,
    )
    print(submission.job_id)
    return 0


def _line(event: JobEvent) -> str:
    parts = [f"{event.status:<10}", f"{event.stage or '-':<9}", f"{event.progress * 100:5.1f}%"]
    if event.segments_total:
        parts.append(f"segments {event.segments_done}/{event.segments_total}")
    if event.chapter_index is not None and event.stage == "generate":
        parts.append(f"chapter {event.chapter_index}")
    if event.eta_s is not None:
        parts.append(f"ETA {event.eta_s:.0f} s")
    if event.message:
        parts.append(event.message)
    return "  ".join(parts)


def status(args: argparse.Namespace) -> int:
    settings, conn = _ready()
    if args.follow:
        last = None
        for last in events.subscribe(conn, settings, args.job_id):
            print(json.dumps(asdict(last)) if args.json else _line(last), flush=True)
    else:
        last = events.snapshot(settings, args.job_id)
        print(json.dumps(asdict(last)) if args.json else _line(last))
    if last is not None and last.status == "completed" and not args.json:
        with session_scope(settings.database_url) as session:
            for file in repo.job_files(session, args.job_id):
                print(f"  {file.purpose:<7} {file.key}")
    return 1 if last is not None and last.status in ("failed", "cancelled") else 0


def cancel(args: argparse.Namespace) -> int:
    settings, conn = _ready()
    job = queue.cancel(conn, settings, args.job_id)
    print(f"{job.id} {job.status}")
    return 0


def worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker  # imports RQ's worker machinery only here

    try:
        run_worker(
            [k.strip() for k in args.queues.split(",") if k.strip()],
            burst=args.burst,
            name=args.name,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return 0


def doctor(args: argparse.Namespace) -> int:
    checks = check_health(get_settings())
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.required else "off ")
        print(f"{mark} {check.name:<10} {check.detail}")
    return 0 if is_healthy(checks) else 1


def db(args: argparse.Namespace) -> int:
    url = get_settings().database_url
    if args.action == "upgrade":
        upgrade(url)
    print(f"schema at {current_revision(url)} (code expects {head_revision()})")
    return 0


def _admin_password(settings) -> str:
    """AUDIOBOOK_ADMIN_PASSWORD, else typed twice at a prompt (never echoed or logged)."""
    if settings.admin_password is not None:
        return settings.admin_password.get_secret_value()
    if not sys.stdin.isatty():
        raise InputError(
            "no password: set AUDIOBOOK_ADMIN_PASSWORD, or run `audiobook admin create` in a terminal"
        )
    password = getpass.getpass("Password for the admin: ")
    if getpass.getpass("Same password again: ") != password:
        raise InputError("the two passwords differ; run the command again")
    return password


def admin(args: argparse.Namespace) -> int:
    from audiobook_app.accounts.admin import (
        create_first_admin,
    )  # argon2 and the accounts code only here

    settings = get_settings()
    email = args.email or settings.admin_email
    if not email:
        raise InputError("give the admin's email: `audiobook admin create --email you@example.com`")
    ensure_schema(settings.database_url)
    password = _admin_password(settings)
    with session_scope(settings.database_url) as session:
        user = create_first_admin(session, settings, email, password)
    print(f"created admin {user.email} (user {user.id})")
    return 0


def housekeeping(args: argparse.Namespace) -> int:
    from audiobook_app.housekeeping import run_housekeeping

    settings, conn = _ready()
    counts = run_housekeeping(conn, settings, build_storage(settings))
    if not counts:
        print("another housekeeping run is in progress; nothing done")
        return 1
    for kind, count in counts.items():
        print(f"{kind:<22} {count}")
    return 0
