"""The admin's users page (``/admin`` and ``/admin/users``): search accounts by email,
see each one's balance, reserved credits, minutes and books; grant or remove credits
(the grant form: ``#grant-email``, ``#grant-credits``, ``#grant-note``,
``#grant-submit``, result ``#grant-result``), disable or enable, make admin or author."""

from __future__ import annotations

import logging

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.admin import users
from audiobook_app.admin.access import DEFAULT_PAGE_SIZE
from audiobook_app.admin.views import UserView, user_view
from audiobook_app.billing import ledger
from audiobook_app.pages.admin.common import (
    AdminState,
    admin_page,
    call,
    error_line,
    pager,
    rows_text,
)
from pipeline.errors import AudiobookError, InputError

log = logging.getLogger(__name__)
LIMIT = DEFAULT_PAGE_SIZE


def _grant(session, admin_id: int, email: str, credits: int, note: str) -> str:
    user, entry = users.grant_credits_by_email(session, admin_id, email, credits, note)
    if entry.delta > 0:
        verb = f"Granted {entry.delta} credits to"
    else:
        verb = f"Removed {-entry.delta} credits from"
    return f"{verb} {user.email}: the balance is {ledger.balance(session, user.id)}"


def _credits(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise InputError("credits: a whole number (negative removes credits)") from None


class AdminUsersState(AdminState):
    """The search box, one page of accounts, the grant form's result, the last error."""

    query: str = ""
    rows: list[UserView] = []
    total: int = 0
    offset: int = 0
    shown: str = ""
    grant_result: str = ""
    grant_failed: bool = False
    error: str = ""

    async def _refresh(self) -> None:
        query, offset = self.query, self.offset
        found = await call(lambda s: users.search_users(s, query, limit=LIMIT, offset=offset))
        self.rows = [user_view(u) for u in found.items]
        self.total = found.total
        self.shown = rows_text(found.total, found.offset, len(found.items))

    @rx.event
    async def load(self):
        """on_load: the first page of accounts (admins only)."""
        if await self._admin_id() is None:
            self.rows = []
            return
        self.offset, self.error = 0, ""
        await self._refresh()

    @rx.event
    async def search(self, form: dict):
        """The search form: {q}."""
        if await self._admin_id() is None:
            return
        self.query, self.offset = str(form.get("q", "")).strip(), 0
        await self._refresh()

    @rx.event
    async def page(self, offset: int):
        """Previous/Next."""
        if await self._admin_id() is None:
            return
        self.offset = max(0, int(offset))
        await self._refresh()

    @rx.event
    async def grant(self, form: dict):
        """The grant form: {email, credits, note}; negative credits remove."""
        if (admin_id := await self._admin_id()) is None:
            return
        email, note = str(form.get("email", "")), str(form.get("note", ""))
        try:
            credits = _credits(form.get("credits", ""))
            self.grant_result = await call(_grant, admin_id, email, credits, note)
            self.grant_failed = False
        except InputError as exc:
            self.grant_result, self.grant_failed = str(exc), True
        await self._refresh()

    async def _act(self, action) -> None:
        if (admin_id := await self._admin_id()) is None:
            return
        self.error = ""
        try:
            await call(action, admin_id)
        except AudiobookError as exc:
            log.info("admin action refused: %s", exc)
            self.error = str(exc)
        await self._refresh()

    @rx.event
    async def set_disabled(self, user_id: int, disabled: bool):
        """Disable (ends the account's sessions) or enable an account."""
        await self._act(lambda s, a: users.set_disabled(s, a, int(user_id), bool(disabled)))

    @rx.event
    async def set_role(self, user_id: int, role: str):
        """Make an account an admin or an author."""
        await self._act(lambda s, a: users.set_role(s, a, int(user_id), str(role)))


def _grant_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Grant or remove credits", size="3"),
                rx.hstack(
                    rx.input(
                        name="email",
                        type="email",
                        placeholder="account email",
                        required=True,
                        id="grant-email",
                    ),
                    rx.input(
                        name="credits",
                        type="number",
                        step=1,
                        placeholder="credits (negative removes)",
                        required=True,
                        id="grant-credits",
                    ),
                    rx.input(
                        name="note",
                        placeholder="reason (kept in the ledger)",
                        required=True,
                        id="grant-note",
                        width="20em",
                    ),
                    rx.button("Apply", type="submit", id="grant-submit"),
                    wrap="wrap",
                    spacing="2",
                ),
                rx.cond(
                    AdminUsersState.grant_result != "",
                    rx.text(
                        AdminUsersState.grant_result,
                        id="grant-result",
                        color_scheme=rx.cond(AdminUsersState.grant_failed, "red", "green"),
                        size="2",
                    ),
                ),
                spacing="2",
            ),
            on_submit=AdminUsersState.grant,
        ),
        width="100%",
    )


def _row(user: UserView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(user.email, class_name="admin-user-email"),
        rx.table.cell(user.role),
        rx.table.cell(rx.cond(user.disabled, "disabled", "active")),
        rx.table.cell(user.balance, class_name="admin-user-balance"),
        rx.table.cell(user.reserved),
        rx.table.cell(user.minutes),
        rx.table.cell(user.books),
        rx.table.cell(user.created),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.cond(user.disabled, "Enable", "Disable"),
                    size="1",
                    variant="soft",
                    color_scheme=rx.cond(user.disabled, "green", "red"),
                    on_click=AdminUsersState.set_disabled(user.id, ~user.disabled),
                ),
                rx.button(
                    rx.cond(user.role == "admin", "Make author", "Make admin"),
                    size="1",
                    variant="soft",
                    on_click=AdminUsersState.set_role(
                        user.id, rx.cond(user.role == "admin", "author", "admin")
                    ),
                ),
                spacing="2",
            )
        ),
        class_name="admin-user-row",
    )


def _table() -> rx.Component:
    headers = ("Email", "Role", "Status", "Balance", "Reserved", "Minutes", "Books", "Created", "")
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminUsersState.rows, _row)),
        width="100%",
        id="admin-users",
    )


def users_page() -> rx.Component:
    """Search, grant form, accounts table."""
    return admin_page(
        "Users",
        _grant_form(),
        rx.form(
            rx.hstack(
                rx.input(name="q", placeholder="email contains…", id="user-search"),
                rx.button("Search", type="submit", variant="soft", id="user-search-submit"),
            ),
            on_submit=AdminUsersState.search,
        ),
        error_line(AdminUsersState.error, "admin-users-error"),
        _table(),
        pager(
            AdminUsersState,
            AdminUsersState.shown,
            AdminUsersState.offset,
            AdminUsersState.total,
            LIMIT,
        ),
    )


ON_LOAD = [AdminState.require_admin, AdminUsersState.load]
rx.page(route="/admin", title=f"Admin · {PRODUCT_NAME}", on_load=ON_LOAD)(users_page)
rx.page(route="/admin/users", title=f"Users · Admin · {PRODUCT_NAME}", on_load=ON_LOAD)(users_page)
