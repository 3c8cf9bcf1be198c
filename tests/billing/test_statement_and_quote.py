"""What the billing page and the book page's quote show, from a real database: the
statement's rows (book titles of job rows, signed deltas, notes), packs with prices,
and the quote line for ticked chapters, speed and balance."""

from __future__ import annotations

from audiobook_app.billing import ledger
from audiobook_app.billing.statement import PackOffer, format_price, statement
from audiobook_app.db.models import Book, BookStatus, Job, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.pages.quote_controls import QuoteLine, quote_line
from audiobook_app.settings import Settings

CHAPTERS = [  # the book view's chapter dicts: 2,000 words ticked, 1,000 not
    {"index": 1, "title": "One", "words": 2000, "chosen": True},
    {"index": 2, "title": "Two", "words": 1000, "chosen": False},
]


def test_statement_shows_balance_history_usage_and_packs(settings: Settings, author: int) -> None:
    with session_scope(settings.database_url) as session:
        book = Book(
            owner_id=author,
            title="The Keeper",
            source_filename="keeper.txt",
            source_key="k",
            status=BookStatus.READY,
        )
        session.add(book)
        session.flush()
        job = Job(
            id="j" * 32, book_id=book.id, owner_id=author, status=JobStatus.COMPLETED, audio_s=150
        )
        session.add(job)
        session.flush()
        ledger.reserve(session, author, job.id, 4)
        assert ledger.settle(session, settings, job, 150.0) == 3

    with session_scope(settings.database_url) as session:
        view = statement(session, settings, author)

    assert (view.balance, view.reserved, view.credits_per_audio_minute) == (57, 0, 1)
    assert [(r.reason, r.delta, r.book, r.note) for r in view.rows] == [
        ("charge", "-3", "The Keeper", ""),
        ("release", "+4", "The Keeper", ""),
        ("reservation", "-4", "The Keeper", ""),
        ("grant", "+60", "", "free credits for a new account"),
    ]
    assert [(u.title, u.jobs, u.credits, u.audio_min) for u in view.usage] == [
        ("The Keeper", 1, 3, 2.5)
    ]
    assert view.packs[0] == PackOffer("hour-5", 60, "5.00 USD")
    assert view.payments_enabled


def test_prices_in_zero_decimal_currencies_are_whole_units() -> None:
    assert format_price(500, "usd") == "5.00 USD"
    assert format_price(500, "jpy") == "500 JPY"


def test_quote_line_follows_ticks_speed_and_balance() -> None:
    settings = Settings(_env_file=None)  # 1 credit per minute, 25 % margin
    normal = quote_line(settings, CHAPTERS, "1", 60)
    assert normal == QuoteLine(
        "About 10.6 min of audio · 11 credits (up to 14 reserved) · balance 60", False
    )
    assert quote_line(settings, CHAPTERS, "2", 60).text == (
        "About 5.3 min of audio · 6 credits (up to 8 reserved) · balance 60"
    )
    assert quote_line(settings, CHAPTERS, "1", 13).short  # 14 reserved > 13
    assert "balance" not in quote_line(settings, CHAPTERS, "1", None).text  # not read yet
    none = [{**c, "chosen": False} for c in CHAPTERS]
    assert quote_line(settings, none, "1", 60) == QuoteLine(
        "Tick at least one chapter to see what it costs"
    )
    free = settings.model_copy(update={"credits_per_audio_minute": 0})
    assert quote_line(free, CHAPTERS, "1", 0) == QuoteLine("About 10.6 min of audio · free")
