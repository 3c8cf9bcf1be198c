"""Usage per day and the audit log on SQLite and PostgreSQL: minutes generated,
credits charged and sold and revenue per UTC day (quiet days zero); audit rows
filtered by actor email, action prefix, target and days, newest first, paged."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import Session

from audiobook_app.admin import audit, usage
from audiobook_app.db.models import AuditLog, LedgerEntry, LedgerReason, UsageEvent, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import InputError
from tests.admin.factory import make_book, make_job, make_user


def _entry(session: Session, user: int, delta: int, reason: LedgerReason, at: datetime, **kw):
    session.add(LedgerEntry(user_id=user, delta=delta, reason=reason, created_at=at, **kw))


def test_usage_per_day_minutes_charges_sales_and_revenue(settings: Settings):
    alice = make_user(settings, "alice@example.com")
    job = make_job(settings, make_book(settings, alice))
    with session_scope(settings.database_url) as session:
        for at, seconds in ((datetime(2026, 3, 1, 10), 90), (datetime(2026, 3, 1, 23, 59), 30)):
            session.add(
                UsageEvent(
                    user_id=alice,
                    job_id=job,
                    kind="audio_generated",
                    quantity=seconds,
                    unit="s",
                    created_at=at,
                )
            )
        session.add(
            UsageEvent(
                user_id=alice,
                kind="trial",
                quantity=500,
                unit="s",
                created_at=datetime(2026, 3, 1, 11),
            )
        )
        _entry(session, alice, -2, LedgerReason.CHARGE, datetime(2026, 3, 1, 12), job_id=job)
        _entry(session, alice, -9, LedgerReason.RESERVATION, datetime(2026, 3, 1, 12))
        _entry(
            session,
            alice,
            300,
            LedgerReason.PURCHASE,
            datetime(2026, 3, 3, 8),
            external_ref="stripe:cs:1",
            detail={"amount_cents": 2000, "pack": "book-20"},
        )
        _entry(
            session,
            alice,
            60,
            LedgerReason.PURCHASE,
            datetime(2026, 3, 3, 9),
            external_ref="stripe:cs:2",
            detail={"amount_cents": 500},
        )
        _entry(session, alice, -60, LedgerReason.REFUND, datetime(2026, 3, 3, 10))
        _entry(session, alice, 1000, LedgerReason.PURCHASE, datetime(2026, 2, 20))  # too early

    with session_scope(settings.database_url) as session:
        rows = usage.usage_per_day(session, 3, today=date(2026, 3, 3))
    assert [
        (r.day, r.minutes_generated, r.credits_charged, r.credits_sold, r.revenue_cents)
        for r in rows
    ] == [
        ("2026-03-01", 2.0, 2, 0, 0),
        ("2026-03-02", 0.0, 0, 0, 0),
        ("2026-03-03", 0.0, 0, 360, 2500),
    ]
    assert (rows[2].purchases, rows[2].credits_refunded) == (2, 60)
    total = usage.totals(rows)
    assert (total.day, total.credits_sold, total.revenue_cents) == (
        "2026-03-01..2026-03-03",
        360,
        2500,
    )
    with session_scope(settings.database_url) as session:
        with pytest.raises(InputError):
            usage.usage_per_day(session, 0)
        assert len(usage.usage_per_day(session)) == 30


def test_audit_log_filters_and_pages(settings: Settings):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    rows = [
        (root, "credits.grant", "user", str(alice), datetime(2026, 3, 1, 9)),
        (root, "admin.user.disable", "user", str(alice), datetime(2026, 3, 2, 9)),
        (alice, "job.start", "job", "abc", datetime(2026, 3, 2, 10)),
        (None, "credits.purchase", "user", str(alice), datetime(2026, 3, 3, 9)),
        (root, "credits_report", "user", str(root), datetime(2026, 3, 3, 10)),
    ]
    with session_scope(settings.database_url) as session:
        for actor, action, kind, target, at in rows:
            session.add(
                AuditLog(
                    actor_id=actor,
                    action=action,
                    target_type=kind,
                    target_id=target,
                    created_at=at,
                    detail={"n": action},
                )
            )

    def actions(**filters) -> tuple[int, list[str]]:
        with session_scope(settings.database_url) as session:
            page = audit.audit_log(session, **filters)
            return page.total, [r.action for r in page.items]

    assert actions() == (
        5,
        ["credits_report", "credits.purchase", "job.start", "admin.user.disable", "credits.grant"],
    )
    assert actions(action="credits.") == (2, ["credits.purchase", "credits.grant"])
    assert actions(actor_email="ROOT@") == (
        3,
        ["credits_report", "admin.user.disable", "credits.grant"],
    )
    assert actions(target=f"user:{alice}") == (
        3,
        ["credits.purchase", "admin.user.disable", "credits.grant"],
    )
    assert actions(target="job") == (1, ["job.start"])
    assert actions(target="abc") == (1, ["job.start"])
    assert actions(since=date(2026, 3, 2), until=date(2026, 3, 2)) == (
        2,
        ["job.start", "admin.user.disable"],
    )
    assert actions(limit=2, offset=1) == (5, ["credits.purchase", "job.start"])
    with session_scope(settings.database_url) as session:
        page = audit.audit_log(session, action="credits.purchase")
    [row] = page.items
    assert (row.actor_id, row.actor_email, row.target_type, row.detail) == (
        None,
        "",
        "user",
        {"n": "credits.purchase"},
    )
