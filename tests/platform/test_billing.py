"""The credit ledger's rules, on SQLite and PostgreSQL with real Redis: the balance is
the ledger's sum; Start reserves the quote, cancel or failure releases it, completion
charges the real minutes (never more than reserved); every job movement, purchase and
refund happens once however often it is asked for; and 50 concurrent starts by one
author with credit for 10 start exactly 10 (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from audiobook_app import library
from audiobook_app.accounts.users import sign_up
from audiobook_app.billing import ledger, pricing
from audiobook_app.db import migrate
from audiobook_app.db.models import (
    Book,
    BookStatus,
    Job,
    JobStatus,
    LedgerEntry,
    LedgerReason,
    UserRole,
)
from audiobook_app.db.session import get_engine, session_scope
from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from pipeline.errors import InputError, InsufficientCreditsError

PASSWORD = "correct horse battery"
WORDS = 100  # 100 words: 36.4 s at 191 wpm + 5 s of chapter overhead -> 1 credit


def _settings(db_url: str, tmp_path: Path, **overrides) -> Settings:
    values = {
        "database_url": db_url,
        "queue_prefix": f"abtest-{uuid.uuid4().hex[:10]}",
        "storage_root": tmp_path / "storage",
        "free_credits": 10,
        "reservation_margin": 0.0,
        "rate_job_starts": "1000/minute",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return _settings(db_url, tmp_path)


def _author(settings: Settings, email: str = "alice@example.com") -> int:
    with session_scope(settings.database_url) as session:
        return sign_up(session, settings, email, PASSWORD).id


def _ready_book(settings: Settings, owner_id: int, words: int = WORDS) -> int:
    """A book as the inspect job leaves it: ready, one chapter of ``words`` words."""
    with session_scope(settings.database_url) as session:
        book = Book(
            owner_id=owner_id,
            title="Tiny",
            source_filename="tiny.txt",
            source_key=f"users/{owner_id}/tiny.txt",
            status=BookStatus.READY,
            words=words,
            chapters=[{"index": 1, "title": "One", "words": words, "first": 0, "last": 0}],
        )
        session.add(book)
        session.flush()
        return book.id


def _entries(settings: Settings, user_id: int) -> list[tuple[str, int]]:
    with session_scope(settings.database_url) as session:
        rows = ledger.entries(session, user_id, limit=1000)
        return [(str(e.reason), e.delta) for e in reversed(rows)]


def _balance(settings: Settings, user_id: int) -> int:
    with session_scope(settings.database_url) as session:
        return ledger.balance(session, user_id)


def test_quote_is_words_at_the_measured_pace_and_the_margin(tmp_path: Path, sqlite_url: str):
    settings = _settings(sqlite_url, tmp_path, reservation_margin=0.25, credits_per_audio_minute=2)
    book = Book(
        owner_id=1,
        source_filename="b.txt",
        source_key="k",
        chapters=[
            {"index": 1, "title": "A", "words": 1910},  # 10 min at 191 wpm
            {"index": 2, "title": "B", "words": 955},  # 5 min
        ],
    )
    q = pricing.quote(settings, book, [1])
    assert (q.audio_s, q.credits, q.reserve) == (605.0, 21, 27)  # 10 min + 5 s overhead
    both = pricing.quote(settings, book, [1, 2])
    assert (both.audio_s, both.credits) == (910.0, 31)
    faster = pricing.quote(settings, book, [1], speed=2.0)
    assert faster.audio_s == 305.0
    assert pricing.quote(settings, book, []).credits == 0


def test_new_account_gets_the_free_grant_once_and_balance_is_the_sum(settings: Settings):
    alice = _author(settings)
    assert _entries(settings, alice) == [("grant", 10)]
    with session_scope(settings.database_url) as session:
        assert ledger.welcome_grant(session, settings, alice) is None  # once per user
        admin = sign_up(session, settings, "root@example.com", PASSWORD, role=UserRole.ADMIN)
        ledger.grant(session, alice, 25, actor_id=admin.id, note="launch promo")
        ledger.grant(session, alice, -5, actor_id=admin.id, note="typo")
        with pytest.raises(InsufficientCreditsError, match="balance is 30"):
            ledger.grant(session, alice, -31, actor_id=admin.id, note="too much")
        with pytest.raises(InputError, match="say why"):
            ledger.grant(session, alice, 5, actor_id=admin.id, note="  ")
        with pytest.raises(InputError):
            ledger.grant(session, alice, 0, actor_id=admin.id, note="nothing")
    assert _entries(settings, alice) == [("grant", 10), ("grant", 25), ("grant", -5)]
    assert _balance(settings, alice) == 30
    with session_scope(settings.database_url) as session:
        entry = ledger.entries(session, alice)[0]
        assert (entry.actor_id, entry.note) == (admin.id, "typo")


def test_start_reserves_cancel_releases_and_a_short_balance_is_refused(settings: Settings):
    conn = queue.connect(settings)
    alice = _author(settings)
    book = _ready_book(settings, alice, words=WORDS * 10)  # 5 min 19 s -> 6 credits
    job_id = library.start(conn, settings, alice, book, chosen=[1])
    assert _entries(settings, alice) == [("grant", 10), ("reservation", -6)]
    assert _balance(settings, alice) == 4
    with session_scope(settings.database_url) as session:
        assert ledger.reserved(session, alice) == 6

    second = _ready_book(settings, alice, words=WORDS * 10)
    with pytest.raises(
        InsufficientCreditsError, match="needs up to 6 credits and the balance is 4"
    ):
        library.start(conn, settings, alice, second, chosen=[1])
    with session_scope(settings.database_url) as session:
        assert session.exec(select(Job).where(Job.book_id == second)).all() == []  # nothing kept

    library.cancel(conn, settings, alice, job_id)
    library.cancel(conn, settings, alice, job_id)  # again: nothing moves twice
    assert _entries(settings, alice) == [("grant", 10), ("reservation", -6), ("release", 6)]
    assert _balance(settings, alice) == 10
    with session_scope(settings.database_url) as session:
        assert ledger.reserved(session, alice) == 0

    retried = library.retry(conn, settings, alice, job_id)  # reserves again
    assert _entries(settings, alice)[-1] == ("reservation", -6)
    with session_scope(settings.database_url) as session:
        job = session.get(Job, retried)
        queue.fail_job(session, job, "the worker caught fire")
    assert _entries(settings, alice)[-1] == ("release", 6)
    assert _balance(settings, alice) == 10


def test_settle_charges_real_minutes_capped_at_the_reservation_once(settings: Settings):
    conn = queue.connect(settings)
    alice = _author(settings)
    short_job = library.start(conn, settings, alice, _ready_book(settings, alice), chosen=[1])
    long_job = library.start(conn, settings, alice, _ready_book(settings, alice), chosen=[1])
    with session_scope(settings.database_url) as session:
        assert ledger.settle(session, settings, session.get(Job, short_job), audio_s=30.0) == 1
        assert ledger.settle(session, settings, session.get(Job, short_job), audio_s=30.0) == 0
        # a job that ran longer than quoted pays what was reserved, not more
        assert ledger.settle(session, settings, session.get(Job, long_job), audio_s=600.0) == 1
    assert _entries(settings, alice) == [
        ("grant", 10),
        ("reservation", -1),
        ("reservation", -1),
        ("release", 1),
        ("charge", -1),
        ("release", 1),
        ("charge", -1),
    ]
    assert _balance(settings, alice) == 8
    with session_scope(settings.database_url) as session:
        charge = session.exec(
            select(LedgerEntry).where(LedgerEntry.external_ref == f"job:{long_job}:charge")
        ).one()
        assert charge.detail == {"audio_s": 600.0, "reserved": 1}


def test_purchase_and_refund_move_credits_once(settings: Settings):
    alice = _author(settings)
    detail = {"pack": "hour-5", "amount_cents": 500, "payment_intent": "pi_123"}
    with session_scope(settings.database_url) as session:
        assert ledger.credit_purchase(session, alice, 60, "stripe:cs:cs_1", detail) is not None
    for _ in range(3):  # Stripe retries and replays
        with session_scope(settings.database_url) as session:
            assert ledger.credit_purchase(session, alice, 60, "stripe:cs:cs_1", detail) is None
    with session_scope(settings.database_url) as session:
        purchase = ledger.purchase_by_payment(session, "pi_123")
        assert purchase is not None and purchase.delta == 60
        assert ledger.purchase_by_payment(session, "pi_unknown") is None
        assert ledger.reverse_purchase(session, purchase, 30, "stripe:re:re_1").delta == -30
        assert ledger.reverse_purchase(session, purchase, 30, "stripe:re:re_1") is None
    assert _entries(settings, alice) == [("grant", 10), ("purchase", 60), ("refund", -30)]
    assert _balance(settings, alice) == 40


def test_the_orm_refuses_to_change_or_delete_ledger_rows(settings: Settings):
    alice = _author(settings)
    with pytest.raises(ValueError, match="append-only"):
        with session_scope(settings.database_url) as session:
            entry = ledger.entries(session, alice)[0]
            entry.delta = 1_000_000
            session.add(entry)
            session.flush()
    assert _balance(settings, alice) == 10


def test_fifty_concurrent_starts_with_credit_for_ten_never_overdraw(
    pg_url: str, tmp_path: Path
) -> None:
    """Real concurrency on PostgreSQL: 50 threads, each its own connection, start 50
    different books of one author at once; each costs 1 credit and the author has 10."""
    migrate.upgrade(pg_url)
    settings = _settings(pg_url, tmp_path)
    conn = queue.connect(settings)
    alice = _author(settings)
    books = [_ready_book(settings, alice) for _ in range(50)]
    get_engine(pg_url).dispose()  # a fresh pool for the burst
    barrier = threading.Barrier(50)
    started: list[str] = []
    refused: list[str] = []
    failed: list[BaseException] = []
    lock = threading.Lock()

    def start(book_id: int) -> None:
        barrier.wait()
        try:
            job_id = library.start(conn, settings, alice, book_id, chosen=[1])
            with lock:
                started.append(job_id)
        except InsufficientCreditsError as exc:
            with lock:
                refused.append(str(exc))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            with lock:
                failed.append(exc)

    threads = [threading.Thread(target=start, args=(b,)) for b in books]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failed == []
    assert (len(started), len(refused)) == (10, 40)
    assert _balance(settings, alice) == 0
    with Session(get_engine(pg_url)) as session:
        reservations = session.exec(
            select(func.count()).where(
                LedgerEntry.user_id == alice, LedgerEntry.reason == LedgerReason.RESERVATION
            )
        ).one()
        jobs = session.exec(select(Job).where(Job.owner_id == alice)).all()
    assert reservations == 10
    assert sorted(j.id for j in jobs) == sorted(started)
    assert {j.status for j in jobs} == {JobStatus.QUEUED}
    get_engine(pg_url).dispose()
