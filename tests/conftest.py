"""Shared test fixtures.

The real-book corpus lives beside the checkout in ``../shared/corpus`` (CI has it; a
user's clone may not). Tests that need it take the ``corpus`` fixture and skip, saying
so, where it is absent; small fixtures built by the tests cover each format anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = Path(os.environ.get("AUDIOBOOK_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Path of the shared real-book corpus; skips the test when it is absent."""
    if not (CORPUS_DIR / "MANIFEST.md").is_file():
        pytest.skip(f"real-book corpus not found at {CORPUS_DIR} (set AUDIOBOOK_CORPUS)")
    return CORPUS_DIR
