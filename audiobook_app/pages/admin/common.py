"""What every admin page shares: :class:`AdminState` (who may see the page, checked on
the server at load and at every event) and the layout (header, admin nav, or "Not
found" for anyone who is not an admin)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

import reflex as rx

from audiobook_app.pages.index import header
from audiobook_app.state.auth import SIGN_IN_ROUTE, AuthState, resolve_with_role
from audiobook_app.state.clients import in_session

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_FOUND = "Not found"
ADMIN_LINKS = (
    ("Users", "/admin/users", "admin-nav-users"),
    ("Jobs", "/admin/jobs", "admin-nav-jobs"),
    ("Queue", "/admin/queue", "admin-nav-queue"),
    ("Usage", "/admin/usage", "admin-nav-usage"),
    ("Audit log", "/admin/audit", "admin-nav-audit"),
)


class AdminState(AuthState):
    """Whether the visitor may see admin pages. ``is_admin`` (from :class:`AuthState`)
    shows the page; ``admin_checked`` says the server has answered, so anyone else sees
    "Not found" (and, before the answer, nothing)."""

    admin_checked: bool = False

    @rx.event
    async def require_admin(self):
        """on_load of admin pages: resolve the session cookie; signed out: to sign-in."""
        found = await asyncio.to_thread(resolve_with_role, self.session_token)
        if found is None:
            self.user_id, self.email, self.is_admin = 0, "", False
            self.admin_checked = False
            return rx.redirect(SIGN_IN_ROUTE)
        self.user_id, self.email, self.is_admin = found
        self.admin_checked = True
        return None

    async def _admin_id(self) -> int | None:
        """The signed-in admin's user id, checked against the database now (a revoked
        session, a disabled account or a lost role answer None and hide the page)."""
        found = await asyncio.to_thread(resolve_with_role, self.session_token)
        if found is None or not found[2]:
            if self.is_admin:
                log.warning("admin event refused: user %s is no admin now", self.user_id)
            self.is_admin = False
            return None
        return found[0]


async def call(fn: Callable[..., T], *args) -> T:
    """``fn(session, *args)`` in one transaction, in a thread (for event handlers)."""
    return await asyncio.to_thread(in_session, fn, *args)


def admin_nav() -> rx.Component:
    """Links between the admin pages."""
    return rx.hstack(
        rx.text("Admin", weight="bold", size="2"),
        *[rx.link(label, href=href, size="2", id=ident) for label, href, ident in ADMIN_LINKS],
        spacing="4",
        id="admin-nav",
    )


def not_found() -> rx.Component:
    """What anyone who is not an admin sees: "Not found" and nothing else."""
    return rx.center(rx.heading(NOT_FOUND, size="6", id="not-found"), padding_y="4em")


def admin_page(title: str, *content: rx.Component) -> rx.Component:
    """An admin page: the header, the admin nav, ``title`` and ``content`` for admins;
    "Not found" for everyone else once the server has answered."""
    page = rx.container(
        rx.vstack(
            header(),
            admin_nav(),
            rx.heading(title, size="5", id="admin-title"),
            *content,
            spacing="4",
            padding_y="1.5em",
            width="100%",
        ),
        size="4",
    )
    return rx.cond(
        AdminState.is_admin,
        page,
        rx.cond(AdminState.admin_checked, not_found(), rx.fragment()),
    )


def error_line(message: rx.Var, ident: str) -> rx.Component:
    """A red callout with ``message`` when it is not empty."""
    return rx.cond(message != "", rx.callout(message, color_scheme="red", id=ident, size="1"))


def rows_text(total: int, offset: int, shown: int) -> str:
    """ "rows a–b of n" for a pager ("no rows" when there are none)."""
    return f"rows {offset + 1}–{offset + shown} of {total}" if shown else "no rows"


def pager(state, text: rx.Var, offset: rx.Var, total: rx.Var, limit: int) -> rx.Component:
    """The rows shown (``text``, from :func:`rows_text`) with Previous/Next buttons
    calling ``state.page(offset)``."""
    return rx.hstack(
        rx.text(text, size="2"),
        rx.button(
            "Previous",
            size="1",
            variant="soft",
            disabled=offset <= 0,
            on_click=state.page(offset - limit),
        ),
        rx.button(
            "Next",
            size="1",
            variant="soft",
            disabled=offset + limit >= total,
            on_click=state.page(offset + limit),
        ),
        align="center",
        spacing="3",
    )
