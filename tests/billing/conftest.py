"""Fixtures of the billing tests: a migrated database of each kind, settings with Stripe
keys pointing at the fake Stripe server (:mod:`tests.billing.fake_stripe`), an author."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audiobook_app.accounts import users
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from tests.billing.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

PASSWORD = "correct horse battery"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """The fake Stripe API, for one test."""
    fake = FakeStripe().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, fake_stripe: FakeStripe) -> Settings:
    """Settings with payments on (both Stripe keys), Stripe's API at the fake server."""
    return Settings(
        _env_file=None,
        database_url=db_url,
        mail_outbox_dir=tmp_path / "outbox",
        public_base_url="https://studio.example.com",
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.url,
    )


@pytest.fixture
def author(settings: Settings) -> int:
    """The id of a new author (with the default free credits)."""
    with session_scope(settings.database_url) as session:
        return users.sign_up(session, settings, "buyer@example.com", PASSWORD).id
