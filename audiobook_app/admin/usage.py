"""Usage and revenue per day, for the admin's charts.

Per UTC day: minutes of audio generated (the ``audio_generated`` usage events the
assemble task records, in seconds), credits charged for jobs (``charge`` ledger
entries), credits sold (``purchase`` entries), revenue (the sum of the purchases'
``detail["amount_cents"]``, in ``settings.currency``'s smallest unit, as the Stripe
webhook records it) and credits taken back by refunds (``refund`` entries). Rows are
aggregated in Python: the JSON detail reads differently on SQLite and PostgreSQL, and
a day range of rows is small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from audiobook_app.admin.access import day_range
from audiobook_app.db.models import LedgerEntry, LedgerReason, UsageEvent, utcnow
from pipeline.errors import InputError

AUDIO_GENERATED = "audio_generated"
MAX_DAYS = 366


@dataclass(frozen=True)
class DayUsage:
    """One UTC day (``day``: "YYYY-MM-DD"): minutes generated, credits charged, credits
    sold and their revenue in cents, purchases made, credits refunded."""

    day: str
    minutes_generated: float
    credits_charged: int
    credits_sold: int
    revenue_cents: int
    purchases: int
    credits_refunded: int


def _cents(detail: dict | None) -> int:
    try:
        return int((detail or {}).get("amount_cents") or 0)
    except (TypeError, ValueError):
        return 0


def usage_per_day(session: Session, days: int = 30, *, today: date | None = None) -> list[DayUsage]:
    """The last ``days`` UTC days up to ``today`` (default: the current UTC day), oldest
    first, one row per day (zeros on quiet days). Raises InputError unless 1 <= days
    <= :data:`MAX_DAYS`."""
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"choose between 1 and {MAX_DAYS} days")
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    start, end = day_range(first, last)
    seconds: dict[date, float] = {}
    for created, quantity in session.exec(
        select(UsageEvent.created_at, UsageEvent.quantity).where(
            UsageEvent.kind == AUDIO_GENERATED,
            col(UsageEvent.created_at) >= start,
            col(UsageEvent.created_at) < end,
        )
    ).all():
        seconds[created.date()] = seconds.get(created.date(), 0.0) + float(quantity)
    money = {LedgerReason.CHARGE, LedgerReason.PURCHASE, LedgerReason.REFUND}
    ledger_rows = session.exec(
        select(LedgerEntry).where(
            col(LedgerEntry.reason).in_(money),
            col(LedgerEntry.created_at) >= start,
            col(LedgerEntry.created_at) < end,
        )
    ).all()
    per_day: dict[date, list[LedgerEntry]] = {}
    for entry in ledger_rows:
        per_day.setdefault(entry.created_at.date(), []).append(entry)
    return [_day(first + timedelta(days=i), seconds, per_day) for i in range(days)]


def _day(day: date, seconds: dict[date, float], per_day: dict[date, list[LedgerEntry]]):
    entries = per_day.get(day, [])
    bought = [e for e in entries if e.reason == LedgerReason.PURCHASE]
    return DayUsage(
        day=day.isoformat(),
        minutes_generated=round(seconds.get(day, 0.0) / 60.0, 1),
        credits_charged=-sum(e.delta for e in entries if e.reason == LedgerReason.CHARGE),
        credits_sold=sum(e.delta for e in bought),
        revenue_cents=sum(_cents(e.detail) for e in bought),
        purchases=len(bought),
        credits_refunded=-sum(e.delta for e in entries if e.reason == LedgerReason.REFUND),
    )


def totals(rows: list[DayUsage]) -> DayUsage:
    """The sum of ``rows`` as one row (``day``: "first..last", "" for no rows)."""
    return DayUsage(
        day=f"{rows[0].day}..{rows[-1].day}" if rows else "",
        minutes_generated=round(sum(r.minutes_generated for r in rows), 1),
        credits_charged=sum(r.credits_charged for r in rows),
        credits_sold=sum(r.credits_sold for r in rows),
        revenue_cents=sum(r.revenue_cents for r in rows),
        purchases=sum(r.purchases for r in rows),
        credits_refunded=sum(r.credits_refunded for r in rows),
    )
