"""What the billing page shows of an author's credits: balance, reserved credits, the
price, the ledger history, usage per book and the credit packs on sale."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from audiobook_app.billing import ledger
from audiobook_app.db.models import Book, Job, LedgerEntry
from audiobook_app.settings import Settings

HISTORY_ROWS = 100  # newest ledger rows shown
# Stripe's zero-decimal currencies: amounts are whole units, not hundredths
# (https://docs.stripe.com/currencies#zero-decimal)
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry as shown: ``date`` (UTC, minutes), ``reason`` (``grant``,
    ``purchase``, ``reservation``, ``charge``, ``release``, ``refund``), ``delta``
    signed ("+60", "-3"), the ``book`` title and ``job_id`` it concerns (or ""), ``note``."""

    date: str
    reason: str
    delta: str
    book: str
    job_id: str
    note: str


@dataclass(frozen=True)
class PackOffer:
    """A credit pack on sale: its id, credits and formatted price ("5.00 USD")."""

    id: str
    credits: int
    price: str


@dataclass(frozen=True)
class Statement:
    """The billing page's view: credits spendable (``balance``) and held by running jobs
    (``reserved``), ``credits_per_audio_minute``, the newest ledger ``rows``, ``usage``
    per book, the ``packs`` and whether they can be bought (``payments_enabled``)."""

    balance: int = 0
    reserved: int = 0
    credits_per_audio_minute: int = 0
    rows: list[LedgerRow] = field(default_factory=list)
    usage: list[ledger.BookUsage] = field(default_factory=list)
    packs: list[PackOffer] = field(default_factory=list)
    payments_enabled: bool = False


def format_price(amount: int, currency: str) -> str:
    """``amount`` in the currency's smallest unit as text: (500, "usd") -> "5.00 USD"."""
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount / 100:.2f} {currency.upper()}"


def _rows(session: Session, entries: list[LedgerEntry]) -> list[LedgerRow]:
    job_ids = {e.job_id for e in entries if e.job_id}
    titles: dict[str, str] = {}
    if job_ids:
        found = session.exec(
            select(Job.id, Book.title, Book.source_filename)
            .join(Book, col(Book.id) == col(Job.book_id))
            .where(col(Job.id).in_(job_ids))
        ).all()
        titles = {job_id: title or filename for job_id, title, filename in found}
    return [
        LedgerRow(
            date=e.created_at.strftime("%Y-%m-%d %H:%M"),
            reason=str(e.reason),
            delta=f"{e.delta:+d}",
            book=titles.get(e.job_id or "", ""),
            job_id=e.job_id or "",
            note=e.note or "",
        )
        for e in entries
    ]


def statement(session: Session, settings: Settings, user_id: int) -> Statement:
    """The billing page's view of ``user_id`` (the newest :data:`HISTORY_ROWS` entries)."""
    return Statement(
        balance=ledger.balance(session, user_id),
        reserved=ledger.reserved(session, user_id),
        credits_per_audio_minute=settings.credits_per_audio_minute,
        rows=_rows(session, ledger.entries(session, user_id, limit=HISTORY_ROWS)),
        usage=ledger.usage_by_book(session, user_id),
        packs=[
            PackOffer(p.id, p.credits, format_price(p.price_cents, settings.currency))
            for p in settings.credit_packs
        ],
        payments_enabled=settings.payments_enabled,
    )
