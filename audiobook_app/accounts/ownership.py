"""Who may touch what: a user reaches only the books, jobs and files they own.

Another user's object is reported exactly like a missing one (:class:`NotFoundError`,
"no book 12"), so ids cannot be probed for existence. Admins pass only where the
caller says so (``allow_admin=True``, e.g. an admin's job list).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from audiobook_app.db.models import User, UserRole
from pipeline.errors import NotFoundError

MAX_ROW_ID = 2**31 - 1  # the largest integer row id (a PostgreSQL ``integer`` column)
MAX_KEY_CHARS = 100  # the longest string row id (job ids are 32 hex characters)


def valid_row_id(obj_id: Any) -> bool:
    """Whether ``obj_id`` (from a URL or a form) can name a row at all: an int in
    1..:data:`MAX_ROW_ID`, or a printable string of 1..:data:`MAX_KEY_CHARS`
    characters. Anything else (20 digits, a NUL) would make SQLite or PostgreSQL raise
    rather than find nothing, so callers answer it like a missing id."""
    if isinstance(obj_id, bool):
        return False
    if isinstance(obj_id, int):
        return 1 <= obj_id <= MAX_ROW_ID
    if isinstance(obj_id, str):
        return 0 < len(obj_id) <= MAX_KEY_CHARS and obj_id.isprintable()
    return False


class Owned(Protocol):
    owner_id: Any  # Book, Job, File (int), Voice (None: built in, everyone's)


T = TypeVar("T", bound=Owned)


def _kind(obj_or_model: Any) -> str:
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    return model.__name__.lower()


def may_access(user: User, obj: Owned, *, allow_admin: bool = False) -> bool:
    """Whether ``user`` may see ``obj``: they own it, it is everyone's (``owner_id`` None),
    or they are an admin and ``allow_admin`` is set."""
    return (
        obj.owner_id is None
        or obj.owner_id == user.id
        or (allow_admin and user.role == UserRole.ADMIN)
    )


def require_owner(user: User, obj: T, *, allow_admin: bool = False) -> T:
    """Return ``obj`` when ``user`` may access it (see :func:`may_access`).

    Raises :class:`NotFoundError` ("no book 12") otherwise.
    """
    if not may_access(user, obj, allow_admin=allow_admin):
        raise NotFoundError(f"no {_kind(obj)} {getattr(obj, 'id', '')}".rstrip())
    return obj


def get_owned(
    session: Session, user: User, model: type[T], obj_id: Any, *, allow_admin: bool = False
) -> T:
    """Load ``model`` row ``obj_id`` for ``user``: the one call a page makes for an id
    that came from a URL or a form.

    Raises :class:`NotFoundError` when the row does not exist or is not the user's, and
    for an id no row can have (:func:`valid_row_id`: out of range, too long), before
    any query.
    """
    if not valid_row_id(obj_id):
        raise NotFoundError(f"no {_kind(model)} {str(obj_id)[:40]!r}")
    obj = session.get(model, obj_id)
    if obj is None:
        raise NotFoundError(f"no {_kind(model)} {obj_id}")
    return require_owner(user, obj, allow_admin=allow_admin)
