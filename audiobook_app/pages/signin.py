"""Sign-in and sign-up pages: email + password forms over :class:`AuthState`."""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.routes import HEALTH_PATH
from audiobook_app.state.auth import OAUTH_CALLBACK_ROUTE, AuthState, first_run, providers


class ProvidersState(AuthState):
    """The "Sign in with ..." buttons (configured OpenID providers)."""

    providers: list[dict] = []

    @rx.event
    def load(self):
        """on_load of /signin."""
        self.providers = providers()


class SignUpState(AuthState):
    """Whether this is a fresh install (the first account becomes the admin)."""

    first_run: bool = False

    @rx.event
    async def load(self):
        """on_load of /signup."""
        self.first_run = await asyncio.to_thread(first_run)


def _form(
    title: str, action, button: str, other_href: str, other_label: str, note=None
) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading(PRODUCT_NAME, size="7", id="product-name"),
            rx.text("Manuscripts in, mastered chaptered audiobooks out."),
            rx.card(
                rx.form(
                    rx.vstack(
                        rx.heading(title, size="6"),
                        *([note] if note is not None else []),
                        rx.input(
                            name="email",
                            type="email",
                            placeholder="you@example.com",
                            required=True,
                            id="email",
                            width="100%",
                        ),
                        rx.input(
                            name="password",
                            type="password",
                            placeholder="Password (10+ characters)",
                            required=True,
                            id="password",
                            width="100%",
                        ),
                        rx.cond(
                            AuthState.auth_error != "",
                            rx.callout(AuthState.auth_error, color_scheme="red", id="auth-error"),
                        ),
                        rx.button(button, type="submit", id="submit", width="100%"),
                        rx.link(other_label, href=other_href),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=action,
                ),
                width="min(420px, 92vw)",
            ),
            # A document load, not client-side routing: /health is an API route, not a page.
            rx.link(
                "Platform health",
                href=HEALTH_PATH,
                reload_document=True,
                id="health-link",
                size="1",
            ),
            align="center",
            spacing="4",
        ),
        padding_y="3em",
    )


@rx.page(route="/signin", title=f"Sign in · {PRODUCT_NAME}", on_load=ProvidersState.load)
def signin() -> rx.Component:
    """Sign in with email and password, or with a configured OpenID provider."""
    extra = rx.vstack(
        rx.foreach(
            ProvidersState.providers,
            lambda p: rx.button(
                p["label"],
                type="button",
                variant="outline",
                width="100%",
                on_click=AuthState.sign_in_with(p["name"]),
            ),
        ),
        rx.link("Forgot your password?", href="/forgot", size="2"),
        width="100%",
    )
    return _form(
        "Sign in", AuthState.sign_in, "Sign in", "/signup", "No account yet? Sign up", extra
    )


@rx.page(
    route=f"{OAUTH_CALLBACK_ROUTE}/[provider]",
    title=f"Signing in · {PRODUCT_NAME}",
    on_load=AuthState.provider_callback,
)
def provider_callback() -> rx.Component:
    """Where a provider sends the browser back; on_load finishes the sign-in."""
    return rx.center(rx.text("Signing you in…"), padding_y="4em")


@rx.page(route="/signup", title=f"Sign up · {PRODUCT_NAME}", on_load=SignUpState.load)
def signup() -> rx.Component:
    """Create an account with email and password (on a fresh install: the admin account)."""
    note = rx.cond(
        SignUpState.first_run,
        rx.callout(
            "Welcome! This is a fresh install: the account you create now is the administrator.",
            id="first-run",
        ),
    )
    return _form(
        "Create your account",
        AuthState.sign_up,
        "Sign up",
        "/signin",
        "Have an account? Sign in",
        note,
    )
