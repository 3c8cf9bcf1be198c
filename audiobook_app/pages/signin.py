"""Sign-in and sign-up pages: email + password forms over :class:`AuthState`."""

from __future__ import annotations

import reflex as rx

from audiobook_app.state.auth import AuthState

PRODUCT_NAME = "AudiobookPipeline"


def _form(title: str, action, button: str, other_href: str, other_label: str) -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading(title, size="6"),
                    rx.input(name="email", type="email", placeholder="you@example.com", required=True, id="email",
                             width="100%"),
                    rx.input(name="password", type="password", placeholder="Password (10+ characters)",
                             required=True, id="password", width="100%"),
                    rx.cond(AuthState.auth_error != "", rx.callout(AuthState.auth_error, color_scheme="red",
                                                                   id="auth-error")),
                    rx.button(button, type="submit", id="submit", width="100%"),
                    rx.link(other_label, href=other_href),
                    spacing="3",
                    width="100%",
                ),
                on_submit=action,
            ),
            width="min(420px, 92vw)",
        ),
        padding_y="4em",
    )


@rx.page(route="/signin", title=f"Sign in · {PRODUCT_NAME}")
def signin() -> rx.Component:
    """Sign in with email and password."""
    return _form("Sign in", AuthState.sign_in, "Sign in", "/signup", "No account yet? Sign up")


@rx.page(route="/signup", title=f"Sign up · {PRODUCT_NAME}")
def signup() -> rx.Component:
    """Create an account with email and password."""
    return _form("Create your account", AuthState.sign_up, "Sign up", "/signin", "Have an account? Sign in")
