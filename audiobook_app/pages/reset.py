"""Password reset: ask for a link by email (/forgot), then set a new password with the
link's token (/reset?token=...). The request page answers the same whether or not the
email has an account, so it cannot be used to find accounts."""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app.accounts import reset
from audiobook_app.accounts.mailer import build_mailer
from audiobook_app.db.session import session_scope
from audiobook_app.state.clients import settings
from pipeline.errors import AudiobookError, InputError

SENT_NOTICE = "If that email has an account, a reset link is on its way (valid for one hour)."


def send_link(email: str) -> None:
    """Email a reset link when ``email`` has an account (blocking)."""
    with session_scope(settings().database_url) as session:
        reset.request_password_reset(session, settings(), build_mailer(settings()), email)


def set_password(token: str, password: str) -> None:
    """Use a reset token (blocking). Raises InvalidResetTokenError, WeakPasswordError."""
    with session_scope(settings().database_url) as session:
        reset.reset_password(session, settings(), token, password)


class ResetState(rx.State):
    """The reset pages' notices."""

    notice: str = ""
    error: str = ""

    @rx.event
    async def request_link(self, form: dict):
        """/forgot submit: {email}."""
        self.error = ""
        try:
            await asyncio.to_thread(send_link, str(form.get("email", "")))
        except AudiobookError as exc:
            self.error = str(exc)
            return
        self.notice = SENT_NOTICE

    @rx.event
    async def choose_password(self, form: dict):
        """/reset submit: {password}; the token comes from the link's query string."""
        self.error = ""
        token = self.router.url.query_parameters.get("token", "")
        try:
            await asyncio.to_thread(set_password, token, str(form.get("password", "")))
        except InputError as exc:
            self.error = str(exc)
            return None
        return rx.redirect("/signin")


def _card(title: str, fields: list, button: str, action) -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading(title, size="6"),
                    *fields,
                    rx.cond(
                        ResetState.error != "",
                        rx.callout(ResetState.error, color_scheme="red", id="reset-error"),
                    ),
                    rx.cond(
                        ResetState.notice != "", rx.callout(ResetState.notice, id="reset-notice")
                    ),
                    rx.button(button, type="submit", id="submit", width="100%"),
                    rx.link("Back to sign in", href="/signin"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=action,
            ),
            width="min(420px, 92vw)",
        ),
        padding_y="4em",
    )


@rx.page(route="/forgot", title="Reset your password")
def forgot() -> rx.Component:
    """Ask for a reset link."""
    return _card(
        "Reset your password",
        [
            rx.input(
                name="email",
                type="email",
                placeholder="you@example.com",
                required=True,
                id="email",
                width="100%",
            )
        ],
        "Email me a link",
        ResetState.request_link,
    )


@rx.page(route=reset.RESET_PAGE_PATH, title="Choose a new password")
def reset_page() -> rx.Component:
    """Set a new password with the emailed link."""
    return _card(
        "Choose a new password",
        [
            rx.input(
                name="password",
                type="password",
                required=True,
                placeholder="New password (10+ characters)",
                id="password",
                width="100%",
            )
        ],
        "Set password",
        ResetState.choose_password,
    )
