"""The Voices page in a real browser, against the app as ``scripts/run.sh`` starts it
(one cpu+tts worker, Reflex prod): an author opens Voices from the header, plays a
built-in sample, sees why designing is off (no VoiceDesign model here), has a
too-short recording refused with the reason, clones a voice from a real speech clip
(Piper, ~12 s, FLAC; transcribed for them), tries a Piper variant (the audio appears
within seconds), and plays and downloads it from the history."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from audiobook_app.voices import BUILTIN_VOICES
from tests.platform.test_voice_library import TEXT, TRY_TEXT, encode
from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web

PLAY = """async (selector) => {  // listen a moment (muted: headless autoplay), then pause
    const a = document.querySelector(selector); a.muted = true; await a.play();
    await new Promise((done) => setTimeout(done, 600)); a.pause();
    return [a.currentTime, a.duration];
}"""


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """A real speech clip (Piper reading TEXT, ~12.6 s) and a 5 s cut of it, as FLAC."""
    from pipeline.config import VoiceConfig
    from pipeline.tts import load_engine

    engine = load_engine(VoiceConfig())
    audio, rate = engine.synthesize(TEXT), engine.sample_rate_hz
    folder = tmp_path_factory.mktemp("clips")
    paths = {"speech": folder / "keeper.flac", "short": folder / "short.flac"}
    paths["speech"].write_bytes(encode(audio, rate))
    paths["short"].write_bytes(encode(audio[: 5 * rate], rate))
    return paths


def test_voices_page_play_clone_try_and_history(
    web_app: str, page: Page, screenshot, clips: dict[str, Path]
) -> None:
    sign_up(page, web_app)
    page.click("#nav-voices")
    page.wait_for_url("**/voices")
    rows = page.locator("#voices tr")
    expect(rows).to_have_count(len(BUILTIN_VOICES))
    played_s, duration_s = page.evaluate(PLAY, "#voice-joe-deep audio")
    assert played_s > 0.2 and 4 < duration_s < 15, (played_s, duration_s)
    expect(page.locator("#design-unavailable")).to_contain_text("VoiceDesign")
    expect(page.locator("#design-button")).to_be_disabled()

    page.fill("#clone-name", "Keeper")
    page.set_input_files("#clone-upload input[type=file]", str(clips["short"]))
    page.click("#clone-button")
    expect(page.locator("#clone-error")).to_contain_text("needs at least 10 s")
    page.set_input_files("#clone-upload input[type=file]", str(clips["speech"]))
    page.click("#clone-button")  # no transcript: transcribed on the server
    expect(rows).to_have_count(len(BUILTIN_VOICES) + 1, timeout=60_000)
    expect(page.locator("#clone-error")).to_have_count(0)
    clone = rows.last
    expect(clone).to_contain_text("Keeper")
    expect(clone).to_contain_text("cloned")
    sample = page.request.get(web_app + clone.locator("audio").get_attribute("src"))
    assert sample.status == 200 and sample.headers["content-type"] == "audio/wav"
    screenshot(page, "voices-1-cloned")

    page.click("#try-voice")
    page.get_by_role("option", name=BUILTIN_VOICES[1].label).click()
    page.fill("#try-text", TRY_TEXT)
    expect(page.locator("#try-count")).to_have_text(f"{len(TRY_TEXT)} / 500")
    started = time.monotonic()
    page.click("#generate")
    expect(page.locator("#trial-audio")).to_be_attached(timeout=60_000)
    heard_after_s = time.monotonic() - started
    played_s, duration_s = page.evaluate(PLAY, "#trial-audio")
    words = len(TRY_TEXT.split())
    assert played_s > 0.2 and words / 4 < duration_s < words / 1.5, (played_s, duration_s)

    history = page.locator("#trials .trial-row")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(TRY_TEXT)
    expect(history.first).to_contain_text(BUILTIN_VOICES[1].label)
    played_s, _ = page.evaluate(PLAY, "#trials .trial-play")
    assert played_s > 0.2
    with page.expect_download() as info:
        page.click("#trials .trial-download")
    assert info.value.suggested_filename.endswith(".mp3")
    screenshot(page, "voices-2-tried")
    print(f"\nMEASURED Generate -> audio on the page (Piper variant): {heard_after_s:.1f} s")
