"""The admin pages' substates, driven directly (as the websocket would): an author who
sends EVERY event handler of EVERY admin page substate by hand (enumerated from the
states, not a sample) gets nothing, on SQLite and PostgreSQL: no rows in the state,
no credit, role, disable, job or queue change. A signed-out visitor is sent to sign in;
an admin's events load every page and grant credits."""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from reflex.state import State
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlmodel import col, select

from audiobook_app.accounts.sessions import create_session
from audiobook_app.audiobook_app import app  # noqa: F401  (registers every page and state)
from audiobook_app.billing import ledger
from audiobook_app.db.models import AuditLog, Job, JobStatus, LedgerEntry, User, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.pages.admin.common import AdminState
from audiobook_app.settings import Settings
from audiobook_app.state.clients import redis_conn
from tests.admin.factory import make_book, make_job, make_user
from tests.conftest import unavailable

BUILT_IN = {"setvar"}  # Reflex's own: it calls the set_* handlers, which are sent directly


def _page_states() -> list[type[AdminState]]:
    return sorted(AdminState.__subclasses__(), key=lambda cls: cls.__name__)


def _substate(token: str, cls: type[AdminState]) -> AdminState:
    root = State(_reflex_internal_init=True)
    sub = root.get_substate(cls.get_full_name().split(".")[1:])
    sub.session_token = token
    return sub


def _send(sub: AdminState, name: str, *args):
    result = getattr(sub, name)(*args)
    if not inspect.isawaitable(result):
        return result
    # in a thread of its own: a browser test earlier in the session (Playwright's sync
    # API) keeps an event loop running in the main thread, where asyncio.run refuses
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, result).result()


def _token(settings: Settings, user_id: int) -> str:
    with session_scope(settings.database_url) as session:
        return create_session(session, settings, session.get(User, user_id))


def _failed_rq_job(settings: Settings) -> str:
    q = queue.queue(redis_conn(), settings, "gpu")
    rq_job = q.enqueue("tests.admin.rq_jobs.fail", description="synthesize t-1")
    SimpleWorker([q], connection=redis_conn(), serializer=JSONSerializer).work(burst=True)
    return rq_job.id


@pytest.fixture
def studio(process_settings: Settings) -> dict:
    """An admin, an author with a failed job, a failed RQ job, and the handler args."""
    settings = process_settings
    try:
        redis_conn().ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable: {exc} (start it with scripts/services.sh)")
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    job = make_job(settings, make_book(settings, alice, "Moby-Dick"), JobStatus.FAILED)
    failed = _failed_rq_job(settings)
    form = {
        "email": "alice@example.com",
        "credits": "500",
        "note": "for me",
        "q": "",
        "status": "any",
        "owner": "",
        "title": "",
        "since": "",
        "until": "",
        "actor": "",
        "action": "",
        "target": "",
    }
    args = {
        "form": form,
        "offset": 0,
        "user_id": alice,
        "disabled": True,
        "role": "admin",
        "job_id": job,
        "rq_job_id": failed,
        "days": "7",
    }
    return {"settings": settings, "root": root, "alice": alice, "job": job, "args": args}


def test_an_author_sending_every_admin_event_by_hand_gets_nothing(studio: dict):
    settings, alice, args = studio["settings"], studio["alice"], studio["args"]
    states = _page_states()
    assert {cls.__name__ for cls in states} == {
        "AdminAuditState",
        "AdminJobsState",
        "AdminQueueState",
        "AdminUsageState",
        "AdminUsersState",
    }
    token = _token(settings, alice)
    sent = 0
    for cls in states:
        sub = _substate(token, cls)
        assert _send(sub, "require_admin") is None
        assert (sub.admin_checked, sub.is_admin) == (True, False)  # "Not found"
        for name, handler in cls.event_handlers.items():
            if name in BUILT_IN:
                continue
            params = list(inspect.signature(handler.fn).parameters)[1:]
            _send(sub, name, *[args[p] for p in params])
            sent += 1
        own = {
            name: getattr(sub, name) for name in cls.base_vars if name not in AdminState.base_vars
        }
        leaked = {name: value for name, value in own.items() if isinstance(value, list) and value}
        assert leaked == {}, (cls.__name__, leaked)
        for text in ("grant_result", "message", "totals"):
            assert own.get(text, "") == "", (cls.__name__, text)
    assert sent >= 20

    with session_scope(settings.database_url) as session:
        assert session.exec(select(LedgerEntry)).all() == []
        assert session.get(User, alice).role == "author"
        assert session.get(User, alice).disabled is False
        assert session.get(Job, studio["job"]).status == "failed"
        assert len(session.exec(select(Job)).all()) == 1  # no retry
        admin_rows = session.exec(
            select(AuditLog).where(col(AuditLog.action).startswith("admin."))
        ).all()
        assert admin_rows == []
    assert queue.queue(redis_conn(), settings, "gpu").failed_job_registry.count == 1


def test_signed_out_is_sent_to_sign_in_and_an_admin_sees_every_page(studio: dict):
    settings, alice = studio["settings"], studio["alice"]
    for cls in _page_states():
        signed_out = _substate("", cls)
        assert _send(signed_out, "require_admin") is not None  # a redirect to /signin
        assert signed_out.is_admin is False

    token = _token(settings, studio["root"])
    loaded = {}
    for cls in _page_states():
        sub = _substate(token, cls)
        _send(sub, "require_admin")
        assert sub.is_admin is True
        _send(sub, "load")
        loaded[cls.__name__] = sub
    assert [u.email for u in loaded["AdminUsersState"].rows] == [
        "alice@example.com",
        "root@studio.test",
    ]
    assert [j.id for j in loaded["AdminJobsState"].rows] == [studio["job"]]
    assert [q.failed for q in loaded["AdminQueueState"].counts] == [0, 0, 1]
    assert len(loaded["AdminUsageState"].rows) == 30

    users = loaded["AdminUsersState"]
    _send(users, "grant", {"email": "alice@example.com", "credits": "12", "note": "promo"})
    assert (users.grant_result, users.grant_failed) == (
        "Granted 12 credits to alice@example.com: the balance is 12",
        False,
    )
    _send(users, "grant", {"email": "alice@example.com", "credits": "many", "note": "x"})
    assert (users.grant_result, users.grant_failed) == (
        "credits: a whole number (negative removes credits)",
        True,
    )
    with session_scope(settings.database_url) as session:
        assert ledger.balance(session, alice) == 12
    audit = loaded["AdminAuditState"]
    _send(audit, "filter", {"action": "credits."})
    assert [(r.action, r.actor) for r in audit.rows] == [("credits.grant", "root@studio.test")]
