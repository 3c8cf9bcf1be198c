"""Admin user services on SQLite and PostgreSQL: search with balance, reserved,
minutes and books; credits granted or removed only through the ledger, naming the
admin and the reason; disable ends every session; the studio never loses its last
admin; an author is refused everything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from audiobook_app.accounts.sessions import create_session, resolve_session
from audiobook_app.admin import users
from audiobook_app.billing import ledger
from audiobook_app.db.models import AuditLog, LedgerEntry, UsageEvent, User, UserRole, utcnow
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    InsufficientCreditsError,
    NotFoundError,
)
from tests.admin.factory import make_book, make_job, make_user


def _call(settings: Settings, fn, *args):
    with session_scope(settings.database_url) as session:
        return fn(session, *args)


def _audit(settings: Settings, action: str) -> list[AuditLog]:
    with session_scope(settings.database_url) as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_search_pages_by_email_with_balance_reserved_minutes_and_books(settings: Settings):
    now = utcnow()
    admin = make_user(settings, "root@studio.test", UserRole.ADMIN, created_at=now)
    alice = make_user(settings, "alice@example.com", created_at=now - timedelta(days=2))
    bob = make_user(settings, "bob@example.com", created_at=now - timedelta(days=1))
    make_user(settings, "percent_100%@other.test", created_at=now - timedelta(days=3))
    book = make_book(settings, alice)
    make_book(settings, alice, "Gone", deleted=True)
    job = make_job(settings, book, audio_s=150)
    with session_scope(settings.database_url) as session:
        ledger.grant(session, alice, 40, actor_id=admin, note="welcome")
        ledger.reserve(session, alice, job, 12)
        session.add(
            UsageEvent(user_id=alice, job_id=job, kind="audio_generated", quantity=150, unit="s")
        )
        session.add(UsageEvent(user_id=alice, kind="something_else", quantity=999, unit="s"))

    found = _call(settings, users.search_users, "EXAMPLE.com")
    assert (found.total, [u.email for u in found.items]) == (
        2,
        ["bob@example.com", "alice@example.com"],  # newest first
    )
    a = found.items[1]
    assert (a.id, a.role, a.disabled, a.balance, a.reserved, a.minutes_generated, a.books) == (
        alice,
        "author",
        False,
        28,
        12,
        2.5,
        1,
    )
    b = found.items[0]
    assert (b.id, b.balance, b.reserved, b.minutes_generated, b.books) == (bob, 0, 0, 0.0, 0)

    everyone = _call(settings, lambda s: users.search_users(s, "", limit=2, offset=2))
    assert (everyone.total, everyone.limit, everyone.offset) == (4, 2, 2)
    assert [u.email for u in everyone.items] == ["alice@example.com", "percent_100%@other.test"]
    # % and _ are literal characters, not wildcards
    assert [u.email for u in _call(settings, users.search_users, "_100%").items] == [
        "percent_100%@other.test"
    ]
    assert _call(settings, users.search_users, "0%@").total == 1
    assert _call(settings, users.search_users, "%").total == 1
    with pytest.raises(InputError, match="NUL"):  # PostgreSQL text cannot hold one
        _call(settings, users.search_users, "a\x00")


def test_grant_and_remove_credits_name_the_admin_and_the_reason(settings: Settings):
    admin = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    with session_scope(settings.database_url) as session:
        user, entry = users.grant_credits_by_email(
            session, admin, "  Alice@Example.com ", 25, "launch promo"
        )
        assert (user.id, entry.delta, entry.actor_id, entry.note) == (
            alice,
            25,
            admin,
            "launch promo",
        )
        users.grant_credits(session, admin, alice, -5, "typo in the promo")
        with pytest.raises(InsufficientCreditsError, match="balance is 20"):
            users.grant_credits(session, admin, alice, -21, "too much")
        with pytest.raises(InputError, match="say why"):
            users.grant_credits(session, admin, alice, 5, "   ")
        with pytest.raises(NotFoundError, match="no account"):
            users.grant_credits_by_email(session, admin, "nobody@example.com", 5, "x")
        with pytest.raises(NotFoundError):
            users.grant_credits(session, admin, 999_999, 5, "x")
    with session_scope(settings.database_url) as session:
        rows = session.exec(select(LedgerEntry).where(LedgerEntry.user_id == alice)).all()
        assert [(e.reason, e.delta, e.actor_id, e.note) for e in rows] == [
            ("grant", 25, admin, "launch promo"),
            ("grant", -5, admin, "typo in the promo"),
        ]
        assert ledger.balance(session, alice) == 20
    audit = _audit(settings, "credits.grant")
    assert [(a.actor_id, a.target_id, a.detail["delta"], a.detail["note"]) for a in audit] == [
        (admin, str(alice), 25, "launch promo"),
        (admin, str(alice), -5, "typo in the promo"),
    ]


def test_disable_ends_every_session_and_enable_lets_them_back(settings: Settings):
    admin = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    with session_scope(settings.database_url) as session:
        user = session.get(User, alice)
        tokens = [create_session(session, settings, user) for _ in range(2)]

    summary = _call(settings, users.set_disabled, admin, alice, True)
    assert summary.disabled is True
    with session_scope(settings.database_url) as session:
        assert [resolve_session(session, settings, t) for t in tokens] == [None, None]
    [row] = _audit(settings, "admin.user.disable")
    assert (row.actor_id, row.target_id, row.detail["sessions_ended"]) == (admin, str(alice), 2)

    assert _call(settings, users.set_disabled, admin, alice, False).disabled is False
    [row] = _audit(settings, "admin.user.enable")
    assert row.actor_id == admin

    with pytest.raises(ConflictError, match="your own account"):
        _call(settings, users.set_disabled, admin, admin, True)


def test_roles_never_leave_the_studio_without_an_enabled_admin(settings: Settings):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(settings, "alice@example.com")
    make_user(settings, "old@studio.test", UserRole.ADMIN, disabled=True)

    with pytest.raises(ConflictError, match="last enabled admin"):
        _call(settings, users.set_role, root, root, "author")  # the disabled admin can't run it
    with pytest.raises(InputError, match="choose one of"):
        _call(settings, users.set_role, root, alice, "owner")

    assert _call(settings, users.set_role, root, alice, "admin").role == "admin"
    [row] = _audit(settings, "admin.user.role")
    assert (row.actor_id, row.target_id, row.detail["old"], row.detail["new"]) == (
        root,
        str(alice),
        "author",
        "admin",
    )
    # alice, now an admin, may demote root (another enabled admin is left: herself)
    assert _call(settings, users.set_role, alice, root, "author").role == "author"
    with pytest.raises(ConflictError, match="last enabled admin"):
        _call(settings, users.set_role, alice, alice, "author")


def test_an_author_or_a_disabled_admin_is_refused_everything(settings: Settings):
    root = make_user(settings, "root@studio.test", UserRole.ADMIN)
    gone = make_user(settings, "gone@studio.test", UserRole.ADMIN, disabled=True)
    alice = make_user(settings, "alice@example.com")
    for actor in (alice, gone, 999_999):
        with pytest.raises(ForbiddenError):
            _call(settings, users.grant_credits, actor, alice, 100, "for me")
        with pytest.raises(ForbiddenError):
            _call(settings, users.set_role, actor, actor, "admin")
        with pytest.raises(ForbiddenError):
            _call(settings, users.set_disabled, actor, root, True)
    with session_scope(settings.database_url) as session:
        assert ledger.balance(session, alice) == 0
        assert session.get(User, alice).role == "author"
        assert session.get(User, root).disabled is False
