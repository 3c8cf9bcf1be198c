"""Smoke test of the web app in a real browser: a signed-out visitor lands on the sign-in
page (rendered with its state), its link leads to /health, and /health reports every
required part healthy as JSON."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from audiobook_app import PRODUCT_NAME

pytestmark = pytest.mark.web

REQUIRED_CHECKS = {"database", "redis", "storage", "tts:piper", "workers"}


def test_home_page_and_health(web_app: str, page: Page, screenshot) -> None:
    page.goto(web_app)
    page.wait_for_url("**/signin")  # the dashboard's on_load found no session
    expect(page.locator("#product-name")).to_have_text(PRODUCT_NAME)
    expect(page).to_have_title(f"Sign in · {PRODUCT_NAME}")
    shot = screenshot(page, "signin")
    assert shot.stat().st_size > 10_000

    response = page.request.get(f"{web_app}/health")
    assert response.status == 200, response.text()
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["healthy"] is True
    checks = {check["name"]: check for check in report["checks"]}
    assert REQUIRED_CHECKS <= checks.keys()
    assert all(checks[name]["ok"] for name in REQUIRED_CHECKS), report

    page.locator("#health-link").click()
    page.wait_for_url(f"{web_app}/health")
    assert '"healthy":true' in page.content()
