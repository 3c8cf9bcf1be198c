"""The admin's queue page (``/admin/queue``): queued, started, failed and scheduled RQ
jobs per queue (cpu, tts, gpu), live workers and what each runs, failed RQ jobs to
requeue or delete, and abandoned-task recovery (one watchdog pass now)."""

from __future__ import annotations

import asyncio
import logging

import redis
import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.admin import queues
from audiobook_app.admin.views import (
    FailedView,
    QueueView,
    WorkerView,
    failed_view,
    queue_view,
    worker_view,
)
from audiobook_app.pages.admin.common import AdminState, admin_page, error_line
from audiobook_app.settings import Settings
from audiobook_app.state.clients import redis_conn, settings
from pipeline.errors import AudiobookError

log = logging.getLogger(__name__)


def snapshot(conn: redis.Redis, config: Settings) -> tuple[list, list, list]:
    """(queue rows, worker rows, failed-job rows) now (blocking)."""
    return (
        [queue_view(q) for q in queues.queue_counts(conn, config)],
        [worker_view(w) for w in queues.live_workers(conn, config)],
        [failed_view(f) for f in queues.failed_jobs(conn, config)],
    )


class AdminQueueState(AdminState):
    """Counts, workers, failed RQ jobs, the last action's result or error."""

    counts: list[QueueView] = []
    workers: list[WorkerView] = []
    failed: list[FailedView] = []
    message: str = ""
    error: str = ""

    async def _refresh(self) -> None:
        try:
            self.counts, self.workers, self.failed = await asyncio.to_thread(
                snapshot, redis_conn(), settings()
            )
        except (AudiobookError, redis.RedisError) as exc:
            log.warning("admin queue page: %s", exc)
            self.error = f"the queue is unreachable: {exc}"

    @rx.event
    async def load(self):
        """on_load: counts, workers and failed jobs (admins only)."""
        if await self._admin_id() is None:
            self.counts, self.workers, self.failed = [], [], []
            return
        self.message, self.error = "", ""
        await self._refresh()

    @rx.event
    async def refresh(self):
        """The Refresh button."""
        if await self._admin_id() is None:
            return
        self.error = ""
        await self._refresh()

    async def _act(self, describe, action, *args) -> None:
        if (admin_id := await self._admin_id()) is None:
            return
        self.message, self.error = "", ""
        try:
            result = await asyncio.to_thread(action, redis_conn(), settings(), admin_id, *args)
        except (AudiobookError, redis.RedisError) as exc:
            log.info("admin queue action refused: %s", exc)
            self.error = str(exc)
        else:
            self.message = describe(result)
        await self._refresh()

    @rx.event
    async def requeue(self, rq_job_id: str):
        """Put a failed RQ job back on its queue."""
        await self._act(
            lambda name: f"requeued {rq_job_id} on {name}", queues.requeue_failed, str(rq_job_id)
        )

    @rx.event
    async def delete(self, rq_job_id: str):
        """Delete a failed RQ job."""
        await self._act(
            lambda name: f"deleted {rq_job_id} from {name}", queues.delete_failed, str(rq_job_id)
        )

    @rx.event
    async def recover(self):
        """Recover abandoned tasks now and say which were touched."""
        await self._act(
            lambda touched: (
                f"recovered {len(touched)} task(s): {', '.join(touched)}"
                if touched
                else "no abandoned tasks: nothing to recover"
            ),
            queues.recover_abandoned,
        )


def _table(headers: tuple[str, ...], rows, row, ident: str) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, row)),
        width="100%",
        id=ident,
    )


def _count_row(q: QueueView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(q.kind),
        rx.table.cell(q.name),
        rx.table.cell(q.queued),
        rx.table.cell(q.started),
        rx.table.cell(q.failed),
        rx.table.cell(q.scheduled),
        class_name="admin-queue-row",
    )


def _worker_row(w: WorkerView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(w.name),
        rx.table.cell(w.queues),
        rx.table.cell(w.state),
        rx.table.cell(w.current),
        rx.table.cell(w.host),
        rx.table.cell(w.heartbeat),
        class_name="admin-worker-row",
    )


def _failed_row(f: FailedView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(f.ended),
        rx.table.cell(f.kind),
        rx.table.cell(f.description),
        rx.table.cell(f.error, max_width="28em"),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Requeue", size="1", variant="soft", on_click=AdminQueueState.requeue(f.id)
                ),
                rx.button(
                    "Delete",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=AdminQueueState.delete(f.id),
                ),
                spacing="2",
            )
        ),
        class_name="admin-failed-row",
    )


@rx.page(
    route="/admin/queue",
    title=f"Queue · Admin · {PRODUCT_NAME}",
    on_load=[AdminState.require_admin, AdminQueueState.load],
)
def queue_page() -> rx.Component:
    """Counts, workers, failed jobs, recovery."""
    return admin_page(
        "Queue and workers",
        rx.hstack(
            rx.button("Refresh", variant="soft", on_click=AdminQueueState.refresh, id="refresh"),
            rx.button(
                "Recover abandoned tasks", on_click=AdminQueueState.recover, id="recover-tasks"
            ),
            spacing="3",
        ),
        rx.cond(
            AdminQueueState.message != "",
            rx.text(AdminQueueState.message, id="admin-queue-message", size="2"),
        ),
        error_line(AdminQueueState.error, "admin-queue-error"),
        _table(
            ("Queue", "Name", "Queued", "Started", "Failed", "Scheduled"),
            AdminQueueState.counts,
            _count_row,
            "admin-queues",
        ),
        rx.heading("Workers", size="3"),
        _table(
            ("Worker", "Queues", "State", "Running", "Host", "Last heartbeat"),
            AdminQueueState.workers,
            _worker_row,
            "admin-workers",
        ),
        rx.heading("Failed RQ jobs", size="3"),
        _table(
            ("Ended", "Queue", "Job", "Error", ""),
            AdminQueueState.failed,
            _failed_row,
            "admin-failed",
        ),
    )
