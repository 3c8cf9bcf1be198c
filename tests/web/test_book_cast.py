"""Casting a book and fixing a pronunciation in a real browser, against the app started as
the README starts it (one worker, Piper): the author uploads the ferry story of
``tests/platform/test_book_cast.py``, sees its characters with their line counts, casts
the top one with a Piper variant (kept over a reload), adds a lexicon entry and hears it
in the narrator's voice, converts chapter 2 and plays it; then respells one more word,
is told exactly what a new conversion re-synthesizes, and applies the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.platform.test_book_cast import STORY
from tests.web.test_journey import convert_one_chapter_and_play, sign_up

pytestmark = pytest.mark.web
GRAVEL = "Joe, low and rough · Piper variant"
JOB_TIMEOUT_MS = 300_000


def _fetch(page: Page, url: str, src: str | None) -> bytes:
    assert src, "no audio source"
    response = page.request.get(url + src)
    assert response.status == 200, response.status
    return response.body()


def test_cast_a_character_fix_a_pronunciation_and_apply_the_fix(
    web_app: str, page: Page, screenshot, tmp_path: Path
) -> None:
    sign_up(page, web_app)
    manuscript = tmp_path / "ferry.txt"
    manuscript.write_text(STORY, encoding="utf-8")
    page.set_input_files("#manuscript input[type=file]", str(manuscript))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    characters = page.locator("#characters .character-row")
    expect(characters).to_have_count(2)
    expect(characters.nth(0).locator(".character-name")).to_have_text("Captain Hale")
    expect(characters.nth(0).locator(".character-lines")).to_have_text("4")
    expect(characters.nth(1).locator(".character-lines")).to_have_text("3")
    assert len(_fetch(page, web_app, page.locator("#voice-sample").get_attribute("src"))) > 10_000

    page.click("#cast-mode-full")
    page.click("#character-0-voice")
    page.get_by_role("option", name=GRAVEL).click()
    expect(page.locator("#character-0-voice")).to_have_text(GRAVEL)
    expect(page.locator("#cast-error")).to_have_count(0)
    page.reload()  # the cast was saved
    expect(page.locator("#character-0-voice")).to_have_text(GRAVEL)

    page.fill("#lexicon-term", "Inishmore")
    page.fill("#lexicon-respelling", "Inish-more")
    page.click("#lexicon-add")
    expect(page.locator(".lexicon-row")).to_have_count(1)
    expect(page.locator(".lexicon-respelling")).to_have_text("Inish-more")
    expect(page.locator("#lexicon-term")).to_have_value("")
    page.click("#lexicon-0-hear")
    heard = page.locator("#lexicon-audio")
    expect(heard).to_be_attached(timeout=120_000)
    assert len(_fetch(page, web_app, heard.get_attribute("src"))) > 5_000
    expect(page.locator("#fix-impact")).to_have_count(0)  # nothing converted yet
    screenshot(page, "cast-1-cast-and-lexicon")

    duration = convert_one_chapter_and_play(page, 2, JOB_TIMEOUT_MS)
    assert 10 < duration < 60, duration

    page.fill("#lexicon-term", "lantern")  # in Captain Hale's line and in the narration
    page.fill("#lexicon-respelling", "lan-turn")
    page.click("#lexicon-add")
    expect(page.locator("#fix-impact")).to_have_text(
        "2 segments in 1 chapter will be re-synthesized", timeout=60_000
    )
    screenshot(page, "cast-2-fix-impact")
    page.click("#apply-fix")
    expect(page.locator("#fix-impact")).to_have_count(0)
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#chapter-2-play")).to_be_visible()
    screenshot(page, "cast-3-fix-applied")
