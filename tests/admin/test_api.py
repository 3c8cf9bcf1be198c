"""The admin API over ``routes.build_api()`` (the app Reflex mounts): an author's key
gets 403 and no key 401 on EVERY route under /api/v1/admin, every method, enumerated
from the app's route list; an admin's key gets 2xx on every read route, and the write
routes act (grant, role, disable, retry, cancel, recover) with JSON errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from audiobook_app.accounts.api_keys import create_key
from audiobook_app.billing import ledger
from audiobook_app.db.models import JobStatus, User, UserRole
from audiobook_app.db.session import session_scope
from audiobook_app.routes import build_api
from audiobook_app.settings import Settings
from tests.admin.factory import make_book, make_job, make_user

ADMIN_PREFIX = "/api/v1/admin"


@pytest.fixture
def client(process_settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_api()) as test_client:
        yield test_client


def _key(settings: Settings, user_id: int) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        return {"Authorization": f"Bearer {create_key(session, user_id, 'tests').secret}"}


def admin_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route under /api/v1/admin in the app."""
    found = []
    for route in iter_route_contexts(build_api().routes):
        if (route.path or "").startswith(ADMIN_PREFIX):
            found += [
                (method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"
            ]
    return found


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)


def test_an_author_gets_403_and_no_key_401_on_every_admin_route(
    client: TestClient, process_settings: Settings
):
    routes = admin_routes()
    methods = {m for m, _ in routes}
    assert len(routes) >= 15 and methods == {"GET", "POST", "PUT", "DELETE"}, routes
    make_user(process_settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(process_settings, "alice@example.com")
    job = make_job(process_settings, make_book(process_settings, alice), JobStatus.FAILED)
    author = _key(process_settings, alice)
    values = {"user_id": str(alice), "job_id": job, "rq_job_id": "x"}
    for method, template in routes:
        path = _fill(template, values)
        body = {"credits": 5, "reason": "me", "role": "admin"}
        denied = client.request(method, path, headers=author, json=body)
        assert denied.status_code == 403, (method, path, denied.text)
        assert denied.json()["error"]["code"] == "forbidden"
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
    with session_scope(process_settings.database_url) as session:  # and nothing happened
        assert ledger.balance(session, alice) == 0
        assert session.get(User, alice).role == "author"


def test_an_admin_reads_every_read_route(client: TestClient, process_settings: Settings):
    root = make_user(process_settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(process_settings, "alice@example.com")
    job = make_job(
        process_settings, make_book(process_settings, alice, "Moby-Dick"), JobStatus.FAILED
    )
    admin = _key(process_settings, root)
    values = {"user_id": str(alice), "job_id": job, "rq_job_id": "x"}
    reads = [_fill(p, values) for m, p in admin_routes() if m == "GET"]
    assert len(reads) >= 7
    for path in reads:
        response = client.get(path, headers=admin)
        assert response.status_code == 200, (path, response.text)

    users = client.get(f"{ADMIN_PREFIX}/users", headers=admin, params={"q": "alice"}).json()
    assert [(u["email"], u["balance"]) for u in users["items"]] == [("alice@example.com", 0)]
    jobs = client.get(f"{ADMIN_PREFIX}/jobs", headers=admin, params={"status": "failed"}).json()
    assert [(j["id"], j["book_title"]) for j in jobs["items"]] == [(job, "Moby-Dick")]
    assert client.get(f"{ADMIN_PREFIX}/jobs/{job}", headers=admin).json()["tasks"][0]["kind"] == (
        "prepare"
    )
    assert [q["kind"] for q in client.get(f"{ADMIN_PREFIX}/queues", headers=admin).json()] == [
        "cpu",
        "tts",
        "gpu",
    ]
    usage = client.get(f"{ADMIN_PREFIX}/usage", headers=admin, params={"days": 7}).json()
    assert (usage["currency"], len(usage["days"])) == ("usd", 7)
    bad = client.get(f"{ADMIN_PREFIX}/jobs", headers=admin, params={"status": "exploded"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert client.get(f"{ADMIN_PREFIX}/jobs/{'0' * 32}", headers=admin).status_code == 404
    # an id no job can have answers like a missing one (api/errors.py)
    assert client.get(f"{ADMIN_PREFIX}/jobs/nope", headers=admin).status_code == 404
    nul = client.get(f"{ADMIN_PREFIX}/users", headers=admin, params={"q": "\x00"})
    assert nul.status_code == 400 and "NUL" in nul.json()["error"]["message"]


def test_an_admin_grants_changes_roles_disables_retries_and_recovers(
    client: TestClient, process_settings: Settings
):
    root = make_user(process_settings, "root@studio.test", UserRole.ADMIN)
    alice = make_user(process_settings, "alice@example.com")
    job = make_job(process_settings, make_book(process_settings, alice), JobStatus.FAILED)
    admin = _key(process_settings, root)
    url = f"{ADMIN_PREFIX}/users/{alice}"

    granted = client.post(f"{url}/credits", headers=admin, json={"credits": 30, "reason": "promo"})
    assert granted.status_code == 201, granted.text
    assert {k: granted.json()[k] for k in ("delta", "actor_id", "note", "balance")} == {
        "delta": 30,
        "actor_id": root,
        "note": "promo",
        "balance": 30,
    }
    short = client.post(f"{url}/credits", headers=admin, json={"credits": -31, "reason": "x"})
    assert short.status_code == 402
    assert (
        client.post(
            f"{ADMIN_PREFIX}/users/999999/credits",
            headers=admin,
            json={"credits": 1, "reason": "x"},
        ).status_code
        == 404
    )

    retried = client.post(f"{ADMIN_PREFIX}/jobs/{job}/retry", headers=admin)
    assert retried.status_code == 202, retried.text
    new_job = retried.json()["job_id"]
    assert client.post(f"{ADMIN_PREFIX}/jobs/{job}/retry", headers=admin).status_code == 409
    cancelled = client.post(f"{ADMIN_PREFIX}/jobs/{new_job}/cancel", headers=admin)
    assert cancelled.json()["status"] == "cancelled"
    assert client.post(f"{ADMIN_PREFIX}/queues/recover", headers=admin).json() == {"tasks": []}
    gone = client.post(f"{ADMIN_PREFIX}/queues/failed/nope/requeue", headers=admin)
    assert gone.status_code == 404

    assert (
        client.put(f"{url}/role", headers=admin, json={"role": "admin"}).json()["role"] == "admin"
    )
    own = client.post(f"{ADMIN_PREFIX}/users/{root}/disable", headers=admin)
    assert own.status_code == 409 and own.json()["error"]["code"] == "conflict"
    assert client.post(f"{url}/disable", headers=admin).json()["disabled"] is True
    assert client.post(f"{url}/enable", headers=admin).json()["disabled"] is False

    log = client.get(f"{ADMIN_PREFIX}/audit", headers=admin, params={"actor": "root@"}).json()
    actions = [row["action"] for row in log["items"]]
    for expected in (
        "credits.grant",
        "admin.job.retry",
        "job.cancel",
        "admin.queue.recover",
        "admin.user.role",
        "admin.user.disable",
        "admin.user.enable",
    ):
        assert expected in actions
