"""Your data (:mod:`audiobook_app.account_data`) against PostgreSQL, real Redis, local
storage and a real worker: an author with a converted book, a cloned voice, a voice
try, a design request, an API key and ledger entries exports everything in one ZIP
(its names are the storage listing under their prefix, plus the documents) and then
deletes the account: nothing of theirs is left in storage (the whole root is listed)
or in any table, and the other author's data is untouched. Also: the confirmation, the
last admin, the cookie route and the REST API."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import SQLModel, select

from audiobook_app import account_data, housekeeping, library, voice_library
from audiobook_app.accounts.api_keys import create_key, resolve_key
from audiobook_app.accounts.sessions import create_session
from audiobook_app.billing import ledger
from audiobook_app.db import repo
from audiobook_app.db.models import AuditLog, Book, Job, LedgerEntry, User, UserRole
from audiobook_app.settings import get_settings
from audiobook_app.state import clients
from audiobook_app.storage import user_key
from audiobook_app.voice_library.design import store_design_samples
from pipeline.errors import ConflictError, InputError
from tests.platform.harness import STORY, Platform, call, two_authors, wait_for
from tests.platform.test_voice_library import TEXT as CLONE_TEXT
from tests.platform.test_voice_library import TRY_TEXT, _piper, encode

OWNER_COLUMNS = ("owner_id", "user_id", "actor_id")
DOCUMENTS = {
    "README.txt",
    "account.json",
    "books.json",
    "jobs.json",
    "voices.json",
    "trials.json",
    "files.json",
    "ledger.csv",
    "usage.csv",
}


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """PostgreSQL, or SQLite for the tests marked :data:`BOTH_DATABASES`."""
    kind = getattr(request, "param", "postgresql")
    return request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")


BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def platform(tmp_path: Path, database: str):
    plat = Platform(tmp_path, database)
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    return two_authors(platform)


@pytest.fixture(scope="module")
def recording(pytestconfig: pytest.Config) -> bytes:
    """Piper reading the clone tests' text (about 12.6 s) as FLAC."""
    audio, rate, _ = _piper(pytestconfig, "keeper", [CLONE_TEXT])
    return encode(audio, rate)


def _admin(settings) -> int:
    return call(
        settings, lambda s: repo.get_or_create_user(s, "root@example.com", UserRole.ADMIN).id
    )


def _ready(platform: Platform, book_id: int) -> Book:
    return wait_for(
        lambda: (b := platform.read(lambda s: s.get(Book, book_id))).status != "uploaded" and b,
        240,
        "the manuscript to be read",
    )


def _author_with_everything(platform: Platform, lib, recording: bytes) -> dict:
    """Give alice a converted chapter, a cloned voice, a spoken try, a design request, an
    API key and an admin's grant; bob a read book. Returns ids to check."""
    settings, conn, storage, alice, bob = lib
    admin = _admin(settings)
    for user, note in ((alice, "thanks for the bug report"), (bob, "welcome")):
        call(settings, lambda s, u=user, n=note: ledger.grant(s, u, 30, actor_id=admin, note=n))
    secret = call(settings, lambda s: create_key(s, alice, "laptop").secret)
    call(
        settings,
        voice_library.create_clone,
        settings,
        storage,
        alice,
        "Keeper",
        recording,
        "keeper.flac",
        CLONE_TEXT,
    )
    design = uuid.uuid4().hex[:16]
    storage.put_bytes(
        user_key(alice, "designs", design, "design.json"), b'{"n": 1}', "application/json"
    )
    call(
        settings,
        store_design_samples,
        storage,
        alice,
        design,
        [np.zeros(2400, dtype=np.float32)],
    )
    trial = call(settings, voice_library.start_trial, conn, settings, alice, "joe-deep", TRY_TEXT)
    book_id = library.add_manuscript(conn, settings, storage, alice, "story.txt", STORY.encode())
    bob_book = library.add_manuscript(conn, settings, storage, bob, "bob.txt", STORY.encode())
    platform.start_worker("cpu,tts")
    _ready(platform, book_id), _ready(platform, bob_book)
    job_id = library.start(conn, settings, alice, book_id, chosen=[1])
    wait_for(
        lambda: platform.read(lambda s: s.get(Job, job_id)).status == "completed", 300, "the job"
    )
    wait_for(
        lambda: call(settings, voice_library.get_trial, alice, trial).status == "done",
        120,
        "the voice try",
    )
    return {"admin": admin, "job": job_id, "book": book_id, "secret": secret}


def _rows_of(settings, user_id: int, job_ids: list[str], book_ids: list[int]) -> dict[str, int]:
    """Rows of every table that name the user (owner/user/actor id) or their jobs/books."""

    def count(session) -> dict[str, int]:
        found = {}
        for table in SQLModel.metadata.sorted_tables:
            checks = [table.c[c] == user_id for c in OWNER_COLUMNS if c in table.c]
            checks += [table.c.job_id.in_(job_ids)] if "job_id" in table.c and job_ids else []
            checks += [table.c.book_id.in_(book_ids)] if "book_id" in table.c and book_ids else []
            if table.name == "users":
                checks.append(table.c.id == user_id)
            for check in checks:
                n = session.execute(select(func.count()).select_from(table).where(check)).scalar()
                if n:
                    found[f"{table.name}.{check.left.name}"] = n
        return found

    return call(settings, count)


def test_export_holds_everything_and_delete_leaves_nothing(platform, lib, recording, tmp_path):
    settings, conn, storage, alice, bob = lib
    made = _author_with_everything(platform, lib, recording)
    prefix = f"users/{alice}/"
    stored = storage.list_keys(prefix)
    for part in ("/source/story.txt", ".m4b", ".mp3", "/segments/", "/mastered/", "/voices/"):
        assert any(part in key for key in stored), f"no {part} among {stored}"
    assert any("/trials/" in key for key in stored) and any("/designs/" in key for key in stored)

    path = tmp_path / "export.zip"
    with open(path, "wb") as handle:
        names = call(settings, account_data.export_zip, storage, alice, handle)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        infos = {info.filename: info for info in archive.infolist()}
        assert sorted(infos) == sorted(names)
        assert set(infos) == DOCUMENTS | {f"files/{k.removeprefix(prefix)}" for k in stored}
        m4b = next(k for k in stored if k.endswith(".m4b"))
        name = f"files/{m4b.removeprefix(prefix)}"
        assert archive.read(name) == storage.get_bytes(m4b)
        assert infos[name].compress_type == zipfile.ZIP_STORED
        account = json.loads(archive.read("account.json"))
        assert (account["email"], account["role"]) == ("alice@example.com", "author")
        assert "password_hash" not in account and "key_hash" not in account["api_keys"][0]
        assert [k["name"] for k in account["api_keys"]] == ["laptop"]
        books = json.loads(archive.read("books.json"))
        assert [(b["id"], b["status"]) for b in books] == [(made["book"], "ready")]
        assert books[0]["chapters"][0]["title"] == "Chapter 1" and "casting" in books[0]
        jobs = json.loads(archive.read("jobs.json"))
        assert [(j["id"], j["status"]) for j in jobs] == [(made["job"], "completed")]
        assert [c["index"] for c in jobs[0]["chapters"]] == [1]
        assert [v["name"] for v in json.loads(archive.read("voices.json"))] == ["Keeper"]
        assert len(json.loads(archive.read("trials.json"))) == 1
        rows = list(csv.DictReader(io.StringIO(archive.read("ledger.csv").decode())))
        usage = list(csv.DictReader(io.StringIO(archive.read("usage.csv").decode())))
    entries = call(
        settings, lambda s: s.exec(select(LedgerEntry).where(LedgerEntry.user_id == alice)).all()
    )
    assert [int(r["id"]) for r in rows] == [e.id for e in entries]
    assert {"grant", "reservation", "release", "charge"} <= {r["reason"] for r in rows}
    assert [r["kind"] for r in usage] == ["audio_generated"]

    # the deletion, while another conversion of the book is speaking
    running = library.start(conn, settings, alice, made["book"], chosen=[2])
    wait_for(
        lambda: platform.read(lambda s: s.get(Job, running)).segments_done >= 1,
        240,
        "the second job to speak",
    )
    job_ids, book_ids = [made["job"], running], [made["book"]]
    bob_keys = storage.list_keys(f"users/{bob}/")
    bob_rows = _rows_of(settings, bob, [], [])
    assert _rows_of(settings, alice, job_ids, book_ids)  # the check sees alice's rows
    with pytest.raises(InputError, match="type its email"):
        account_data.delete_confirmed(conn, settings, storage, alice, "bob@example.com")
    assert set(stored) <= set(storage.list_keys(prefix))  # refused: nothing removed
    removed = account_data.delete_confirmed(conn, settings, storage, alice, " Alice@Example.COM ")

    assert removed["stored_objects"] >= len(stored) and removed["users"] == 1
    assert removed["jobs"] == 2 and removed["credit_ledger"] >= len(entries) + 2
    # the running task wrote its segment after all, if it had one in flight: the worker
    # stops with an error, and housekeeping sweeps the deleted account's prefix again
    platform.stop()
    housekeeping.run_housekeeping(conn, settings, storage)
    assert storage.list_keys(prefix) == []
    assert all(key.startswith(f"users/{bob}/") for key in storage.list_keys(""))
    on_disk = [p for p in (platform.root / "storage").rglob("*") if p.is_file()]
    assert not [p for p in on_disk if f"users/{alice}/" in p.as_posix()]
    assert _rows_of(settings, alice, job_ids, book_ids) == {}
    assert storage.list_keys(f"users/{bob}/") == bob_keys
    assert _rows_of(settings, bob, [], []) == bob_rows
    assert call(settings, lambda s: resolve_key(s, made["secret"])) is None
    assert call(settings, ledger.balance, bob) > 0  # the admin's grant to bob stays
    [audit] = call(
        settings,
        lambda s: s.exec(select(AuditLog).where(AuditLog.action == "account.delete")).all(),
    )
    assert (audit.actor_id, audit.target_type, audit.target_id) == (None, "user", str(alice))


@BOTH_DATABASES
def test_the_only_admin_cannot_delete_their_account(platform, lib):
    settings, conn, storage, alice, _ = lib
    admin = _admin(settings)
    storage.put_bytes(user_key(admin, "trials", "t.mp3"), b"ID3", "audio/mpeg")
    with pytest.raises(ConflictError, match="only admin"):
        account_data.delete_confirmed(conn, settings, storage, admin, "root@example.com")
    assert storage.list_keys(f"users/{admin}/") and call(settings, lambda s: s.get(User, admin))
    # with a second admin, the first may go
    call(settings, lambda s: setattr(s.get(User, alice), "role", UserRole.ADMIN))
    account_data.delete_account(conn, settings, storage, admin)
    assert storage.list_keys(f"users/{admin}/") == []
    assert call(settings, lambda s: s.get(User, admin)) is None


@pytest.fixture
def client(platform: Platform, lib, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The web app's HTTP routes in-process, over this platform's settings."""
    for name in list(os.environ):
        if name.startswith("AUDIOBOOK_"):
            monkeypatch.delenv(name)
    for name, value in platform.env.items():
        if name.startswith("AUDIOBOOK_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.setenv(name, value)
    caches = (get_settings, clients.storage, clients.redis_conn)
    for cache in caches:
        cache.cache_clear()
    from audiobook_app.routes import build_api

    with TestClient(build_api()) as test_client:
        yield test_client
    for cache in caches:
        cache.cache_clear()


@BOTH_DATABASES
def test_the_cookie_route_and_the_api(platform, lib, client):
    settings, _, storage, alice, bob = lib
    storage.put_bytes(user_key(alice, "books", "1", "source", "a.txt"), b"hello", "text/plain")
    token = call(settings, lambda s: create_session(s, settings, s.get(User, alice)))
    assert client.get("/account/export.zip").status_code == 404  # signed out
    client.cookies.set("ab_session", token)
    page = client.get("/account/export.zip")
    client.cookies.clear()
    assert page.status_code == 200 and page.headers["content-type"] == "application/zip"
    assert "attachment" in page.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(page.content)) as archive:
        assert archive.read("files/books/1/source/a.txt") == b"hello"

    key = call(settings, lambda s: create_key(s, alice, "cli").secret)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/account/export").status_code == 401
    api = client.get("/api/v1/account/export", headers=headers)
    assert api.status_code == 200
    with zipfile.ZipFile(io.BytesIO(api.content)) as archive:
        assert json.loads(archive.read("account.json"))["email"] == "alice@example.com"
    wrong = client.delete(
        "/api/v1/account", params={"confirm_email": "bob@example.com"}, headers=headers
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["message"].startswith("to delete")
    done = client.delete(
        "/api/v1/account", params={"confirm_email": "alice@example.com"}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["files_removed"] == 1 and done.json()["rows_removed"]["users"] == 1
    assert client.get("/api/v1/account/export", headers=headers).status_code == 401
    assert storage.list_keys(f"users/{alice}/") == []
    assert call(settings, lambda s: s.get(User, bob)) is not None
