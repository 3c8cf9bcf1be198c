"""Helpers for billing tests against the running app (``tests/web``'s ``web_app``): its
settings, accounts made directly in its database, balances, signed webhook deliveries."""

from __future__ import annotations

import os
import uuid
from unittest import mock

import httpx

from audiobook_app.accounts import api_keys, users
from audiobook_app.billing import ledger
from audiobook_app.db.models import LedgerEntry, LedgerReason, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from tests.billing.fake_stripe import signed

PASSWORD = "correct horse battery staple"
WEBHOOK_PATH = "/api/v1/billing/stripe/webhook"


def app_settings(env: dict[str, str]) -> Settings:
    """The settings the app runs with (its environment ``env``: ``web_env``)."""
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings(_env_file=None)


def new_account(settings: Settings, role: UserRole = UserRole.AUTHOR) -> tuple[int, str]:
    """(id, email) of a new password account (:data:`PASSWORD`) in the app's database."""
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    with session_scope(settings.database_url) as session:
        return users.sign_up(session, settings, email, PASSWORD, role=role).id, email


def api_key(settings: Settings, user_id: int) -> str:
    """A new API key's secret for ``user_id``."""
    with session_scope(settings.database_url) as session:
        return api_keys.create_key(session, user_id, "billing test").secret


def balance(settings: Settings, user_id: int) -> int:
    """The user's spendable credits, read from the app's database."""
    with session_scope(settings.database_url) as session:
        return ledger.balance(session, user_id)


def ledger_rows(settings: Settings, user_id: int, reason: LedgerReason) -> list[LedgerEntry]:
    """The user's ledger rows of one ``reason``."""
    with session_scope(settings.database_url) as session:
        return [e for e in ledger.entries(session, user_id, limit=1000) if e.reason == reason]


def deliver(url: str, body: bytes, header: str | None = None) -> httpx.Response:
    """POST ``body`` to the app's Stripe webhook, signed as Stripe signs it unless
    ``header`` (the ``Stripe-Signature`` to send) is given."""
    return httpx.post(
        url + WEBHOOK_PATH,
        content=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signed(body) if header is None else header,
        },
        timeout=30,
    )
