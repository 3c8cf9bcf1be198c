"""Accounts as an admin sees them, and what an admin may do to one.

Rules: credits move only through :func:`billing.ledger.grant` (a ``grant`` ledger entry
with the admin as ``actor_id`` and the reason as its note; the ledger writes the
``credits.grant`` audit row); disabling ends every session of the account
(:func:`accounts.sessions.revoke_all_sessions`; API keys of a disabled account stop
working by themselves, ``accounts.api_keys.resolve_key``); an admin cannot disable
themself, and the last enabled admin cannot be demoted or disabled (ConflictError),
so the studio always keeps someone who can run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from audiobook_app.accounts.passwords import normalize_email
from audiobook_app.accounts.sessions import revoke_all_sessions
from audiobook_app.admin.access import (
    DEFAULT_PAGE_SIZE,
    Page,
    acting_admin,
    bounds,
    contains,
    printable,
)
from audiobook_app.billing import ledger
from audiobook_app.db.models import Book, LedgerEntry, LedgerReason, UsageEvent, User, UserRole
from audiobook_app.db.repo import audit
from pipeline.errors import ConflictError, InputError, NotFoundError

AUDIO_GENERATED = "audio_generated"  # the usage event the assemble task records (seconds)


@dataclass(frozen=True)
class UserSummary:
    """One account: ``balance`` spendable credits, ``reserved`` credits held by running
    jobs, ``minutes_generated`` minutes of audio its jobs produced (usage events),
    ``books`` not deleted; ``created_at`` naive UTC."""

    id: int
    email: str
    role: str
    disabled: bool
    created_at: datetime
    balance: int
    reserved: int
    minutes_generated: float
    books: int


def _sums(session: Session, key, value, ids: list[int], *where) -> dict[int, float]:
    """``{key: sum(value)}`` over the rows whose ``key`` is one of ``ids``."""
    rows = session.exec(
        select(key, func.coalesce(func.sum(value), 0)).where(key.in_(ids), *where).group_by(key)
    ).all()
    return {int(k): float(v) for k, v in rows}


def _summaries(session: Session, users: list[User]) -> list[UserSummary]:
    ids = [u.id for u in users]
    if not ids:
        return []
    owner, delta = col(LedgerEntry.user_id), col(LedgerEntry.delta)
    balances = _sums(session, owner, delta, ids)
    held_reasons = (LedgerReason.RESERVATION, LedgerReason.RELEASE)
    held = _sums(session, owner, delta, ids, col(LedgerEntry.reason).in_(held_reasons))
    seconds = _sums(
        session,
        col(UsageEvent.user_id),
        col(UsageEvent.quantity),
        ids,
        UsageEvent.kind == AUDIO_GENERATED,
    )
    books = dict(
        session.exec(
            select(Book.owner_id, func.count())
            .where(col(Book.owner_id).in_(ids), col(Book.deleted_at).is_(None))
            .group_by(Book.owner_id)
        ).all()
    )
    return [
        UserSummary(
            id=u.id,
            email=u.email,
            role=str(u.role),
            disabled=u.disabled,
            created_at=u.created_at,
            balance=int(balances.get(u.id, 0)),
            reserved=-int(held.get(u.id, 0)),
            minutes_generated=round(seconds.get(u.id, 0.0) / 60.0, 1),
            books=int(books.get(u.id, 0)),
        )
        for u in users
    ]


def search_users(
    session: Session, query: str | None = "", *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
) -> Page[UserSummary]:
    """Accounts whose email contains ``query`` (case-insensitive; blank: every
    account), newest first, one page of them."""
    limit, offset = bounds(limit, offset)
    where = []
    if needle := contains(query):
        where.append(func.lower(col(User.email)).contains(needle, autoescape=True))
    total = session.exec(select(func.count()).select_from(User).where(*where)).one()
    users = session.exec(
        select(User)
        .where(*where)
        .order_by(col(User.created_at).desc(), col(User.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return Page(_summaries(session, list(users)), int(total), limit, offset)


def user_summary(session: Session, user_id: int) -> UserSummary:
    """One account's summary. Raises NotFoundError."""
    return _summaries(session, [_get(session, user_id)])[0]


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return user


def find_by_email(session: Session, email: str) -> User:
    """The account with ``email`` (normalised like sign-up does). Raises NotFoundError,
    InvalidEmailError for something that is not an email address."""
    address = normalize_email(printable(email, "the email"))
    user = session.exec(select(User).where(User.email == address)).first()
    if user is None:
        raise NotFoundError(f"no account with the email {email.strip()!r}")
    return user


def grant_credits(
    session: Session, admin_id: int, user_id: int, credits: int, reason: str
) -> LedgerEntry:
    """Admin ``admin_id`` adds ``credits`` (> 0) to account ``user_id``, or removes
    them (< 0), for ``reason`` (kept as the ledger entry's note). Raises
    ForbiddenError (not an admin), NotFoundError, and what :func:`ledger.grant` raises:
    InputError (0 credits, more than ``ledger.MAX_GRANT``, blank reason) and
    InsufficientCreditsError (a removal below a zero balance)."""
    acting_admin(session, admin_id)
    _get(session, user_id)
    reason = printable(reason, "the reason")
    return ledger.grant(session, user_id, int(credits), actor_id=admin_id, note=reason)


def grant_credits_by_email(
    session: Session, admin_id: int, email: str, credits: int, reason: str
) -> tuple[User, LedgerEntry]:
    """:func:`grant_credits` to the account with ``email``; returns it and the entry.
    Raises as :func:`grant_credits` and :func:`find_by_email`."""
    acting_admin(session, admin_id)
    user = find_by_email(session, email)
    return user, grant_credits(session, admin_id, user.id, credits, reason)


def _other_enabled_admins(session: Session, user_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(User)
        .where(User.role == UserRole.ADMIN, col(User.disabled).is_(False), User.id != user_id)
    ).one()


def _is_last_admin(session: Session, user: User) -> bool:
    return (
        user.role == UserRole.ADMIN
        and not user.disabled
        and _other_enabled_admins(session, user.id) == 0
    )


def set_disabled(session: Session, admin_id: int, user_id: int, disabled: bool) -> UserSummary:
    """Disable (``disabled`` True: signs the account out everywhere; it cannot sign in
    or use its API keys) or enable account ``user_id``. Raises ForbiddenError,
    NotFoundError, ConflictError (disabling yourself or the last enabled admin)."""
    acting_admin(session, admin_id)
    user = _get(session, user_id)
    if disabled and user.id == admin_id:
        raise ConflictError("you cannot disable your own account: ask another admin")
    if disabled and _is_last_admin(session, user):
        raise ConflictError(f"{user.email} is the last enabled admin: make another admin first")
    ended = 0
    if user.disabled != disabled:
        user.disabled = disabled
        session.add(user)
        session.flush()
        if disabled:
            ended = revoke_all_sessions(session, user.id)
    action = "admin.user.disable" if disabled else "admin.user.enable"
    audit(session, admin_id, action, "user", str(user.id), email=user.email, sessions_ended=ended)
    return user_summary(session, user.id)


def set_role(session: Session, admin_id: int, user_id: int, role: str) -> UserSummary:
    """Make account ``user_id`` an ``admin`` or an ``author``. Raises ForbiddenError,
    NotFoundError, InputError (another role), ConflictError (demoting the last
    enabled admin)."""
    acting_admin(session, admin_id)
    try:
        new_role = UserRole(role)
    except ValueError:
        raise InputError(f"role {role!r}: choose one of {[r.value for r in UserRole]}") from None
    user = _get(session, user_id)
    if new_role == UserRole.AUTHOR and _is_last_admin(session, user):
        raise ConflictError(f"{user.email} is the last enabled admin: make another admin first")
    old_role = str(user.role)
    user.role = new_role
    session.add(user)
    session.flush()
    audit(
        session,
        admin_id,
        "admin.user.role",
        "user",
        str(user.id),
        email=user.email,
        old=old_role,
        new=new_role.value,
    )
    return user_summary(session, user.id)
