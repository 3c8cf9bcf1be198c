"""Cloning a voice and casting it in a book, in a real browser, against the app as
``scripts/run.sh`` starts it (one cpu+tts worker, Piper) plus a gpu worker that this
module starts in the app's environment (``audiobook worker --queues gpu``, as an operator
would on a GPU machine) with the tiny Qwen3-TTS Base model of ``tests/qwen_tiny.py`` on
the CPU: the author clones a voice from a real speech clip (Piper, ~12 s, FLAC) on the
Voices page, tries it (its audio comes back from the gpu worker), casts it as Mrs. Grey
in the dialogue story of ``tests/platform/test_voice_library.py`` on the book page,
converts the chapter and plays it. Her three lines are the clone's (24 kHz, from the gpu
worker), the rest Piper's (22050 Hz)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import soundfile as sf
from playwright.sync_api import Page, expect
from rq import Worker

from audiobook_app.jobs import queue
from audiobook_app.settings import Settings
from audiobook_app.voices import BUILTIN_VOICES
from tests.conftest import REPO_ROOT, unavailable
from tests.platform.harness import AUDIOBOOK, wait_for
from tests.platform.test_voice_library import DIALOGUE, TEXT, TRY_TEXT, encode
from tests.web.test_journey import convert_one_chapter_and_play, sign_up
from tests.web.test_voices_page import PLAY

pytestmark = pytest.mark.web
JOB_TIMEOUT_MS = 300_000


def _settings(env: dict[str, str]) -> Settings:
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings(_env_file=None)


@pytest.fixture(scope="module")
def gpu_worker(web_env: dict[str, str], web_app: str, web_root: Path) -> Iterator[Path]:
    """The tiny Base model written where the app's settings point, and a gpu worker of
    the app serving it (one torch thread); yields the worker's log."""
    for module in ("torch", "transformers", "qwen_tts"):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{module} is not installed (requirements-dev.txt)")
    from pipeline.tts.qwen_model import import_qwen_tts
    from tests.qwen_tiny import build_tiny_qwen

    import_qwen_tts()
    build_tiny_qwen(Path(web_env["AUDIOBOOK_QWEN_BASE_DIR"]), "base")
    log_path = web_root / "worker-gpu.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [AUDIOBOOK, "worker", "--queues", "gpu", "--name", "gpu"],
            env={**web_env, "AUDIOBOOK_TTS_THREADS": "1"},
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    settings = _settings(web_env)
    gpu = queue.queue(queue.connect(settings), settings, "gpu")
    try:
        wait_for(lambda: Worker.all(queue=gpu), 60, f"the gpu worker to register ({log_path})")
        yield log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A real speech clip: Piper reading TEXT (~12.6 s), as FLAC."""
    from pipeline.config import VoiceConfig
    from pipeline.tts import load_engine

    engine = load_engine(VoiceConfig())
    path = tmp_path_factory.mktemp("clips") / "keeper.flac"
    path.write_bytes(encode(engine.synthesize(TEXT), engine.sample_rate_hz))
    return path


def test_clone_a_voice_try_it_and_cast_it_in_a_book(
    web_app: str, web_root: Path, gpu_worker: Path, page: Page, screenshot, clip: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    sign_up(page, web_app)
    page.click("#nav-voices")
    page.wait_for_url("**/voices")
    page.fill("#clone-name", "Keeper")
    page.set_input_files("#clone-upload input[type=file]", str(clip))
    page.fill("#clone-transcript", TEXT)
    page.click("#clone-button")
    rows = page.locator("#voices tr")
    expect(rows).to_have_count(len(BUILTIN_VOICES) + 1, timeout=60_000)
    expect(rows.last).to_contain_text("Keeper")

    page.click("#try-voice")
    page.get_by_role("option", name="Keeper").click()
    page.fill("#try-text", TRY_TEXT)
    page.click("#generate")
    expect(page.locator("#trial-pending")).to_have_text("Speaking…")
    expect(page.locator("#trial-audio")).to_be_attached(timeout=120_000)
    played_s, duration_s = page.evaluate(PLAY, "#trial-audio")
    words = len(TRY_TEXT.split())  # the tiny model reads at about Piper's pace
    assert played_s > 0.2 and words / 5 < duration_s < words / 1.5 + 2, (played_s, duration_s)
    screenshot(page, "clone-cast-1-tried")

    manuscript = tmp_path / "visit.txt"
    manuscript.write_text(DIALOGUE, encoding="utf-8")
    page.goto(web_app)
    page.set_input_files("#manuscript input[type=file]", str(manuscript))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)
    characters = page.locator("#characters .character-row")
    expect(characters).to_have_count(2)
    names = characters.locator(".character-name").all_inner_texts()
    grey = names.index("Mrs. Grey")
    page.click("#cast-mode-full")
    page.click(f"#character-{grey}-voice")
    page.get_by_role("option", name="Keeper").click()
    expect(page.locator(f"#character-{grey}-voice")).to_have_text("Keeper")
    expect(page.locator("#cast-error")).to_have_count(0)
    page.reload()  # the cast was saved
    expect(page.locator(f"#character-{grey}-voice")).to_have_text("Keeper")
    screenshot(page, "clone-cast-2-cast")

    duration = convert_one_chapter_and_play(page, 1, JOB_TIMEOUT_MS)
    assert 15 < duration < 90, duration
    screenshot(page, "clone-cast-3-played")

    segments = list((web_root / "storage").glob("users/*/books/*/segments/*.flac"))
    rates = [sf.info(str(path)).samplerate for path in segments]
    assert sorted(set(rates)) == [22050, 24000], rates  # Piper's and the clone's
    assert rates.count(24000) == 3, (rates, gpu_worker.read_text()[-3000:])  # her 3 lines
