"""The book page's layout controls in a real browser: a book with parts, chapters and
sub-headings (the EPUB of ``tests/platform/test_book_layout.py``) is uploaded; the
author merges two chapters, splits one at a sub-heading, splits the book at another
level and resets, and the chapter list follows each time (ticks and typed titles of
unchanged chapters kept)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.platform.test_book_layout import harbour_epub
from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web


def test_merge_split_level_and_reset_on_the_book_page(
    web_app: str, page: Page, screenshot, tmp_path: Path
) -> None:
    sign_up(page, web_app)
    epub = tmp_path / "harbour.epub"
    epub.write_bytes(harbour_epub())
    page.set_input_files("#manuscript input[type=file]", str(epub))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    rows = page.locator("#chapters tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#split-level")).to_contain_text("Level 2")
    expect(page.locator("#split-at-3")).to_be_visible()  # The Storm, inside The Boat
    screenshot(page, "layout-1-default")

    page.click("#chapter-1-chosen")  # untick The Quay; it is not touched by the merge
    page.click("#chapter-3-merge")  # The Light + The Return
    expect(rows).to_have_count(3)
    expect(page.locator("#chapter-3-merge")).to_have_count(0)  # the last one: nothing after
    expect(page.locator("#chapter-1-chosen")).not_to_be_checked()
    expect(page.locator("#chapter-2-merge")).to_be_visible()
    screenshot(page, "layout-2-merged")

    page.click("#split-at-3")
    expect(rows).to_have_count(4)
    expect(rows.nth(2)).to_contain_text("The Calm")  # The Storm's track holds The Calm

    page.click("#split-level")
    page.get_by_role("option", name="Level 1").click()
    expect(rows).to_have_count(2)
    screenshot(page, "layout-3-level-1")

    page.click("#layout-reset")
    expect(rows).to_have_count(4)
    expect(page.locator("#split-level")).to_contain_text("default")
