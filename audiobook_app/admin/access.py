"""Shared pieces of the admin services: who may act, pages of results, day ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar

from sqlmodel import Session

from audiobook_app.db.models import User, UserRole
from pipeline.errors import ForbiddenError, InputError

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200  # rows one request may ask for (pages and API)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results: ``items`` (at most ``limit``), starting at ``offset`` of
    ``total`` matching rows."""

    items: list[T]
    total: int
    limit: int
    offset: int


def bounds(limit: int, offset: int) -> tuple[int, int]:
    """``limit`` clamped to 1..:data:`MAX_PAGE_SIZE` and ``offset`` to 0 or more."""
    return max(1, min(int(limit), MAX_PAGE_SIZE)), max(0, int(offset))


def acting_admin(session: Session, admin_id: int) -> User:
    """The enabled admin account ``admin_id``. Raises ForbiddenError for anyone else
    (an author, a disabled admin, an unknown id)."""
    user = session.get(User, admin_id)
    if user is None or user.disabled or user.role != UserRole.ADMIN:
        raise ForbiddenError("this needs the admin role")
    return user


def day_range(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole UTC days ``since`` .. ``until`` (both included) as naive datetimes
    ``[start, end)``; None leaves that side open. Raises InputError when ``since`` is
    after ``until``."""
    if since and until and since > until:
        raise InputError(f"the range starts ({since}) after it ends ({until})")
    start = datetime.combine(since, time.min) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min) if until else None
    return start, end


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` form field as a date (None when blank). Raises InputError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def printable(text: str | None, what: str) -> str:
    """``text`` ("" for None) when it holds no NUL character (PostgreSQL text cannot);
    raises InputError naming ``what`` otherwise."""
    text = text or ""
    if "\x00" in text:
        raise InputError(f"{what} contains a NUL character")
    return text


def contains(text: str | None) -> str | None:
    """A search box's text, trimmed and lower-cased (None when blank): callers match it
    as a case-insensitive substring (``func.lower(column).contains(x, autoescape=True)``,
    so ``%`` and ``_`` match themselves). Raises InputError for a NUL character."""
    text = printable(text, "the search text").strip().lower()
    return text or None
