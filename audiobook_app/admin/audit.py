"""The audit log for admins: who did what to which object, filtered and paged.

Rows come from every ``repo.audit`` call: admin actions (``admin.*``), every credit
movement (``credits.*``, written by ``billing.ledger``), sign-ups and sign-ins
(``user.*``), job starts and cancels (``job.*``), API keys (``api_key.*``)...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from audiobook_app.admin.access import (
    DEFAULT_PAGE_SIZE,
    Page,
    bounds,
    contains,
    day_range,
    printable,
)
from audiobook_app.db.models import AuditLog, User


@dataclass(frozen=True)
class AuditRow:
    """One audit row: ``actor_email`` "" for the system (webhooks, workers)."""

    id: int
    created_at: datetime
    actor_id: int | None
    actor_email: str
    action: str
    target_type: str
    target_id: str
    detail: dict


def _target(target: str | None) -> list:
    """``type:id`` matches exactly; a bare word matches an id or a type."""
    target = printable(target, "the target").strip()
    if not target:
        return []
    if ":" in target:
        kind, _, ident = target.partition(":")
        return [AuditLog.target_type == kind.strip(), AuditLog.target_id == ident.strip()]
    return [or_(col(AuditLog.target_id) == target, col(AuditLog.target_type) == target)]


def audit_log(
    session: Session,
    *,
    actor_email: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> Page[AuditRow]:
    """Audit rows, newest first, one page: only those whose actor's email contains
    ``actor_email`` (case-insensitive), whose action starts with ``action`` (e.g.
    ``credits.`` or ``admin.user.``), about ``target`` (``user:12``, or a bare id or
    type), on the UTC days ``since``..``until`` (inclusive), when given. Raises
    InputError for a reversed range."""
    limit, offset = bounds(limit, offset)
    where = _target(target)
    if needle := contains(actor_email):
        where.append(func.lower(col(User.email)).contains(needle, autoescape=True))
    if prefix := printable(action, "the action").strip():
        where.append(col(AuditLog.action).startswith(prefix, autoescape=True))
    start, end = day_range(since, until)
    if start:
        where.append(col(AuditLog.created_at) >= start)
    if end:
        where.append(col(AuditLog.created_at) < end)
    joined = (
        select(AuditLog, User.email)
        .join(User, col(User.id) == col(AuditLog.actor_id), isouter=True)
        .where(*where)
    )
    total = session.exec(select(func.count()).select_from(joined.subquery())).one()
    rows = session.exec(
        joined.order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    items = [
        AuditRow(
            id=a.id,
            created_at=a.created_at,
            actor_id=a.actor_id,
            actor_email=email or "",
            action=a.action,
            target_type=a.target_type,
            target_id=a.target_id,
            detail=dict(a.detail or {}),
        )
        for a, email in rows
    ]
    return Page(items, int(total), limit, offset)
