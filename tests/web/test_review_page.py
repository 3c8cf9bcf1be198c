"""Narration review in a real browser, against the app as ``scripts/run.sh`` starts it
(Reflex prod, one worker with Piper and Whisper): a manuscript whose middle paragraph is
Sanskrit ("Datta. Dayadhvam. Damyata.", which an English voice misreads and Whisper
tiny.en mishears: The Waste Land's run flags it after its two retakes) is converted; the
review page lists that segment as flagged with its takes; the author types an English
gloss and presses Regenerate; the new job re-makes the chapter, which plays with the new
take, and the review then flags nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web

MANUSCRIPT = """The Thunder

Chapter 1

Then spoke the thunder over the dry hills.

Datta. Dayadhvam. Damyata.

The rain came at last, and the river rose between the stones.
"""
GLOSS = "Give. Sympathize. Control."
JOB_TIMEOUT_MS = 300_000


def _play_chapter_one(page: Page) -> tuple[str, float]:
    """Play chapter 1; its audio's URL and duration in the player."""
    page.click("#chapter-1-play")
    duration = page.wait_for_function(
        "() => { const a = document.getElementById('player'); "
        "return a && a.duration > 0 ? a.duration : null }"
    ).json_value()
    return page.locator("#player").get_attribute("src") or "", duration


def test_a_flagged_segment_is_regenerated_from_the_review(
    web_app: str, page: Page, tmp_path, screenshot
) -> None:
    sign_up(page, web_app)
    manuscript = tmp_path / "thunder.txt"
    manuscript.write_text(MANUSCRIPT, encoding="utf-8")
    page.set_input_files("#manuscript input[type=file]", str(manuscript))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    book_url = page.url
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    page.click("#start")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    first_src, first_duration = _play_chapter_one(page)

    page.click("#review-link")
    page.wait_for_url("**/review")
    expect(page.locator("#review-summary")).to_contain_text("flagged")
    expect(page.locator("#review-charts")).to_be_visible()
    flagged = page.locator("[id^=segment-]").filter(has_text="Dayadhvam")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("flagged")
    expect(flagged).to_contain_text("Take 3")  # the first take and two retakes, all failed
    key = (flagged.get_attribute("id") or "").removeprefix("segment-")
    screenshot(page, "review-flagged")

    page.fill(f"#fix-{key}", GLOSS)
    page.click(f"#regenerate-{key}")
    page.wait_for_url(book_url)
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    second_src, second_duration = _play_chapter_one(page)
    assert second_src != first_src  # the chapter was made again, with the new take
    assert second_duration > 5 and abs(second_duration - first_duration) < 10

    page.click("#review-link")
    page.wait_for_url("**/review")
    page.click("#show-all")
    fixed = page.locator("[id^=segment-]").filter(has_text="Sympathize")
    expect(fixed).to_have_count(1)
    expect(page.locator("[id^=segment-]").filter(has_text="Dayadhvam")).to_have_count(0)
    screenshot(page, "review-after-regeneration")

    # the whole chapter again, read by a slower voice: a new job that completes, with
    # the chapter made again and longer (joe-deep speaks at length scale 1.08)
    page.click("#chapter-voice")
    page.get_by_role("option", name="Joe, deep and unhurried").click()
    page.click("#regenerate-chapter")
    page.wait_for_url(book_url)
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    third_src, third_duration = _play_chapter_one(page)
    assert third_src not in (first_src, second_src)
    assert third_duration > second_duration


def test_a_cancelled_book_has_retry_which_finishes_it(web_app: str, page: Page, tmp_path) -> None:
    """Cancel a conversion at once, then Retry on the book page: a new job runs from what
    the cancelled one stored and completes."""
    sign_up(page, web_app)
    manuscript = tmp_path / "rain.txt"
    paragraphs = [f"The rain fell on the {n} roofs of the town all night long." for n in range(8)]
    manuscript.write_text("Rain\n\nChapter 1\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    page.set_input_files("#manuscript input[type=file]", str(manuscript))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    page.click("#start")
    page.click("#cancel")
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=60_000)
    page.click("#retry")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#chapter-1-play")).to_be_visible()
