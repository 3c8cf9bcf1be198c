"""``/api/v1/account``: the caller's own data (:mod:`audiobook_app.account_data`).

``GET /account/export``: everything of the caller's as one ZIP (account, books, jobs,
voices, ledger and usage, every stored file). ``DELETE /account?confirm_email=...``:
delete the account and everything of it; the caller's email confirms it (400 when it
does not match, 409 for the only admin). The API key used stops working at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from audiobook_app import account_data
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import errors
from audiobook_app.downloads import attachment
from audiobook_app.settings import get_settings
from audiobook_app.state.clients import redis_conn, storage

router = APIRouter(tags=["your data"])


class AccountDeleted(BaseModel):
    """What deleting the account removed: stored objects, and rows per table."""

    files_removed: int
    rows_removed: dict[str, int]


@router.get(
    "/account/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "the ZIP"}},
)
async def export_account(caller: CallerDep) -> StreamingResponse:
    """Everything of the caller's as one ZIP: account.json, books.json, jobs.json,
    voices.json, trials.json, files.json, ledger.csv, usage.csv and every stored file
    under files/."""
    handle, size = await run_in_threadpool(
        account_data.export_file, get_settings(), storage(), caller.user_id
    )
    return attachment(handle, size, account_data.export_filename())


def _delete(user_id: int, confirm_email: str) -> AccountDeleted:
    settings = get_settings()
    counts = account_data.delete_confirmed(
        redis_conn(), settings, storage(), user_id, confirm_email
    )
    files = counts.pop("stored_objects")
    return AccountDeleted(files_removed=files, rows_removed=counts)


@router.delete("/account", response_model=AccountDeleted, responses=errors(400, 409))
async def delete_account(
    caller: CallerDep,
    confirm_email: Annotated[
        str, Query(max_length=320, description="the account's email, to confirm")
    ],
) -> AccountDeleted:
    """Delete the caller's account: running jobs are cancelled, every stored file and
    every row of the account removed. Irreversible; export first."""
    return await run_in_threadpool(_delete, caller.user_id, confirm_email)
