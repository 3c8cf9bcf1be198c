"""``/api/v1/admin``: the admin pages' services over the API (admin role only).

Every route needs an API key of an enabled admin (``AdminDep``: 401 without a valid
key, 403 for an author), on the router and on each route; the services check the
acting admin again. Users (search, grant or remove credits, disable or enable, role),
jobs (list with filters, details, retry, cancel), queues (counts, workers, failed RQ
jobs: list, requeue, delete; recover abandoned tasks), usage per day, audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from fastapi import status as http
from fastapi.concurrency import run_in_threadpool

from audiobook_app.admin import audit, jobs, queues, usage, users
from audiobook_app.admin.access import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from audiobook_app.admin.schemas import (
    AdminAuditPage,
    AdminDayUsage,
    AdminFailedJob,
    AdminGrant,
    AdminGrantIn,
    AdminJob,
    AdminJobDetail,
    AdminJobPage,
    AdminQueue,
    AdminQueueAction,
    AdminRecover,
    AdminRetry,
    AdminRoleIn,
    AdminUsage,
    AdminUser,
    AdminUserPage,
    AdminWorker,
)
from audiobook_app.api.deps import AdminDep, admin_caller
from audiobook_app.api.schemas import AUTHED, MAX_ID, errors
from audiobook_app.billing import ledger
from audiobook_app.db.models import JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from audiobook_app.state.clients import redis_conn

T = TypeVar("T")
INT32_MAX = MAX_ID  # ids are PostgreSQL integers; out of range in the path: 404

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(admin_caller)],
    responses={**AUTHED, **errors(400, 403)},
)

UserId = Annotated[int, Path(ge=1, le=INT32_MAX, description="the account's id")]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$", description="the job's id (hex)")]
RqJobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="the RQ job's id")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX)]
Text = Annotated[str | None, Query(max_length=320)]
NOT_FOUND = errors(404)
CONFLICT = errors(409)


def _in_session(fn: Callable[..., T], *args, **kwargs) -> T:
    with session_scope(get_settings().database_url) as session:
        return fn(session, *args, **kwargs)


def _with_queue(fn: Callable[..., T], *args) -> T:
    return fn(redis_conn(), get_settings(), *args)


# --- users --------------------------------------------------------------------------


@router.get("/users", response_model=AdminUserPage)
async def search_users(
    admin: AdminDep, q: Text = None, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> AdminUserPage:
    """Accounts whose email contains ``q`` (every account without it), newest first."""
    found = await run_in_threadpool(_in_session, users.search_users, q, limit=limit, offset=offset)
    return AdminUserPage.model_validate(found)


def _grant(admin_id: int, user_id: int, body: AdminGrantIn) -> AdminGrant:
    with session_scope(get_settings().database_url) as session:
        entry = users.grant_credits(session, admin_id, user_id, body.credits, body.reason)
        out = AdminGrant.model_validate(
            {**entry.model_dump(), "balance": ledger.balance(session, user_id)}
        )
    return out


@router.post(
    "/users/{user_id}/credits",
    response_model=AdminGrant,
    status_code=http.HTTP_201_CREATED,
    responses=errors(402, 404),
)
async def grant_credits(admin: AdminDep, user_id: UserId, body: AdminGrantIn) -> AdminGrant:
    """Add or remove credits (a ``grant`` ledger entry naming the admin and the reason)."""
    return await run_in_threadpool(_grant, admin.user_id, user_id, body)


@router.post(
    "/users/{user_id}/disable", response_model=AdminUser, responses={**NOT_FOUND, **CONFLICT}
)
async def disable_user(admin: AdminDep, user_id: UserId) -> AdminUser:
    """Disable the account and end its sessions (not your own, not the last admin)."""
    found = await run_in_threadpool(_in_session, users.set_disabled, admin.user_id, user_id, True)
    return AdminUser.model_validate(found)


@router.post("/users/{user_id}/enable", response_model=AdminUser, responses=NOT_FOUND)
async def enable_user(admin: AdminDep, user_id: UserId) -> AdminUser:
    """Enable a disabled account."""
    found = await run_in_threadpool(_in_session, users.set_disabled, admin.user_id, user_id, False)
    return AdminUser.model_validate(found)


@router.put("/users/{user_id}/role", response_model=AdminUser, responses={**NOT_FOUND, **CONFLICT})
async def set_role(admin: AdminDep, user_id: UserId, body: AdminRoleIn) -> AdminUser:
    """Make the account an admin or an author (never demotes the last admin)."""
    found = await run_in_threadpool(_in_session, users.set_role, admin.user_id, user_id, body.role)
    return AdminUser.model_validate(found)


# --- jobs ---------------------------------------------------------------------------


@router.get("/jobs", response_model=AdminJobPage)
async def list_jobs(
    admin: AdminDep,
    status: JobStatus | None = None,
    email: Text = None,
    title: Text = None,
    since: date | None = None,
    until: date | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> AdminJobPage:
    """Every author's jobs, newest first; filters: status, owner email and book title
    (substrings), creation days ``since``..``until`` (UTC, inclusive)."""
    found = await run_in_threadpool(
        _in_session,
        jobs.list_jobs,
        status=status.value if status else None,
        email=email,
        title=title,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return AdminJobPage.model_validate(found)


@router.get("/jobs/{job_id}", response_model=AdminJobDetail, responses=NOT_FOUND)
async def get_job(admin: AdminDep, job_id: JobId) -> AdminJobDetail:
    """One job with its tasks, chapters, timings and ledger rows."""
    return AdminJobDetail.model_validate(
        await run_in_threadpool(_in_session, jobs.job_detail, job_id)
    )


@router.post(
    "/jobs/{job_id}/retry",
    response_model=AdminRetry,
    status_code=http.HTTP_202_ACCEPTED,
    responses=errors(402, 404, 409),
)
async def retry_job(admin: AdminDep, job_id: JobId) -> AdminRetry:
    """Run a failed or cancelled job again for its owner (a new job)."""
    new_id = await run_in_threadpool(_with_queue, jobs.retry_job, admin.user_id, job_id)
    return AdminRetry(job_id=new_id)


@router.post("/jobs/{job_id}/cancel", response_model=AdminJob, responses=NOT_FOUND)
async def cancel_job(admin: AdminDep, job_id: JobId) -> AdminJob:
    """Cancel a job (one that ended already is left as it is)."""
    found = await run_in_threadpool(_with_queue, jobs.cancel_job, admin.user_id, job_id)
    return AdminJob.model_validate(found)


# --- queues -------------------------------------------------------------------------


@router.get("/queues", response_model=list[AdminQueue])
async def queue_counts(admin: AdminDep) -> list[AdminQueue]:
    """Queued, started, failed and scheduled RQ jobs of the cpu, tts and gpu queues."""
    found = await run_in_threadpool(_with_queue, queues.queue_counts)
    return [AdminQueue.model_validate(q) for q in found]


@router.get("/workers", response_model=list[AdminWorker])
async def live_workers(admin: AdminDep) -> list[AdminWorker]:
    """Live workers of this studio's queues and what each runs now."""
    found = await run_in_threadpool(_with_queue, queues.live_workers)
    return [AdminWorker.model_validate(w) for w in found]


@router.get("/queues/failed", response_model=list[AdminFailedJob])
async def failed_jobs(
    admin: AdminDep, queue: Literal["cpu", "tts", "gpu"] | None = None
) -> list[AdminFailedJob]:
    """Failed RQ jobs (of one queue kind, or all), newest first."""
    found = await run_in_threadpool(_with_queue, queues.failed_jobs, queue)
    return [AdminFailedJob.model_validate(f) for f in found]


@router.post(
    "/queues/failed/{rq_job_id}/requeue", response_model=AdminQueueAction, responses=NOT_FOUND
)
async def requeue_failed(admin: AdminDep, rq_job_id: RqJobId) -> AdminQueueAction:
    """Put a failed RQ job back on its queue."""
    name = await run_in_threadpool(_with_queue, queues.requeue_failed, admin.user_id, rq_job_id)
    return AdminQueueAction(id=rq_job_id, queue=name)


@router.delete("/queues/failed/{rq_job_id}", response_model=AdminQueueAction, responses=NOT_FOUND)
async def delete_failed(admin: AdminDep, rq_job_id: RqJobId) -> AdminQueueAction:
    """Delete a failed RQ job."""
    name = await run_in_threadpool(_with_queue, queues.delete_failed, admin.user_id, rq_job_id)
    return AdminQueueAction(id=rq_job_id, queue=name)


@router.post("/queues/recover", response_model=AdminRecover)
async def recover(admin: AdminDep) -> AdminRecover:
    """Recover abandoned tasks now (one watchdog pass) and say which it touched."""
    touched = await run_in_threadpool(_with_queue, queues.recover_abandoned, admin.user_id)
    return AdminRecover(tasks=touched)


# --- usage and audit ----------------------------------------------------------------


@router.get("/usage", response_model=AdminUsage)
async def usage_per_day(
    admin: AdminDep, days: Annotated[int, Query(ge=1, le=usage.MAX_DAYS)] = 30
) -> AdminUsage:
    """The last ``days`` UTC days, oldest first: usage and revenue per day."""
    rows = await run_in_threadpool(_in_session, usage.usage_per_day, days)
    return AdminUsage(
        currency=get_settings().currency, days=[AdminDayUsage.model_validate(r) for r in rows]
    )


@router.get("/audit", response_model=AdminAuditPage)
async def audit_log(
    admin: AdminDep,
    actor: Text = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=100)] = None,
    since: date | None = None,
    until: date | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> AdminAuditPage:
    """Audit rows, newest first; filters: actor email (substring), action prefix
    (``credits.``), target (``user:12`` or a bare id or type), days ``since``..``until``."""
    found = await run_in_threadpool(
        _in_session,
        audit.audit_log,
        actor_email=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return AdminAuditPage.model_validate(found)
