"""The dashboard's API keys section: the author's live REST API keys (name, prefix,
created, last used), a form that creates one and shows its secret once, and a revoke
button per key.

Handlers call :mod:`audiobook_app.accounts.api_keys` in a thread. The secret reaches
the browser once, in ``new_secret``, and is forgotten at the next action or reload;
the server keeps only its digest. The section loads when it mounts; as that can come
before the page's ``on_load`` has resolved the session, it resolves the cookie itself
when it must.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import reflex as rx

from audiobook_app.accounts import api_keys
from audiobook_app.api.app import API_PREFIX
from audiobook_app.db.models import ApiKey
from audiobook_app.state.auth import AuthState, resolve
from audiobook_app.state.clients import in_session
from pipeline.errors import InputError

DATE_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class KeyRow:
    """One live key as the table shows it (times "YYYY-MM-DD HH:MM" UTC; "never")."""

    id: int
    name: str
    prefix: str
    created: str
    last_used: str


def _when(moment: datetime | None) -> str:
    return moment.strftime(DATE_FORMAT) if moment else "never"


def _row(key: ApiKey) -> KeyRow:
    return KeyRow(
        key.id, key.name, f"{key.prefix}…", _when(key.created_at), _when(key.last_used_at)
    )


def key_rows(user_id: int) -> list[KeyRow]:
    """The user's live keys, newest first (blocking)."""
    return [_row(k) for k in in_session(api_keys.list_keys, user_id)]


def create_key(user_id: int, name: str) -> str:
    """Create a key called ``name``; its secret (blocking). Raises InputError,
    ConflictError (too many keys)."""
    return in_session(api_keys.create_key, user_id, name).secret


def revoke_key(user_id: int, key_id: int) -> None:
    """Revoke one of the user's keys (blocking). Raises NotFoundError, ConflictError."""
    in_session(api_keys.revoke_key, user_id, key_id)


class ApiKeysState(AuthState):
    """The key table, the secret of the key just created, and the last refusal."""

    keys: list[KeyRow] = []
    new_secret: str = ""
    key_error: str = ""

    async def _user(self) -> int:
        if not self.user_id:
            found = await asyncio.to_thread(resolve, self.session_token)
            return found[0] if found else 0
        return self.user_id

    @rx.event
    async def load_keys(self):
        """Read the author's keys (when the section mounts)."""
        user_id = await self._user()
        self.new_secret, self.key_error = "", ""
        self.keys = await asyncio.to_thread(key_rows, user_id) if user_id else []

    @rx.event
    async def create(self, form: dict):
        """Create a key named as the form says and show its secret once."""
        user_id = await self._user()
        self.new_secret, self.key_error = "", ""
        if not user_id:
            return
        try:
            self.new_secret = await asyncio.to_thread(
                create_key, user_id, str(form.get("name", ""))
            )
        except InputError as exc:
            self.key_error = str(exc)
        self.keys = await asyncio.to_thread(key_rows, user_id)

    @rx.event
    async def revoke(self, key_id: int):
        """Revoke a key (it stops working at once)."""
        user_id = await self._user()
        self.new_secret, self.key_error = "", ""
        if not user_id:
            return
        try:
            await asyncio.to_thread(revoke_key, user_id, key_id)
        except InputError as exc:
            self.key_error = str(exc)
        self.keys = await asyncio.to_thread(key_rows, user_id)


def _secret() -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text("Copy this key now: it is not shown again."),
            rx.hstack(
                rx.code(ApiKeysState.new_secret, id="api-key-secret"),
                rx.button(
                    "Copy",
                    size="1",
                    variant="soft",
                    id="api-key-copy",
                    on_click=rx.set_clipboard(ApiKeysState.new_secret),
                ),
                align="center",
                wrap="wrap",
            ),
            spacing="2",
        ),
        color_scheme="green",
        width="100%",
    )


def _row_view(key: KeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(key.name, class_name="api-key-name"),
        rx.table.cell(rx.code(key.prefix)),
        rx.table.cell(key.created),
        rx.table.cell(key.last_used),
        rx.table.cell(
            rx.button(
                "Revoke",
                size="1",
                color_scheme="red",
                variant="soft",
                class_name="api-key-revoke",
                on_click=ApiKeysState.revoke(key.id),
            )
        ),
        class_name="api-key-row",
    )


def api_keys_section() -> rx.Component:
    """The dashboard's "API keys" section."""
    return rx.vstack(
        rx.heading("API keys", size="4"),
        rx.text(
            "Personal keys for the REST API (",
            rx.link("documentation", href=f"{API_PREFIX}/docs", is_external=True),
            "): send one as 'Authorization: Bearer abk_…'.",
            size="2",
        ),
        rx.form(
            rx.hstack(
                rx.input(name="name", id="api-key-name", placeholder="Key name, e.g. laptop"),
                rx.button("Create key", type="submit", id="api-key-create"),
            ),
            on_submit=ApiKeysState.create,
            reset_on_submit=True,
        ),
        rx.cond(ApiKeysState.new_secret != "", _secret()),
        rx.cond(
            ApiKeysState.key_error != "",
            rx.callout(ApiKeysState.key_error, color_scheme="red", id="api-key-error"),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Name", "Key", "Created", "Last used", "")
                    ]
                )
            ),
            rx.table.body(rx.foreach(ApiKeysState.keys, _row_view)),
            width="100%",
            id="api-keys",
        ),
        on_mount=ApiKeysState.load_keys,
        width="100%",
        spacing="3",
    )
