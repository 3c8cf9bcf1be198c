"""The REST API of the LIVE app (``scripts/run.sh``, the ``web_app`` fixture).

schemathesis: every operation of the OpenAPI document at ``/api/v1/openapi.json`` is
called with generated requests (its examples, the coverage phase's edge cases and a
bounded fuzzing run), authenticated as an author, and no response may be a server error
(5xx). And in a browser: a key created in the dashboard's "API keys" section is shown
once, works against the API, and stops working when revoked there.

Each operation gets an author of its own (created directly in the app's database,
with an API key), so the per-user API rate limit (300 requests a minute by default)
is not what the run measures. ``MAX_EXAMPLES`` bounds the fuzzing per operation so the
whole run takes a few minutes.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest
import schemathesis
from playwright.sync_api import Page, expect
from schemathesis.checks import not_a_server_error

from audiobook_app.accounts.api_keys import create_key
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from tests.platform.harness import PASSWORD
from tests.web.test_journey import sign_up as sign_up_in_browser

MAX_EXAMPLES = 30  # fuzzed requests per operation (after its examples and coverage cases)


@pytest.fixture(scope="module")
def author_headers(web_env: dict[str, str]):
    """``headers(operation label)``: the Authorization header of that operation's own
    author, created on first use in the app's database."""
    settings = Settings(_env_file=None, database_url=web_env["DATABASE_URL"])
    made: dict[str, dict[str, str]] = {}

    def headers(label: str) -> dict[str, str]:
        if label not in made:
            with session_scope(settings.database_url) as session:
                user = sign_up(
                    session, settings, f"fuzz-{uuid.uuid4().hex[:8]}@example.com", PASSWORD
                )
                made[label] = {
                    "Authorization": f"Bearer {create_key(session, user.id, 'fuzz').secret}"
                }
        return made[label]

    return headers


@pytest.fixture(scope="module")
def api_schema(web_app: str):
    """The live app's OpenAPI document as a schemathesis schema, bounded."""
    schema = schemathesis.openapi.from_url(f"{web_app}/api/v1/openapi.json")
    schema.config.update(base_url=web_app, request_timeout=60)
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _pytest9_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 reads ``node._nodeid`` (to name each operation's subtest), which
    pytest 9 no longer has: give it the node id it expects."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.mark.web
@schema.parametrize()
def test_no_operation_answers_a_server_error(case, author_headers) -> None:
    """Every generated request of every operation: the check ``not_a_server_error``."""
    case.call_and_validate(
        headers=author_headers(case.operation.label), checks=[not_a_server_error]
    )


def _api_status(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.web
def test_a_dashboard_key_is_shown_once_works_and_is_revoked(web_app: str, page: Page, screenshot):
    sign_up_in_browser(page, web_app)
    page.fill("#api-key-name", "laptop")
    page.click("#api-key-create")
    secret = page.locator("#api-key-secret")
    expect(secret).to_contain_text("abk_")
    key = secret.inner_text().strip()
    rows = page.locator(".api-key-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("laptop")
    expect(rows.first).to_contain_text(key[:12])
    screenshot(page, "api-key-created")
    assert _api_status(f"{web_app}/api/v1/balance", key) == 200

    page.reload()  # shown once: gone after a reload, the row (its prefix only) stays
    expect(rows).to_have_count(1)
    expect(page.locator("#api-key-secret")).to_have_count(0)
    assert key not in page.content()
    page.click(".api-key-revoke")
    expect(rows).to_have_count(0)
    assert _api_status(f"{web_app}/api/v1/balance", key) == 401
