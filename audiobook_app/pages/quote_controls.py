"""The book page's quote before Start: "About 12.5 min of audio · 13 credits (up to 17
reserved) · balance 60", recomputed as chapters are ticked or the speed changes
(:func:`audiobook_app.billing.pricing.quote` on the page's chapters, whose word counts
the book view carries), and a link to the billing page when the balance is short.
A Start refused for credits shows the ledger's message with the same link
(:func:`start_error`).

The balance is read when the quote mounts; the quote mounts again whenever the page's
job or its status changes (its React ``key``), so the balance shown follows the
reservation at Start and the charge at completion.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from audiobook_app.billing import ledger, pricing
from audiobook_app.db.models import Book
from audiobook_app.pages.book import BookState
from audiobook_app.settings import Settings
from audiobook_app.state.clients import in_session, settings

BILLING_ROUTE = "/billing"


@dataclass(frozen=True)
class QuoteLine:
    """The quote as shown: ``text``, and ``short`` when the reservation exceeds the balance."""

    text: str = ""
    short: bool = False


def quote_line(
    settings: Settings, chapters: list[dict], speed: str, balance: int | None
) -> QuoteLine:
    """The quote for the ticked ``chapters`` (the book view's dicts: index, words,
    chosen) at ``speed`` (the page's select, "1" = the voice's pace) against ``balance``
    (None: not read yet)."""
    chosen = [c["index"] for c in chapters if c.get("chosen")]
    if not chosen:
        return QuoteLine("Tick at least one chapter to see what it costs")
    q = pricing.quote(settings, Book(chapters=chapters), chosen, float(speed or 1))
    minutes = f"About {q.audio_s / 60:.1f} min of audio"
    if settings.credits_per_audio_minute == 0:
        return QuoteLine(f"{minutes} · free")
    parts = [minutes, f"{_credits(q.credits)} (up to {q.reserve} reserved)"]
    if balance is not None:
        parts.append(f"balance {balance}")
    return QuoteLine(" · ".join(parts), balance is not None and q.reserve > balance)


def _credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"


class QuoteState(BookState):
    """The author's balance (read when the quote mounts) and the quote computed from
    :class:`BookState`'s ``chapters`` and ``speed``."""

    balance: int = -1  # -1: not read yet

    @rx.event
    async def load_balance(self):
        """Read the author's spendable credits (the quote mounted)."""
        if not self.user_id:
            return
        self.balance = await asyncio.to_thread(in_session, ledger.balance, self.user_id)

    @rx.var
    def quote(self) -> QuoteLine:
        """The quote line for the ticked chapters at the chosen speed."""
        balance = self.balance if self.balance >= 0 else None
        return quote_line(settings(), self.chapters, self.speed, balance)


def _to_billing(text: str, id_: str) -> rx.Component:
    return rx.link(text, href=BILLING_ROUTE, id=id_)


def quote_panel() -> rx.Component:
    """``#quote``, the quote line, with a link to buy credits when the balance is short."""
    return rx.hstack(
        rx.text(QuoteState.quote.text, id="quote", size="2"),
        rx.cond(
            QuoteState.quote.short,
            _to_billing("Not enough credits: get more", "quote-billing-link"),
        ),
        on_mount=QuoteState.load_balance,
        key=BookState.job_id + BookState.job_status,
        align="center",
        spacing="3",
        wrap="wrap",
    )


def start_error() -> rx.Component:
    """Start's error (``#start-error``), with a link to the billing page when Start was
    refused for credits."""
    return rx.cond(
        BookState.action_error != "",
        rx.vstack(
            rx.callout(BookState.action_error, color_scheme="red", id="start-error"),
            rx.cond(
                BookState.credits_short,
                _to_billing("Buy credits on the billing page", "start-billing-link"),
            ),
            width="100%",
        ),
    )
