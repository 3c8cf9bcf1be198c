"""The admin's jobs page (``/admin/jobs``): every author's jobs, filtered by status,
owner email, book title and days; a job's details (tasks, chapters, timings, ledger
rows); retry a failed or cancelled job for its owner, cancel a running one."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.admin import jobs
from audiobook_app.admin.access import DEFAULT_PAGE_SIZE, parse_day
from audiobook_app.admin.views import JobDetailView, JobView, job_detail_view, job_view
from audiobook_app.db.models import JobStatus
from audiobook_app.pages.admin.common import (
    AdminState,
    admin_page,
    call,
    error_line,
    pager,
    rows_text,
)
from audiobook_app.state.clients import redis_conn, settings
from pipeline.errors import AudiobookError

log = logging.getLogger(__name__)
LIMIT = DEFAULT_PAGE_SIZE
ANY_STATUS = "any"
STATUSES = [ANY_STATUS, *[s.value for s in JobStatus]]


class AdminJobsState(AdminState):
    """Filters, one page of jobs, the job whose details are open, the last message."""

    status: str = ANY_STATUS
    owner: str = ""
    title: str = ""
    since: str = ""
    until: str = ""
    rows: list[JobView] = []
    total: int = 0
    offset: int = 0
    shown: str = ""
    detail: list[JobDetailView] = []  # the open job's details (none or one)
    message: str = ""
    error: str = ""

    async def _refresh(self) -> None:
        self.error = ""
        try:
            query = partial(
                jobs.list_jobs,
                status=None if self.status == ANY_STATUS else self.status,
                email=self.owner,
                title=self.title,
                since=parse_day(self.since),
                until=parse_day(self.until),
                limit=LIMIT,
                offset=self.offset,
            )
            found = await call(query)
        except AudiobookError as exc:
            self.error, self.rows, self.total, self.shown = str(exc), [], 0, ""
            return
        self.rows = [job_view(j) for j in found.items]
        self.total = found.total
        self.shown = rows_text(found.total, found.offset, len(found.items))
        if self.detail:
            await self._open(self.detail[0].job.id)

    async def _open(self, job_id: str) -> None:
        try:
            self.detail = [job_detail_view(await call(jobs.job_detail, job_id))]
        except AudiobookError as exc:
            self.detail, self.error = [], str(exc)

    @rx.event
    async def load(self):
        """on_load: the newest jobs (admins only)."""
        if await self._admin_id() is None:
            self.rows, self.detail = [], []
            return
        self.offset, self.message = 0, ""
        await self._refresh()

    @rx.event
    async def filter(self, form: dict):
        """The filter form: {status, owner, title, since, until} (days YYYY-MM-DD)."""
        if await self._admin_id() is None:
            return
        self.status = str(form.get("status") or ANY_STATUS)
        self.owner, self.title = str(form.get("owner", "")), str(form.get("title", ""))
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

    @rx.event
    async def show(self, job_id: str):
        """Open a job's details."""
        if await self._admin_id() is None:
            return
        await self._open(str(job_id))

    @rx.event
    def hide(self):
        """Close the details."""
        self.detail = []

    async def _act(self, verb: str, action, job_id: str) -> None:
        if (admin_id := await self._admin_id()) is None:
            return
        self.message, self.error = "", ""
        try:
            result = await asyncio.to_thread(action, redis_conn(), settings(), admin_id, job_id)
        except AudiobookError as exc:
            log.info("admin %s of job %s refused: %s", verb, job_id, exc)
            self.error = str(exc)
        else:
            self.message = f"{verb} job {job_id[:8]}" + (
                f": new job {result[:8]}" if isinstance(result, str) else ""
            )
        await self._refresh()

    @rx.event
    async def retry(self, job_id: str):
        """Run a failed or cancelled job again for its owner."""
        await self._act("Retried", jobs.retry_job, str(job_id))

    @rx.event
    async def cancel(self, job_id: str):
        """Cancel a job."""
        await self._act("Cancelled", jobs.cancel_job, str(job_id))


def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.select(STATUSES, name="status", default_value=ANY_STATUS, id="job-filter-status"),
            rx.input(name="owner", placeholder="owner email contains…", id="job-filter-owner"),
            rx.input(name="title", placeholder="book title contains…", id="job-filter-title"),
            rx.input(name="since", type="date", id="job-filter-since"),
            rx.input(name="until", type="date", id="job-filter-until"),
            rx.button("Filter", type="submit", variant="soft", id="job-filter-submit"),
            wrap="wrap",
            spacing="2",
        ),
        on_submit=AdminJobsState.filter,
    )


def _row(job: JobView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(job.created),
        rx.table.cell(
            rx.button(
                job.short_id,
                size="1",
                variant="ghost",
                on_click=AdminJobsState.show(job.id),
                class_name="admin-job-open",
            )
        ),
        rx.table.cell(job.owner),
        rx.table.cell(job.book),
        rx.table.cell(job.status),
        rx.table.cell(job.progress),
        rx.table.cell(job.audio_min),
        rx.table.cell(job.error, max_width="24em"),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    job.retryable,
                    rx.button(
                        "Retry", size="1", variant="soft", on_click=AdminJobsState.retry(job.id)
                    ),
                ),
                rx.cond(
                    job.cancellable,
                    rx.button(
                        "Cancel",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=AdminJobsState.cancel(job.id),
                    ),
                ),
                spacing="2",
            )
        ),
        class_name="admin-job-row",
    )


def _lines(title: str, lines) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="2"),
        rx.foreach(
            lines,
            lambda line: rx.hstack(
                rx.text(line.label, weight="medium", size="1"), rx.text(line.text, size="1")
            ),
        ),
        spacing="1",
    )


def _detail(view: JobDetailView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(view.job.book, " — job ", view.job.id, size="3"),
                rx.spacer(),
                rx.button("Close", size="1", variant="soft", on_click=AdminJobsState.hide),
                width="100%",
            ),
            rx.text(
                view.job.owner,
                " · ",
                view.job.status,
                " (",
                view.job.stage,
                ") · chapters ",
                view.job.chapters,
                size="2",
            ),
            _lines("Facts", view.facts),
            _lines("Tasks", view.tasks),
            _lines("Chapters", view.chapters),
            _lines("Credits", view.ledger),
            spacing="3",
        ),
        width="100%",
        id="admin-job-detail",
    )


def _table() -> rx.Component:
    headers = ("Created", "Job", "Owner", "Book", "Status", "Progress", "Minutes", "Error", "")
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminJobsState.rows, _row)),
        width="100%",
        id="admin-jobs",
    )


@rx.page(
    route="/admin/jobs",
    title=f"Jobs · Admin · {PRODUCT_NAME}",
    on_load=[AdminState.require_admin, AdminJobsState.load],
)
def jobs_page() -> rx.Component:
    """Filters, the open job's details, the jobs table."""
    return admin_page(
        "Jobs",
        _filters(),
        error_line(AdminJobsState.error, "admin-jobs-error"),
        rx.cond(
            AdminJobsState.message != "",
            rx.text(AdminJobsState.message, id="admin-jobs-message", size="2"),
        ),
        rx.foreach(AdminJobsState.detail, _detail),
        _table(),
        pager(
            AdminJobsState, AdminJobsState.shown, AdminJobsState.offset, AdminJobsState.total, LIMIT
        ),
    )
