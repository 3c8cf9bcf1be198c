"""Fixtures of the platform tests. The throwaway databases (``pg_url``, ``sqlite_url``)
live in ``tests/conftest.py``, shared with the accounts tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.platform.harness import STORY


@pytest.fixture
def story(tmp_path: Path) -> Path:
    """The three-chapter story of ``harness.STORY`` as a .txt manuscript."""
    path = tmp_path / "lighthouse.txt"
    path.write_text(STORY, encoding="utf-8")
    return path
