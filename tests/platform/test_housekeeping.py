"""Housekeeping (:mod:`audiobook_app.housekeeping`) against PostgreSQL, real Redis, local
storage and a worker scratch folder: expired rows purged and live ones kept, old
temporary files removed and fresh ones kept, one run at a time under the lock, one turn
per interval, the ``audiobook housekeeping`` command, and a worker running it on its own.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app import housekeeping, user_files
from audiobook_app.accounts.tokens import token_digest
from audiobook_app.db import repo
from audiobook_app.db.models import (
    AuditLog,
    Book,
    File,
    FilePurpose,
    Job,
    JobStatus,
    OAuthState,
    PasswordResetToken,
    UserSession,
    Voice,
    VoiceKind,
    utcnow,
)
from audiobook_app.db.session import session_scope
from audiobook_app.storage import LocalStorage, user_key
from tests.platform.harness import Platform, call, two_authors, wait_for

DAY = timedelta(days=1)
TTL_S = 3600  # AUDIOBOOK_TEMP_UPLOAD_TTL_S of these tests


@pytest.fixture
def platform(tmp_path: Path, pg_url: str):
    plat = Platform(tmp_path, pg_url, extra={"AUDIOBOOK_TEMP_UPLOAD_TTL_S": str(TTL_S)})
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    return two_authors(platform)


def _age(path: Path, seconds: float) -> Path:
    """Make ``path`` look ``seconds`` old (its mtime)."""
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def _tokens(session, user_id: int) -> None:
    """One expired and one live row of each kind of expiring secret."""
    now = utcnow()
    for n, expires in ((1, now - DAY), (2, now + DAY)):
        token = f"{user_id}-{n}"
        session.add(
            UserSession(token_hash=token_digest(f"s{token}"), user_id=user_id, expires_at=expires)
        )
        session.add(
            PasswordResetToken(
                token_hash=token_digest(f"r{token}"), user_id=user_id, expires_at=expires
            )
        )
        session.add(
            OAuthState(
                state_hash=token_digest(f"o{token}"),
                provider="idp",
                redirect_uri="http://127.0.0.1/auth/callback/idp",
                nonce="n",
                code_verifier="v",
                expires_at=expires,
            )
        )


def _design(settings, storage, user_id: int, design_id: str, age: timedelta) -> str:
    """A design request of ``user_id`` made ``age`` ago (request, one take with its
    File row, the audit row that dates it); its prefix."""
    prefix = user_key(user_id, "designs", design_id) + "/"
    storage.put_bytes(prefix + "design.json", b'{"description": "d", "text": "t", "n": 1}', "x")
    storage.put_bytes(prefix + "sample-0.wav", b"RIFF", "audio/wav")
    with session_scope(settings.database_url) as session:
        repo.add_file(
            session, user_id, prefix + "sample-0.wav", 4, "audio/wav", FilePurpose.VOICE_SAMPLE
        )
        session.add(
            AuditLog(
                actor_id=user_id,
                action="voice.design",
                target_type="design",
                target_id=design_id,
                created_at=utcnow() - age,
            )
        )
    return prefix


def _job(session, user_id: int, status: JobStatus) -> str:
    book = Book(owner_id=user_id, source_filename="b.txt", source_key="k")
    session.add(book)
    session.flush()
    job = Job(book_id=book.id, owner_id=user_id, status=status)
    session.add(job)
    session.flush()
    return job.id


def test_expired_and_left_behind_data_goes_and_live_data_stays(platform, lib):
    settings, conn, storage, alice, bob = lib
    assert isinstance(storage, LocalStorage)
    call(settings, _tokens, alice)
    old_design = _design(settings, storage, alice, "a" * 16, timedelta(seconds=2 * TTL_S))
    new_design = _design(settings, storage, alice, "b" * 16, timedelta(seconds=60))
    staging = storage.root / housekeeping.STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    _age(_write(staging / ".tmp-crashed"), 2 * TTL_S)  # a write a crash cut short
    _write(staging / ".tmp-writing")  # a write in progress
    # what a task wrote after its account was deleted, and the deletion's audit row
    storage.put_bytes("users/999999/books/1/segments/x.flac", b"late", "audio/flac")
    call(settings, repo.audit, None, "account.delete", "user", "999999")
    # worker scratch: folders of an ended, a running and a vanished job
    ended = call(settings, _job, bob, JobStatus.FAILED)
    running = call(settings, _job, bob, JobStatus.PROCESSING)
    work = Path(settings.work_dir)
    for name in (ended, f"{ended}-chapter-2", running, f"{running}-chapter-1", "f" * 32):
        (work / name / "segments").mkdir(parents=True)
        (work / name / "segments" / "s.flac").write_bytes(b"x")
    (work / "notes").mkdir()  # not ours to judge: kept
    # cached clone references: a live voice's (both naming schemes), a deleted voice's
    live_key = user_key(alice, "voices", "7", "reference-0123abcd.wav")
    call(
        settings,
        lambda s: s.add(
            Voice(
                owner_id=alice,
                name="v",
                kind=VoiceKind.CLONED,
                engine="qwen3-tts",
                model="Base",
                reference_key=live_key,
            )
        ),
    )
    voices = work / "voices"
    voices.mkdir()
    live_names = housekeeping._cached_names([live_key])
    for name in live_names:
        _age(_write(voices / name), 2 * TTL_S)
    gone = _age(_write(voices / "users_1_voices_3_reference-dead.wav"), 60)
    old_part = _age(_write(voices / "users_1_voices_9_reference-x.part"), 2 * TTL_S)
    new_part = _write(voices / "users_1_voices_9_reference-y.part")

    # REST API uploads never made into a book: an old one and a fresh one
    old_upload = call(settings, user_files.store_upload, storage, settings, alice, "a.txt", b"Old.")
    new_upload = call(settings, user_files.store_upload, storage, settings, alice, "b.txt", b"New.")
    call(
        settings,
        lambda s: s.get(File, old_upload.id).sqlmodel_update(
            {"created_at": utcnow() - timedelta(seconds=2 * TTL_S)}
        ),
    )

    counts = housekeeping.run_housekeeping(conn, settings, storage)

    assert counts == {
        "sessions": 1,
        "password_reset_tokens": 1,
        "oauth_states": 1,
        "voice_designs": 1,
        "api_uploads": 1,
        "storage_temp_files": 1,
        "deleted_account_files": 1,
        "scratch_folders": 3,
        "voice_cache_files": 2,
    }
    left = call(
        settings,
        lambda s: [
            len(s.exec(select(m)).all()) for m in (UserSession, PasswordResetToken, OAuthState)
        ],
    )
    assert left == [1, 1, 1]
    assert storage.list_keys(old_design) == []
    assert storage.list_keys(new_design) == [
        new_design + "design.json",
        new_design + "sample-0.wav",
    ]
    files = call(settings, lambda s: [f.key for f in s.exec(select(File)).all()])
    assert new_design + "sample-0.wav" in files and old_design + "sample-0.wav" not in files
    assert old_upload.key not in files and new_upload.key in files
    assert not storage.exists(old_upload.key) and storage.exists(new_upload.key)
    assert sorted(p.name for p in staging.iterdir()) == [".tmp-writing"]
    assert storage.list_keys("users/999999/") == []
    assert sorted(p.name for p in work.iterdir()) == sorted(
        [running, f"{running}-chapter-1", "notes", "voices"]
    )
    assert sorted(p.name for p in voices.iterdir()) == sorted([*live_names, new_part.name])
    assert not gone.exists() and not old_part.exists()
    audit = call(
        settings,
        lambda s: s.exec(select(AuditLog).where(AuditLog.action == "housekeeping.run")).all(),
    )
    assert [(a.actor_id, a.detail) for a in audit] == [(None, counts)]


def _write(path: Path) -> Path:
    path.write_bytes(b"RIFF")
    return path


class _HeldStorage(LocalStorage):
    """Local storage whose first listing waits until :attr:`release` is set: a run that
    is busy while another one starts."""

    def __init__(self, root: Path, secret_key: str, public_base_url: str) -> None:
        super().__init__(root, secret_key, public_base_url)
        self.inside, self.release = threading.Event(), threading.Event()

    def list_keys(self, prefix: str) -> list[str]:
        self.inside.set()
        assert self.release.wait(60), "the test never let the first run go on"
        return super().list_keys(prefix)


def test_the_lock_lets_one_of_two_concurrent_runs_work(platform, lib):
    settings, conn, storage, alice, _ = lib
    call(settings, _tokens, alice)
    _design(settings, storage, alice, "c" * 16, timedelta(seconds=2 * TTL_S))
    held = _HeldStorage(storage.root, settings.secret_key, settings.public_base_url)
    results: dict[str, dict] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(
            "first", housekeeping.run_housekeeping(conn, settings, held)
        )
    )
    first.start()
    assert held.inside.wait(60), "the first run never reached storage"
    results["second"] = housekeeping.run_housekeeping(conn, settings, storage)
    held.release.set()
    first.join(60)
    assert results["second"] == {}
    assert results["first"]["sessions"] == 1 and results["first"]["voice_designs"] == 1
    runs = call(
        settings,
        lambda s: s.exec(select(AuditLog).where(AuditLog.action == "housekeeping.run")).all(),
    )
    assert len(runs) == 1
    # the schedule: one turn per interval across workers
    assert [housekeeping.claim_turn(conn, settings) for _ in range(3)] == [True, False, False]


def test_the_command_and_a_worker_run_it(platform, lib):
    settings, _, _, alice, _ = lib
    call(settings, _tokens, alice)
    proc = platform.cli("housekeeping")
    assert proc.returncode == 0, proc.stderr
    assert "sessions               1" in proc.stdout, proc.stdout
    # a worker runs it on its own, at start and then every interval
    carol = _user(settings, "carol@example.com")
    call(settings, _tokens, carol)
    platform.extra["AUDIOBOOK_HOUSEKEEPING_INTERVAL_S"] = "1"
    platform.start_worker("cpu")
    wait_for(
        lambda: call(
            settings,
            lambda s: (
                not s.exec(
                    select(UserSession).where(
                        UserSession.user_id == carol, UserSession.expires_at < utcnow()
                    )
                ).all()
            ),
        ),
        120,
        "the worker's housekeeping",
    )
    # the counts are logged just after the purge commits: wait for the line too
    wait_for(
        lambda: "housekeeping: sessions 1" in platform.logs(None), 30, "the housekeeping log line"
    )


def _user(settings, email: str) -> int:
    return call(settings, lambda s: repo.get_or_create_user(s, email).id)
