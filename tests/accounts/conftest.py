"""Fixtures of the accounts tests: a migrated database of each kind (SQLite and
PostgreSQL, from ``tests/conftest.py``) and settings pointing at it.

The argon2 costs are the production defaults (the tests time nothing against them);
mail goes to an outbox folder of the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobook_app.settings import Settings

PASSWORD = "correct horse battery"  # 21 characters: passes the policy


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


def make_settings(db_url: str, tmp_path: Path, **overrides) -> Settings:
    """Settings for a test: its database, its outbox, no .env file."""
    values = {
        "database_url": db_url,
        "mail_outbox_dir": tmp_path / "outbox",
        "public_base_url": "https://studio.example.com",
        **overrides,
    }
    return Settings(_env_file=None, **values)
