"""An author's whole journey in a real browser, against the app started as the README
starts it (``scripts/run.sh``: one worker, Reflex prod): sign up, upload a real book,
merge two chapters and reset the layout (the list follows), untick all but one chapter, start, watch progress advance, play the finished chapter,
download the M4B; then a second author can neither open that book nor fetch its files.

Prints two measurements for the closing note: Start -> first playable chapter, and the
delay between a worker publishing a progress event and the page showing it (a
MutationObserver stamps each change of the event's timestamp; same machine clock).
"""

from __future__ import annotations

import io
import re
import time
import uuid
import zipfile

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.web

PASSWORD = "correct horse battery staple"
CHAPTER = 4  # The Waste Land, "IV. Death by Water": 70 words, about 30 s of audio
WATCH_EVENT_DELAYS = """() => {
  window.__delays = [];
  const el = document.getElementById('job-event-ts');
  new MutationObserver(() => {
    const ts = parseFloat(el.textContent);
    if (ts > 0) window.__delays.push(Date.now() / 1000 - ts);
  }).observe(el, {childList: true, characterData: true, subtree: true});
}"""


def sign_up(page: Page, url: str) -> str:
    email = f"author-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(url + "/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(url + "/")
    expect(page.locator("#user-email")).to_have_text(email)
    return email


def convert_one_chapter_and_play(page: Page, index: int, timeout_ms: int) -> float:
    """Tick only chapter ``index``, Start, play it once it is playable and wait for the
    job to complete; returns the chapter's duration in the player, in seconds."""
    page.click("#untick-all")
    page.click(f"#chapter-{index}-chosen")
    page.click("#start")
    expect(page.locator(f"#chapter-{index}-play")).to_be_visible(timeout=timeout_ms)
    page.click(f"#chapter-{index}-play")
    duration = page.wait_for_function(
        "() => { const a = document.getElementById('player'); "
        "return a && a.duration > 0 ? a.duration : null }"
    ).json_value()
    expect(page.locator("#job-status")).to_have_text("completed", timeout=timeout_ms)
    return duration


def test_author_journey_and_a_second_author_is_kept_out(
    web_app: str, page: Page, browser: Browser, screenshot, corpus
) -> None:
    page.goto(web_app)
    page.wait_for_url("**/signin")  # signed out: the dashboard sends you to sign in
    screenshot(page, "1-signin")
    sign_up(page, web_app)
    screenshot(page, "2-dashboard-empty")

    page.set_input_files(
        "#manuscript input[type=file]", str(corpus / "epub" / "the-waste-land_idpf-epub3.epub")
    )
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    book_url = page.url
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    expect(page.locator("#book-title")).to_have_text("The Waste Land")
    expect(page.locator("#chapters tbody tr")).to_have_count(6)
    screenshot(page, "3-book-parsed")
    page.click("#chapter-5-merge")  # "V. What the Thunder Said" + the Notes: one chapter
    expect(page.locator("#chapters tbody tr")).to_have_count(5)
    expect(page.locator("#chapter-5-merge")).to_have_count(0)  # the last one now
    page.click("#layout-reset")  # back to the book's own chapters
    expect(page.locator("#chapters tbody tr")).to_have_count(6)

    sample = page.request.get(web_app + page.locator("#voice-sample").get_attribute("src"))
    assert sample.status == 200 and len(sample.body()) > 10_000  # the narrator's sample line plays
    page.click("#untick-all")
    page.click(f"#chapter-{CHAPTER}-chosen")
    started = time.monotonic()
    page.click("#start")
    expect(page.locator("#job-event-ts")).to_be_attached()
    page.evaluate(WATCH_EVENT_DELAYS)
    expect(page.locator("#job-status")).to_have_text("processing", timeout=120_000)
    percents = set()
    while not page.locator(f"#chapter-{CHAPTER}-play").count():
        assert time.monotonic() - started < 300, "no playable chapter after 5 minutes"
        percents.add(int(page.locator("#job-percent").inner_text().split()[0]))
        time.sleep(0.1)
    first_playable_s = time.monotonic() - started
    expect(page.locator("#job-chapter")).to_have_text(f"chapter {CHAPTER}")
    assert len(percents) >= 2, f"progress never advanced on the page: {percents}"
    screenshot(page, "4-progress-and-playable")

    page.click(f"#chapter-{CHAPTER}-play")
    duration = page.wait_for_function(
        "() => { const a = document.getElementById('player'); return a && a.duration > 0 ? a.duration : null }"
    ).json_value()
    assert 15 < duration < 60, duration
    expect(page.locator("#job-status")).to_have_text("completed", timeout=300_000)
    expect(page.locator("#report")).to_contain_text("pass")
    screenshot(page, "5-completed")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone-sized screen
    screenshot(page, "5b-completed-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    delays = page.evaluate("window.__delays")
    assert delays, "no progress event reached the page"

    page.evaluate("""async () => {  // listen a moment (muted: headless autoplay), jump to 12 s, pause
        const a = document.getElementById('player'); a.muted = true; await a.play(); a.currentTime = 12; a.pause();
    }""")
    expect(page.locator("#resume-at")).to_have_text(
        re.compile(r"^1[12](\.\d+)?$")
    )  # saved on pause
    time.sleep(0.5)  # the save runs in a thread after the state update
    page.reload()
    position = page.wait_for_function(  # the player reopens where the author paused
        "() => { const a = document.getElementById('player'); return a && a.readyState > 0 ? a.currentTime : null }"
    ).json_value()
    assert 11 <= position <= 13, position

    m4b_href = page.locator(".download-m4b").first.get_attribute("href")
    with page.expect_download() as info:
        page.click(".download-m4b")
    assert info.value.suggested_filename == "the-waste-land.m4b"
    whole = page.request.get(web_app + m4b_href)
    assert (
        whole.status == 200
        and whole.headers["content-type"] == "audio/mp4"
        and len(whole.body()) > 100_000
    )
    part = page.request.get(web_app + m4b_href, headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(part.body()) == 100
    zip_href = page.locator(".download-zip").get_attribute("href")
    zipped = page.request.get(web_app + zip_href)
    assert zipped.status == 200 and zipped.headers["content-type"] == "application/zip", (
        zipped.status,
        zipped.text()[:300],
    )
    assert 'filename="the-waste-land-chapters.zip"' in zipped.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(zipped.body()))
    assert archive.namelist() == ["04 - IV. Death by Water.mp3"]

    other = browser.new_context(viewport={"width": 390, "height": 844})  # a phone-sized screen
    try:
        intruder = other.new_page()
        sign_up(intruder, web_app)
        intruder.goto(book_url)
        expect(intruder.locator("#not-found")).to_be_visible()
        expect(intruder.locator("#book-title")).to_have_count(0)
        screenshot(intruder, "6-second-author-refused")
        assert intruder.request.get(web_app + m4b_href).status == 404
        assert intruder.request.get(web_app + zip_href).status == 404
    finally:
        other.close()
    assert page.request.get(web_app + m4b_href).status == 200  # still the owner's

    print(
        f"\nMEASURED start -> first playable chapter: {first_playable_s:.1f} s; "
        f"worker event -> page: median {sorted(delays)[len(delays) // 2] * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {len(delays)} events"
    )
