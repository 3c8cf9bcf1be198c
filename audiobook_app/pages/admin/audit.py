"""The admin's audit log page (``/admin/audit``): every admin action and credit
movement (and sign-ups, sign-ins, job starts...), filtered by actor email, action
prefix (``credits.``, ``admin.``), target (``user:12``) and days, newest first."""

from __future__ import annotations

from functools import partial

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.admin import audit
from audiobook_app.admin.access import DEFAULT_PAGE_SIZE, parse_day
from audiobook_app.admin.views import AuditView, audit_view
from audiobook_app.pages.admin.common import (
    AdminState,
    admin_page,
    call,
    error_line,
    pager,
    rows_text,
)
from pipeline.errors import AudiobookError

LIMIT = DEFAULT_PAGE_SIZE


class AdminAuditState(AdminState):
    """Filters, one page of audit rows, the last error."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: str = ""
    until: str = ""
    rows: list[AuditView] = []
    total: int = 0
    offset: int = 0
    shown: str = ""
    error: str = ""

    async def _refresh(self) -> None:
        self.error = ""
        try:
            query = partial(
                audit.audit_log,
                actor_email=self.actor,
                action=self.action,
                target=self.target,
                since=parse_day(self.since),
                until=parse_day(self.until),
                limit=LIMIT,
                offset=self.offset,
            )
            found = await call(query)
        except AudiobookError as exc:
            self.error, self.rows, self.total, self.shown = str(exc), [], 0, ""
            return
        self.rows = [audit_view(r) for r in found.items]
        self.total = found.total
        self.shown = rows_text(found.total, found.offset, len(found.items))

    @rx.event
    async def load(self):
        """on_load: the newest rows (admins only)."""
        if await self._admin_id() is None:
            self.rows = []
            return
        self.offset = 0
        await self._refresh()

    @rx.event
    async def filter(self, form: dict):
        """The filter form: {actor, action, target, since, until}."""
        if await self._admin_id() is None:
            return
        self.actor, self.action = str(form.get("actor", "")), str(form.get("action", ""))
        self.target = str(form.get("target", ""))
        self.since, self.until = str(form.get("since", "")), str(form.get("until", ""))
        self.offset = 0
        await self._refresh()

    @rx.event
    async def page(self, offset: int):
        """Previous/Next."""
        if await self._admin_id() is None:
            return
        self.offset = max(0, int(offset))
        await self._refresh()


def _row(row: AuditView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.when),
        rx.table.cell(row.actor),
        rx.table.cell(row.action),
        rx.table.cell(row.target),
        rx.table.cell(row.detail, max_width="32em"),
        class_name="admin-audit-row",
    )


@rx.page(
    route="/admin/audit",
    title=f"Audit log · Admin · {PRODUCT_NAME}",
    on_load=[AdminState.require_admin, AdminAuditState.load],
)
def audit_page() -> rx.Component:
    """Filters and the audit table."""
    headers = ("When (UTC)", "Actor", "Action", "Target", "Detail")
    return admin_page(
        "Audit log",
        rx.form(
            rx.hstack(
                rx.input(name="actor", placeholder="actor email contains…", id="audit-actor"),
                rx.input(
                    name="action", placeholder="action starts with… (credits.)", id="audit-action"
                ),
                rx.input(name="target", placeholder="target (user:12)", id="audit-target"),
                rx.input(name="since", type="date", id="audit-since"),
                rx.input(name="until", type="date", id="audit-until"),
                rx.button("Filter", type="submit", variant="soft", id="audit-submit"),
                wrap="wrap",
                spacing="2",
            ),
            on_submit=AdminAuditState.filter,
        ),
        error_line(AdminAuditState.error, "admin-audit-error"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(AdminAuditState.rows, _row)),
            width="100%",
            id="admin-audit",
        ),
        pager(
            AdminAuditState,
            AdminAuditState.shown,
            AdminAuditState.offset,
            AdminAuditState.total,
            LIMIT,
        ),
    )
