"""The built-in admin pages in a real browser, against the app as ``scripts/run.sh``
starts it: every registered page under /admin (enumerated from the Reflex app, not a
sample) sends a signed-out visitor to sign in and shows an author "Not found" and
nothing else; an admin sees every admin page, finds the author on the users page,
grants credits with the grant form, sees the result and the new balance, and finds the
grant (naming the admin and the reason) in the ledger and the audit log."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import col, select

from audiobook_app.billing import ledger
from audiobook_app.db.models import LedgerEntry, User, UserRole
from audiobook_app.db.session import session_scope
from tests.web.test_journey import sign_up

pytestmark = pytest.mark.web

ADMIN_TITLES = {
    "/admin": "Users",
    "/admin/users": "Users",
    "/admin/jobs": "Jobs",
    "/admin/queue": "Queue and workers",
    "/admin/usage": "Usage and revenue",
    "/admin/audit": "Audit log",
}


def admin_routes() -> list[str]:
    """Every page route of the Reflex app under /admin (the @rx.page pages, which
    audiobook_app.audiobook_app adds to the app once at import)."""
    from audiobook_app.audiobook_app import app

    registered = ["/" + route.strip("/") for route in app._unevaluated_pages]
    return sorted(r for r in registered if r == "/admin" or r.startswith("/admin/"))


def _set_role(database_url: str, email: str, role: UserRole) -> int:
    """Give ``email`` the ``role`` (whoever the first account of the app was); its id."""
    with session_scope(database_url) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        user.role = role
        session.add(user)
        return user.id


def _balance(database_url: str, user_id: int) -> int:
    with session_scope(database_url) as session:
        return ledger.balance(session, user_id)


def test_authors_see_not_found_and_an_admin_grants_credits(
    web_app: str, web_env: dict[str, str], page: Page, browser: Browser, screenshot
) -> None:
    routes = admin_routes()
    assert set(routes) == set(ADMIN_TITLES), routes  # a new admin page needs a title here
    database_url = web_env["DATABASE_URL"]

    admin_email = sign_up(page, web_app)
    admin_id = _set_role(database_url, admin_email, UserRole.ADMIN)

    author_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        author = author_context.new_page()
        author.goto(web_app + "/admin")
        author.wait_for_url("**/signin")  # signed out: sign in first
        author_email = sign_up(author, web_app)
        author_id = _set_role(database_url, author_email, UserRole.AUTHOR)
        for route in routes:
            author.goto(web_app + route)
            expect(author.locator("#not-found")).to_have_text("Not found")
            assert author.locator("body").inner_text().strip() == "Not found", route
            for admin_only in ("#admin-nav", "#admin-title", "#grant-email", ".admin-user-row"):
                expect(author.locator(admin_only)).to_have_count(0)
        screenshot(author, "admin-author-not-found")
    finally:
        author_context.close()

    before = _balance(database_url, author_id)
    page.goto(web_app + "/admin")
    expect(page.locator("#admin-title")).to_have_text("Users")
    row = page.locator(".admin-user-row").filter(has_text=author_email)
    expect(row).to_have_count(1)
    expect(row.locator(".admin-user-balance")).to_have_text(str(before))
    page.fill("#grant-email", author_email)
    page.fill("#grant-credits", "25")
    page.fill("#grant-note", "launch promo")
    page.click("#grant-submit")
    expect(page.locator("#grant-result")).to_have_text(
        f"Granted 25 credits to {author_email}: the balance is {before + 25}"
    )
    expect(row.locator(".admin-user-balance")).to_have_text(str(before + 25))
    screenshot(page, "admin-users-granted")
    assert _balance(database_url, author_id) == before + 25
    with session_scope(database_url) as session:
        entry = session.exec(
            select(LedgerEntry)
            .where(LedgerEntry.user_id == author_id)
            .order_by(col(LedgerEntry.id).desc())
        ).first()
        assert (entry.reason, entry.delta, entry.actor_id, entry.note) == (
            "grant",
            25,
            admin_id,
            "launch promo",
        )

    for route, title in ADMIN_TITLES.items():
        page.goto(web_app + route)
        expect(page.locator("#admin-title")).to_have_text(title)
        expect(page.locator("#admin-nav")).to_be_visible()
    page.goto(web_app + "/admin/audit")
    grant_row = page.locator(".admin-audit-row").filter(has_text="credits.grant").first
    expect(grant_row).to_contain_text(admin_email)
    expect(grant_row).to_contain_text("launch promo")
    page.goto(web_app + "/admin/queue")
    expect(page.locator(".admin-queue-row")).to_have_count(3)
    expect(page.locator(".admin-worker-row").first).to_be_visible()  # run.sh's worker
    screenshot(page, "admin-queue")
    page.goto(web_app + "/admin/usage")
    expect(page.locator(".admin-usage-row")).to_have_count(30)
    expect(page.locator("#chart-credits .recharts-wrapper")).to_be_visible()
    screenshot(page, "admin-usage")
