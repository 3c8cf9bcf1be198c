"""Credits in a real browser, against the app started as the README starts it (payments
on, with the fake Stripe API of ``tests/billing/fake_stripe.py``).

THE journey: an admin grants an author credits on ``/admin/users``; the author sees the
new balance on ``/billing``, sees the quote on the book page, converts one short
chapter, and sees the charge and the lower balance on ``/billing``. Then: Buy goes to
Stripe Checkout (the fake's page) and the purchase appears once the webhook confirms
it; a Start the balance cannot cover is refused with the ledger's message and a link to
``/billing``.

The app is shared by the whole session, so its first account may be someone else's:
the admin is made directly in the app's database (``accounts.users.sign_up`` with the
admin role), then signs in through the browser like anyone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from audiobook_app.billing import ledger
from audiobook_app.db.models import UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from tests.billing.fake_stripe import FakeStripe, event
from tests.billing.live import PASSWORD, app_settings, balance, deliver, new_account
from tests.platform.harness import story_text
from tests.web.test_journey import convert_one_chapter_and_play, sign_up

pytestmark = pytest.mark.web
JOB_TIMEOUT_MS = 300_000
GRANT = 40


@pytest.fixture(scope="module")
def settings(web_env: dict[str, str]) -> Settings:
    return app_settings(web_env)


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/signin")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(url + "/")


def _upload_story(page: Page, url: str, tmp_path: Path) -> None:
    """Upload the three-chapter lighthouse story (chapter 1: one sentence) and wait
    until it is read."""
    manuscript = tmp_path / "lighthouse.txt"
    manuscript.write_text(story_text(paragraphs=1), encoding="utf-8")
    page.goto(url + "/")
    page.set_input_files("#manuscript input[type=file]", str(manuscript))
    page.click("#upload-button")
    page.wait_for_url("**/books/*")
    expect(page.locator("#book-status")).to_have_text("ready", timeout=120_000)


def _billing_shows(page: Page, url: str, balance: int) -> None:
    """Open /billing and wait until it shows ``balance`` credits."""
    page.goto(url + "/billing")
    expect(page.locator("#balance")).to_have_text(str(balance))


def test_admin_grants_credits_author_converts_and_sees_the_charge(
    web_app: str, settings: Settings, browser: Browser, page: Page, screenshot, tmp_path: Path
) -> None:
    _, admin_email = new_account(settings, UserRole.ADMIN)
    author_email = sign_up(page, web_app)
    free = settings.free_credits
    _billing_shows(page, web_app, free)

    admin = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        admin_page = admin.new_page()
        _sign_in(admin_page, web_app, admin_email)
        admin_page.goto(web_app + "/admin/users")
        admin_page.fill("#grant-email", author_email)
        admin_page.fill("#grant-credits", str(GRANT))
        admin_page.fill("#grant-note", "launch gift")
        admin_page.click("#grant-submit")
        expect(admin_page.locator("#grant-result")).to_contain_text(str(GRANT))
        screenshot(admin_page, "billing-1-admin-grant")
    finally:
        admin.close()

    granted = free + GRANT
    _billing_shows(page, web_app, granted)
    grant_row = page.locator(".ledger-row", has_text="launch gift")
    expect(grant_row).to_have_count(1)
    expect(grant_row).to_contain_text("grant")
    expect(grant_row).to_contain_text(f"+{GRANT}")
    screenshot(page, "billing-2-author-balance")

    _upload_story(page, web_app, tmp_path)
    page.click("#untick-all")
    expect(page.locator("#quote")).to_contain_text("Tick at least one chapter")
    page.click("#chapter-1-chosen")
    expect(page.locator("#quote")).to_contain_text(
        re.compile(
            rf"About \d+\.\d min of audio · \d+ credits? \(up to \d+ reserved\) · balance {granted}"
        )
    )
    convert_one_chapter_and_play(page, 1, JOB_TIMEOUT_MS)

    page.goto(web_app + "/billing")
    charge = page.locator(".ledger-row", has_text="charge")
    expect(charge).to_have_count(1)
    charged = -int(charge.locator(".ledger-delta").inner_text())
    assert charged >= 1, charged
    expect(page.locator("#balance")).to_have_text(str(granted - charged))
    expect(page.locator("#reserved")).to_have_text("0")  # the reservation was released
    expect(page.locator("#usage .usage-row")).to_have_count(1)
    screenshot(page, "billing-3-charge")


def test_buy_goes_to_checkout_and_the_webhook_credits(
    web_app: str, settings: Settings, stripe_fake: FakeStripe, page: Page, screenshot
) -> None:
    user_id, email = new_account(settings)
    _sign_in(page, web_app, email)
    before = settings.free_credits
    _billing_shows(page, web_app, before)
    expect(page.locator("#payments-off")).to_have_count(0)

    page.click("#buy-hour-5")
    page.wait_for_url(f"{stripe_fake.url}/pay/*")
    expect(page.locator("#fake-checkout")).to_be_visible()
    session_id = page.url.rsplit("/", 1)[1]
    session = stripe_fake.sessions[session_id]
    assert session["metadata"]["user_id"] == str(user_id)

    page.goto(f"{web_app}/billing?checkout=success&session_id={session_id}")  # Stripe's return
    expect(page.locator("#checkout-note")).to_contain_text("once Stripe confirms")
    expect(page.locator("#balance")).to_have_text(str(before))
    paid = {**session, "status": "complete", "payment_status": "paid", "payment_intent": "pi_b"}
    assert deliver(web_app, event("checkout.session.completed", paid)).status_code == 200
    page.reload()
    expect(page.locator("#balance")).to_have_text(str(before + 60))
    expect(page.locator(".ledger-row", has_text="purchase")).to_contain_text("+60")
    screenshot(page, "billing-4-bought")


def test_start_beyond_the_balance_is_refused_with_a_link_to_billing(
    web_app: str, settings: Settings, page: Page, screenshot, tmp_path: Path
) -> None:
    user_id, email = new_account(settings)
    _sign_in(page, web_app, email)
    _upload_story(page, web_app, tmp_path)
    book_url = page.url
    with session_scope(settings.database_url) as session:  # spend it all
        ledger.grant(session, user_id, -balance(settings, user_id), actor_id=user_id, note="test")

    page.goto(book_url)
    expect(page.locator("#quote")).to_contain_text("balance 0")
    expect(page.locator("#quote-billing-link")).to_be_visible()
    page.click("#start")
    expect(page.locator("#start-error")).to_contain_text("the balance is 0")
    screenshot(page, "billing-5-refused")
    page.click("#start-billing-link")
    page.wait_for_url("**/billing")
    expect(page.locator("#balance")).to_have_text("0")
