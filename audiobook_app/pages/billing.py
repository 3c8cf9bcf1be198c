"""The billing page (``/billing``): balance and reserved credits, the price per minute
of audio, the credit packs (Buy: off to Stripe Checkout, when payments are on), usage
per book and the ledger history.

The view comes from :func:`audiobook_app.billing.statement.statement`; Buy calls
:func:`audiobook_app.billing.stripe_checkout.create_checkout`, both in a thread. Coming
back from Checkout (``?checkout=success``) credits nothing: the page says the credits
appear once Stripe confirms the payment (the webhook credits them).
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.billing import stripe_checkout
from audiobook_app.billing.ledger import BookUsage
from audiobook_app.billing.statement import LedgerRow, PackOffer, Statement, statement
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import in_session, settings
from pipeline.errors import AudiobookError

log = logging.getLogger(__name__)
RETURN_NOTES = {
    "success": "Thank you! The credits appear here once Stripe confirms the payment "
    "(usually within a minute): reload the page to see them.",
    "cancelled": "Checkout cancelled: nothing was charged.",
}


class BillingState(AuthState):
    """The billing page's view, the note after a return from Checkout, the Buy error."""

    view: Statement = Statement()
    loaded: bool = False  # the view was read (until then the page shows a spinner)
    return_note: str = ""
    buy_error: str = ""
    buying: str = ""  # the pack whose Checkout is being created

    @rx.event
    async def load(self):
        """on_load: the statement; the note when Stripe sent the author back."""
        if not self.user_id:
            return
        checkout = self.router.url.query_parameters.get("checkout", "")
        self.return_note, self.buy_error, self.buying = RETURN_NOTES.get(checkout, ""), "", ""
        self.view = await asyncio.to_thread(in_session, statement, settings(), self.user_id)
        self.loaded = True

    @rx.event
    async def buy(self, pack_id: str):
        """Buy: create a Checkout Session for the pack and go to Stripe's page."""
        self.buy_error, self.buying = "", pack_id
        yield
        try:
            link = await asyncio.to_thread(
                stripe_checkout.create_checkout,
                settings(),
                self.user_id,
                pack_id,
                email=self.email,
            )
        except AudiobookError as exc:
            log.warning("checkout for user %s failed: %s", self.user_id, exc)
            self.buy_error, self.buying = str(exc), ""
            return
        yield rx.redirect(link.url)


def _stat(label: str, value: rx.Var, id_: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(value, size="6", id=id_),
            spacing="1",
        )
    )


def _summary() -> rx.Component:
    per_minute = BillingState.view.credits_per_audio_minute
    return rx.hstack(
        _stat("Balance (credits)", BillingState.view.balance, "balance"),
        _stat("Reserved by running jobs", BillingState.view.reserved, "reserved"),
        rx.card(
            rx.vstack(
                rx.text("Price", size="2", color_scheme="gray"),
                rx.text(
                    rx.match(
                        per_minute,
                        (0, "Generating audio is free"),
                        (1, "1 credit per minute of generated audio"),
                        per_minute.to_string() + " credits per minute of generated audio",
                    ),
                    id="price",
                ),
                rx.text(
                    "Start reserves the estimate plus a margin; completion charges the real "
                    "minutes and gives back the rest.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="1",
            ),
            max_width="24em",
        ),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _pack(p: PackOffer) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(p.credits.to_string() + " credits", size="4"),
            rx.text(p.price),
            rx.button(
                rx.cond(BillingState.buying == p.id, "Opening Stripe…", "Buy"),
                on_click=BillingState.buy(p.id),
                disabled=BillingState.buying != "",
                id=f"buy-{p.id}",
            ),
            align="center",
        )
    )


def _packs() -> rx.Component:
    return rx.vstack(
        rx.heading("Buy credits", size="4"),
        rx.cond(
            BillingState.view.payments_enabled,
            rx.hstack(rx.foreach(BillingState.view.packs, _pack), spacing="3", wrap="wrap"),
            rx.callout("Payments are off: ask an admin for credits", id="payments-off"),
        ),
        rx.cond(
            BillingState.buy_error != "",
            rx.callout(BillingState.buy_error, color_scheme="red", id="buy-error"),
        ),
        width="100%",
    )


def _table(head: tuple[str, ...], rows: rx.Var, row, id_: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
            rx.table.body(rx.foreach(rows, row)),
            id=id_,
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )


def _usage_row(u: BookUsage) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(u.title, href="/books/" + u.book_id.to_string())),
        rx.table.cell(u.jobs),
        rx.table.cell(u.audio_min.to_string() + " min"),
        rx.table.cell(u.credits),
        class_name="usage-row",
    )


def _ledger_row(r: LedgerRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.date),
        rx.table.cell(rx.badge(r.reason)),
        rx.table.cell(r.delta, class_name="ledger-delta"),
        rx.table.cell(
            rx.text(r.book),
            rx.cond(r.job_id != "", rx.text("job " + r.job_id, size="1", color_scheme="gray")),
        ),
        rx.table.cell(r.note),
        class_name="ledger-row",
    )


def _statement() -> rx.Component:
    return rx.vstack(
        _summary(),
        _packs(),
        rx.heading("Usage per book", size="4"),
        _table(("Book", "Jobs", "Audio", "Credits"), BillingState.view.usage, _usage_row, "usage"),
        rx.heading("History", size="4"),
        _table(
            ("Date (UTC)", "Reason", "Credits", "Book / job", "Note"),
            BillingState.view.rows,
            _ledger_row,
            "ledger",
        ),
        spacing="4",
        width="100%",
    )


@rx.page(
    route="/billing",
    title=f"Billing · {PRODUCT_NAME}",
    on_load=[AuthState.require_user, BillingState.load],
)
def billing() -> rx.Component:
    """The billing page (signed-in authors: their own credits)."""
    return rx.container(
        rx.vstack(
            header(),
            rx.heading("Billing", size="5"),
            rx.cond(
                BillingState.return_note != "",
                rx.callout(BillingState.return_note, id="checkout-note"),
            ),
            _summary(),
            _packs(),
            rx.heading("Usage per book", size="4"),
            _table(
                ("Book", "Jobs", "Audio", "Credits"), BillingState.view.usage, _usage_row, "usage"
            ),
            rx.heading("History", size="4"),
            _table(
                ("Date (UTC)", "Reason", "Credits", "Book / job", "Note"),
                BillingState.view.rows,
                _ledger_row,
                "ledger",
            ),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
