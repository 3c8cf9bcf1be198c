"""``/api/v1/balance``, ``/usage``, ``/ledger``: the caller's credits, what each book
cost, and every movement of credits (paged). Services:
:mod:`audiobook_app.billing.ledger`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import (
    AUTHED,
    MAX_ID,
    BookUsageOut,
    LedgerEntryOut,
    LedgerPage,
    next_offset,
)
from audiobook_app.billing import ledger
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings

router = APIRouter(tags=["account"], responses=AUTHED)


class Balance(BaseModel):
    """Spendable credits (reservations already subtracted) and credits held by running jobs."""

    balance: int
    reserved: int
    credits_per_audio_minute: int


def _balance(user_id: int) -> Balance:
    settings = get_settings()
    with session_scope(settings.database_url) as session:
        return Balance(
            balance=ledger.balance(session, user_id),
            reserved=ledger.reserved(session, user_id),
            credits_per_audio_minute=settings.credits_per_audio_minute,
        )


@router.get("/balance", response_model=Balance)
async def get_balance(caller: CallerDep) -> Balance:
    """The caller's credit balance."""
    return await run_in_threadpool(_balance, caller.user_id)


@router.get("/usage", response_model=list[BookUsageOut])
def get_usage(caller: CallerDep) -> list[BookUsageOut]:
    """Credits charged and minutes generated per book, most credits first."""
    with session_scope(get_settings().database_url) as session:
        usage = ledger.usage_by_book(session, caller.user_id)
    return [
        BookUsageOut(
            book_id=u.book_id, title=u.title, jobs=u.jobs, audio_min=u.audio_min, credits=u.credits
        )
        for u in usage
    ]


@router.get("/ledger", response_model=LedgerPage)
def get_ledger(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> LedgerPage:
    """The caller's ledger, newest first: every grant, purchase, reservation, charge,
    release and refund."""
    with session_scope(get_settings().database_url) as session:
        rows = ledger.entries(session, caller.user_id, limit=limit, offset=offset)
        items = [
            LedgerEntryOut(
                id=e.id,
                delta=e.delta,
                reason=str(e.reason),
                job_id=e.job_id,
                note=e.note,
                created_at=e.created_at,
            )
            for e in rows
        ]
    return LedgerPage(
        items=items, limit=limit, offset=offset, next_offset=next_offset(len(items), limit, offset)
    )
