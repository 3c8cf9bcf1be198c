"""Security hardening seen from a real browser, against the app started as the README
starts it: the session cookie is HttpOnly (no page script reads it), SameSite=Lax, not
Secure over plain http, lives as long as the server-side session and gets that lifetime
back on each page load, and is gone after signing out; a manuscript over the upload
limit is refused with the limit shown on the dashboard; and the app listens on
127.0.0.1 only (``AUDIOBOOK_WEB_HOST``'s default)."""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from audiobook_app.settings import Settings
from audiobook_app.state.auth import SESSION_COOKIE
from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web

TTL_S = Settings(_env_file=None).session_ttl_s  # the web app runs with the default (14 days)
SLACK_S = 600  # between the server setting the cookie and this test reading it
LISTEN = "0A"  # the TCP state of a listening socket in /proc/net/tcp


def _session_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def test_the_session_cookie_is_httponly_lax_and_lives_as_long_as_the_session(
    web_app: str, page: Page
) -> None:
    sign_up(page, web_app)
    cookie = _session_cookie(page)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, False, "Lax")
    assert cookie["path"] == "/"
    assert abs(cookie["expires"] - (time.time() + TTL_S)) < SLACK_S
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # no script can read it

    # the browser forgets it an hour from now; the next page load gives it the
    # session's lifetime again, and the author is still signed in
    page.context.add_cookies([{**cookie, "expires": time.time() + 3600}])
    page.reload()
    expect(page.locator("#user-email")).to_be_visible()
    refreshed = _session_cookie(page)
    assert refreshed is not None and refreshed["value"] == cookie["value"]
    assert refreshed["expires"] > time.time() + TTL_S - SLACK_S

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    assert _session_cookie(page) is None


def test_a_manuscript_over_the_upload_limit_is_refused_on_the_dashboard(
    web_app: str, page: Page, tmp_path: Path
) -> None:
    limit = Settings(_env_file=None).max_upload_bytes  # 50 MB
    big = tmp_path / "too-long.txt"
    big.write_bytes(b"word " * (limit // 5) + b"!")
    sign_up(page, web_app)
    page.set_input_files("#manuscript input[type=file]", str(big))
    page.click("#upload-button")
    expect(page.locator("#upload-error")).to_contain_text(
        "too-long.txt: the file is larger than the 50 MB upload limit", timeout=120_000
    )
    assert page.url == web_app + "/"  # no book page to go to: nothing was stored
    expect(page.locator("#no-books")).to_be_visible()


def _listening(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses TCP sockets listen on at ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state != LISTEN or int(local_port, 16) != port:
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(ipaddress.ip_address(words))
    return found


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses that are not loopback (may be none)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({i[4][0] for i in infos if not ipaddress.ip_address(i[4][0]).is_loopback})


def test_the_app_listens_on_loopback_only(web_app: str) -> None:
    port = urlsplit(web_app).port
    assert port is not None
    addresses = _listening(port)
    assert addresses, f"nothing listens on port {port}"
    assert all(a.is_loopback for a in addresses), addresses
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    for other in _other_addresses():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((other, port), timeout=5).close()
