"""What an author sees on the dashboard and the book page, in a real browser against the
app started as the README starts it (one worker, Piper):

* the dashboard of a new author says what to do first; pasted text gets the title the
  author typed, or else its first line, and the paste box and title field are emptied;
* a book without a cover shows a placeholder with its initials; the chapter table has
  column headers; the narrator's sample is a small button, not a second player;
* Preview converts one chapter while the chapters ticked for Start stay as they were (on
  screen and in the book); Play starts the chapter in the page's one player;
* the badge follows each job to its end ("completed") and Start is disabled while a job
  runs, enabled again after it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web
JOB_TIMEOUT_MS = 300_000
READY_TIMEOUT_MS = 120_000
STORY = """The Night Ferry

Chapter One

The ferry left the harbour at dusk. Gulls followed it past the breakwater, and the
lights of the town grew small behind us.

Chapter Two

Out on the water the wind rose. The captain stood at the wheel and said nothing for an
hour.

Chapter Three

At midnight we saw the island. A lamp burned in the window of the old lighthouse, and we
knew we were home.
"""
PLAYING = """() => { const a = document.getElementById('player');
  return a !== null && !a.paused && a.currentTime > 0.3; }"""


def _paste(page: Page, text: str, title: str = "") -> None:
    """Paste ``text`` on the dashboard (with ``title`` when given), add it, wait for its
    page to show the book read."""
    page.fill("#paste", text)
    if title:
        page.fill("#paste-title", title)
    page.click("#paste-add")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=READY_TIMEOUT_MS)


def test_empty_dashboard_and_pasted_titles(web_app: str, page: Page, screenshot) -> None:
    sign_up(page, web_app)
    expect(page.locator("#no-books")).to_contain_text("upload")
    expect(page.locator("#no-books")).to_contain_text("paste")
    expect(page.locator("#history")).to_have_count(0)  # no bare table headers
    screenshot(page, "polish-1-dashboard-empty")

    page.fill("#paste", STORY)
    expect(page.locator("#paste-title")).to_have_attribute(
        "placeholder", "Title: The Night Ferry"
    )  # the default it will get
    page.fill("#paste-title", "Harbour Lights")
    page.click("#paste-add")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=READY_TIMEOUT_MS)
    expect(page.locator("#book-title")).to_have_text("Harbour Lights")

    page.click("#nav-books")
    page.wait_for_url(web_app + "/")
    expect(page.locator("#paste")).to_have_value("")  # emptied after adding
    expect(page.locator("#paste-title")).to_have_value("")
    expect(page.locator("#no-books")).to_have_count(0)
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page.locator("#history")).to_contain_text("Harbour Lights")

    _paste(page, STORY)  # no title typed: the first line
    expect(page.locator("#book-title")).to_have_text("The Night Ferry")
    page.click("#nav-books")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    screenshot(page, "polish-2-dashboard-two-books")


def test_book_page_preview_play_and_the_badge_to_the_end(
    web_app: str, page: Page, screenshot
) -> None:
    sign_up(page, web_app)
    _paste(page, STORY)
    headers = page.locator("#chapters thead th")
    expect(headers).to_have_text(["", "Chapter", "Words", "Status", ""])
    rows = page.locator("#chapters tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#cover-placeholder")).to_have_text("NF")  # no cover in a TXT
    expect(page.locator("#cover")).to_have_count(0)
    expect(page.locator("#voice-sample-play")).to_be_visible()  # the sample: a button
    assert page.locator("#voice-sample").get_attribute("controls") is None
    expect(page.locator("audio[controls]")).to_have_count(0)  # no player before Play
    expect(page.locator("#start")).to_be_enabled()

    page.click("#chapter-1-chosen")  # ticks on screen, not saved yet: Preview keeps them
    page.click("#chapter-2-preview")
    expect(page.locator("#start")).to_be_disabled()  # a job runs
    expect(page.locator("#chapter-3-preview")).to_be_disabled()
    expect(page.locator("#book-status")).to_have_text(re.compile("^(queued|processing)$"))
    expect(page.locator("#job-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#book-status")).to_have_text("completed")
    expect(page.locator("#start")).to_be_enabled()
    expect(page.locator("#chapter-2-status")).to_have_text("completed")
    expect(page.locator("#chapter-1-status")).to_have_text("")  # one chapter converted
    expect(page.locator("#chapter-3-status")).to_have_text("")
    expect(page.locator("#chapter-1-play")).to_have_count(0)
    expect(page.locator("#chapter-1-chosen")).not_to_be_checked()
    expect(page.locator("#chapter-2-chosen")).to_be_checked()
    expect(page.locator("#chapter-3-chosen")).to_be_checked()

    page.click("#chapter-2-play")
    page.wait_for_function(PLAYING)  # Play starts playback (not only loads the chapter)
    expect(page.locator("audio[controls]")).to_have_count(1)  # one player on the page
    expect(page.locator("#player-title")).to_have_text("Chapter Two")
    screenshot(page, "polish-3-book-preview-playing")

    page.reload()  # the book's own choice was not changed by the preview: all chapters
    expect(page.locator("#book-status")).to_have_text("completed")
    for index in (1, 2, 3):
        expect(page.locator(f"#chapter-{index}-chosen")).to_be_checked()
    assert page.evaluate(  # a reload reopens the player paused
        "() => { const a = document.getElementById('player'); return a === null || a.paused; }"
    )

    page.click("#start")
    expect(page.locator("#start")).to_be_disabled()
    expect(page.locator("#book-status")).to_have_text(re.compile("^(queued|processing)$"))
    expect(page.locator("#book-status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#start")).to_be_enabled()
    for index in (1, 2, 3):
        expect(page.locator(f"#chapter-{index}-status")).to_have_text("completed")
        expect(page.locator(f"#chapter-{index}-play")).to_be_visible()
    screenshot(page, "polish-4-book-completed")
