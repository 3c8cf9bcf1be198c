"""Fixtures of the browser tests: the app started the way the README starts it, and a browser.

``web_app`` (session) runs ``scripts/run.sh`` (what ``make run`` runs: setup, migration,
Redis, one worker, ``reflex run --env prod``) in a session of its own, with everything a
developer's own ``make run`` uses moved aside: a temporary SQLite database, storage and
work folders, a unique queue prefix, a free port (``AUDIOBOOK_WEB_PORT``) and Reflex's
build and state folders (``REFLEX_WEB_WORKDIR``, ``REFLEX_STATES_WORKDIR``: the compiled
frontend has the port baked in). ``web_env`` is that environment, for a test that starts
another worker of the same app (a gpu worker). It yields the base URL once the app answers, and at the
end sends SIGTERM to the script, which stops the worker and the app; the teardown fails
if any process it started is still alive afterwards (they are then killed). Payments
are on in that app: its Stripe API is ``stripe_fake`` (:mod:`tests.billing.fake_stripe`,
started first), and webhooks signed with ``fake_stripe.WEBHOOK_SECRET`` are Stripe's.

``browser`` / ``page`` drive Debian's chromium through Playwright's sync API (no
``playwright install``: it would download a browser). Without /usr/bin/chromium the
browser tests skip, saying how to install it, or fail under CI, where ``make test``
installs it. ``screenshot(page, name)`` saves ``tests/web/artifacts/<name>.png``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.billing import fake_stripe
from tests.conftest import REPO_ROOT, unavailable
from tests.platform.harness import free_port, wait_for

RUN_SCRIPT = REPO_ROOT / "scripts" / "run.sh"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT_S = 600.0  # a first run installs the frontend's packages and builds it
STOP_TIMEOUT_S = 40.0  # run.sh gives its children 15 s before SIGKILL
PAGE_TIMEOUT_MS = 30_000


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first started in their own sessions too)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _isolated_env(root: Path, port: int, stripe_api_base: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOBOOK_", "REFLEX_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{root / 'audiobook.db'}",
            "AUDIOBOOK_STORAGE_BACKEND": "local",
            "AUDIOBOOK_STORAGE_ROOT": str(root / "storage"),
            "AUDIOBOOK_WORK_DIR": str(root / "work"),
            "AUDIOBOOK_MAIL_OUTBOX_DIR": str(root / "outbox"),
            "AUDIOBOOK_QUEUE_PREFIX": f"abweb-{uuid.uuid4().hex[:10]}",
            "AUDIOBOOK_WEB_PORT": str(port),
            "AUDIOBOOK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "REFLEX_WEB_WORKDIR": str(root / "web"),
            "REFLEX_STATES_WORKDIR": str(root / "states"),
            # where a test that casts a cloned voice writes the tiny Qwen3-TTS Base model
            # (tests/qwen_tiny.py) before it starts a gpu worker; empty otherwise
            "AUDIOBOOK_QWEN_BASE_DIR": str(root / "qwen" / "base"),
        }
    )
    if stripe_api_base:  # payments on, against the fake Stripe (tests/billing/fake_stripe.py)
        env.update(
            {
                "AUDIOBOOK_STRIPE_SECRET_KEY": fake_stripe.SECRET_KEY,
                "AUDIOBOOK_STRIPE_WEBHOOK_SECRET": fake_stripe.WEBHOOK_SECRET,
                "AUDIOBOOK_STRIPE_API_BASE": stripe_api_base,
            }
        )
    return env


def _stop(process: subprocess.Popen) -> list[int]:
    """SIGTERM to the script's process group; returns the pids still alive afterwards
    (killed here), which should be none."""
    started = _descendants(process.pid)
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in started if _alive(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


@pytest.fixture(scope="session")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the app's database, storage and outbox (``outbox/*.eml``)."""
    return tmp_path_factory.mktemp("web_app")


@pytest.fixture(scope="session")
def stripe_fake() -> Iterator[fake_stripe.FakeStripe]:
    """The fake Stripe API the app's Checkout requests go to (started before the app;
    its ``requests`` record what the app sent)."""
    fake = fake_stripe.FakeStripe().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def web_env(web_root: Path, stripe_fake: fake_stripe.FakeStripe) -> dict[str, str]:
    """The environment the app runs in (its database, storage, queue prefix, port,
    ``AUDIOBOOK_QWEN_BASE_DIR``, and the Stripe keys with the fake Stripe's URL): a test
    starts more workers of the same app with it (``audiobook worker --queues gpu``), as
    an operator would on another machine."""
    return _isolated_env(web_root, free_port(), stripe_fake.url)


@pytest.fixture(scope="session")
def web_app(web_root: Path, web_env: dict[str, str]) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of the app started by ``scripts/run.sh``."""
    port = int(web_env["AUDIOBOOK_WEB_PORT"])
    yield from _run_app(web_root, port, web_root / "run.log", web_env)


def _run_app(
    root: Path, port: int, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start scripts/run.sh (in ``env``, default :func:`_isolated_env`), yield its URL
    once it answers, stop it and check nothing is left."""
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(RUN_SCRIPT)],
            cwd=REPO_ROOT,
            env=env or _isolated_env(root, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"scripts/run.sh exited ({process.returncode}):\n{_tail(log_path)}"
            )
        return _http_status(url + "/") == 200

    try:
        wait_for(ready, START_TIMEOUT_S, f"the app at {url} (log {log_path})", poll_s=0.5)
        yield url
    finally:
        left = _stop(process)
    assert not left, (
        f"processes left after scripts/run.sh stopped (killed now): {left}\n{_tail(log_path)}"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium driven by Playwright (skips, or fails under CI, without it)."""
    if not CHROMIUM.is_file():
        unavailable(
            f"{CHROMIUM} not installed: run `scripts/web_tools.sh --browser` as root (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page (1280x800) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: saves the full page to ``tests/web/artifacts/<name>.png``."""

    def save(page: Page, name: str) -> Path:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
