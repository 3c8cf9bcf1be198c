"""``/api/v1/balance``: the caller's credits (more of the account: usage, keys)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from audiobook_app.api.deps import CallerDep
from audiobook_app.billing import ledger
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings

router = APIRouter(tags=["account"])


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
