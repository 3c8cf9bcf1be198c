"""The account page in a real browser: "Download all my data" serves the author's ZIP;
"Delete my account" stays disabled until the account's email is typed, then deletes
the account, signs out and lands on the sign-in page, where the account is gone."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_journey import PASSWORD, sign_up

pytestmark = pytest.mark.web


def test_download_my_data_then_delete_my_account(web_app: str, page: Page, screenshot) -> None:
    sign_up(page, web_app)  # the first account of a fresh app is its admin: not this test's
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    email = sign_up(page, web_app)
    page.click("#nav-account")
    page.wait_for_url(web_app + "/account")

    link = page.locator("#export-data")
    assert link.get_attribute("href") == "/account/export.zip"
    response = page.request.get(web_app + "/account/export.zip")  # the page's cookies
    assert response.status == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.body())) as archive:
        assert json.loads(archive.read("account.json"))["email"] == email

    button = page.locator("#delete-account")
    expect(button).to_be_disabled()
    page.fill("#delete-confirm", "someone-else@example.com")
    expect(button).to_be_disabled()
    page.fill("#delete-confirm", email.upper())
    expect(button).to_be_enabled()
    screenshot(page, "account-delete")
    button.click()
    page.wait_for_url("**/signin")
    assert "ab_session" not in {c["name"] for c in page.context.cookies()}  # removed too

    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#auth-error")).to_be_visible()
    assert page.request.get(web_app + "/account/export.zip").status == 404
