"""Accounts in a real browser: a wrong password is refused with a clear message, sign
out ends the session, and a forgotten password is reset through the emailed link
(the outbox mailer writes the .eml the test reads)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.platform.harness import wait_for

pytestmark = pytest.mark.web


def _submit(page: Page, email: str, password: str) -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")


def test_sign_out_wrong_password_and_reset_by_email(
    web_app: str, web_root: Path, page: Page, screenshot
) -> None:
    email = f"reset-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(web_app + "/signup")
    _submit(page, email, "first password 123")
    page.wait_for_url(web_app + "/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.goto(web_app + "/")
    page.wait_for_url("**/signin")  # the session is gone

    _submit(page, email, "not my password at all")
    expect(page.locator("#auth-error")).to_contain_text("password")
    screenshot(page, "accounts-wrong-password")

    page.goto(web_app + "/forgot")
    page.fill("#email", email)
    page.click("#submit")
    expect(page.locator("#reset-notice")).to_be_visible()
    mail = wait_for(
        lambda: [
            p.read_text() for p in (web_root / "outbox").glob("*.eml") if email in p.read_text()
        ],
        30,
        "the reset email",
    )[0]
    link = re.search(
        r"http://\S+/reset-password\?token=[\w-]+", mail.replace("=\n", "").replace("=3D", "=")
    )[0]
    page.goto(link.replace(re.match(r"http://[^/]+", link)[0], web_app))
    page.fill("#password", "second password 456")
    page.click("#submit")
    page.wait_for_url("**/signin")
    _submit(page, email, "second password 456")
    page.wait_for_url(web_app + "/")
    expect(page.locator("#user-email")).to_have_text(email)
