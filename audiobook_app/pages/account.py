"""The account page (``/account``): your data. "Download all my data" links the cookie
route ``GET /account/export.zip`` (:func:`audiobook_app.account_data.export_zip`);
"Delete my account" asks for the account's email as confirmation, deletes everything
(:func:`audiobook_app.account_data.delete_confirmed`, in a thread), then signs out."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from audiobook_app import PRODUCT_NAME, account_data
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState, remove_cookie_then
from audiobook_app.state.clients import redis_conn, settings, storage
from pipeline.errors import InputError

log = logging.getLogger(__name__)
EXPORT_ROUTE = "/account/export.zip"


class AccountState(AuthState):
    """The delete-account confirmation: what was typed, and why a deletion was refused."""

    delete_typed: str = ""
    delete_error: str = ""

    @rx.var
    def delete_confirmed(self) -> bool:
        """Whether the typed text is the account's email (the button's enabled state;
        the service checks it again)."""
        return bool(self.email) and self.delete_typed.strip().lower() == self.email.lower()

    @rx.event
    def set_delete_typed(self, text: str):
        """The confirmation box's text."""
        self.delete_typed = text

    @rx.event
    async def delete_account(self):
        """Delete the account and everything of it, then sign out to the sign-in page."""
        self.delete_error = ""
        user_id, typed = self.user_id, self.delete_typed
        try:
            await asyncio.to_thread(
                account_data.delete_confirmed, redis_conn(), settings(), storage(), user_id, typed
            )
        except InputError as exc:
            self.delete_error = str(exc)
            return None
        log.info("user %s deleted their account", user_id)
        self.session_token, self.user_id, self.email, self.is_admin = "", 0, "", False
        self.delete_typed = ""
        return remove_cookie_then(AuthState.to_sign_in)  # the dead cookie goes too


def _export_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Your data", size="4"),
        rx.text(
            "One ZIP with everything of yours: your account, books and their settings, "
            "manuscripts, every audiobook and chapter file, your voices and tries, and "
            "your credit ledger and usage.",
            size="2",
        ),
        rx.link(
            rx.button("Download all my data", variant="soft"),
            href=EXPORT_ROUTE,
            is_external=True,
            id="export-data",
        ),
        spacing="2",
        width="100%",
    )


def _delete_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Delete my account", size="4"),
        rx.text(
            "This deletes your account, every book, audiobook, voice and file, and your "
            "credits, at once and for good. Download your data first if you want to keep "
            "it. Type your email address to confirm:",
            size="2",
        ),
        rx.input(
            value=AccountState.delete_typed,
            on_change=AccountState.set_delete_typed,
            placeholder=AuthState.email,
            id="delete-confirm",
            width="100%",
        ),
        rx.cond(
            AccountState.delete_error != "",
            rx.callout(AccountState.delete_error, color_scheme="red", id="delete-error"),
        ),
        rx.button(
            "Delete my account",
            color_scheme="red",
            disabled=~AccountState.delete_confirmed,
            on_click=AccountState.delete_account,
            id="delete-account",
        ),
        spacing="2",
        width="100%",
    )


@rx.page(route="/account", title=f"Account · {PRODUCT_NAME}", on_load=AuthState.require_user)
def account() -> rx.Component:
    """The account page."""
    return rx.container(
        rx.vstack(
            header(),
            rx.heading("Account", size="6"),
            _export_section(),
            rx.divider(),
            _delete_section(),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
