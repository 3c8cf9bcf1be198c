"""Security hardening of the HTTP side, in-process against a real database of each kind
and real Redis: an id in a URL that no row can have answers 404 like a missing one (the
REST API and the cookie routes), manuscript uploads over the size limit or the author's
storage quota answer 413 (from ``Content-Length`` before the body is read, when it is
already over), ``/health`` shows its checks only to this machine and to admins, and the
session cookie is set by the server only: HttpOnly, SameSite=Lax, Secure behind https,
with the session's lifetime, refreshed on each page load."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from audiobook_app.accounts.admin import create_first_admin
from audiobook_app.accounts.sessions import create_session
from audiobook_app.db.models import File, User
from audiobook_app.state import auth
from tests.platform.harness import PASSWORD, STORY

HUGE = "99999999999999999999"  # overflowed SQLite's integer (OverflowError, then a 500)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _token(api, user_id: int) -> str:
    """A session token of ``user_id``, as a sign-in makes one."""
    with api.session() as session:
        return create_session(session, api.settings, session.get(User, user_id))


def _cookie(response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def test_ids_no_row_can_have_answer_404_like_missing_ones(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    book_id = api.ready_book(alice.id)
    for method, path in [
        ("GET", f"/books/{HUGE}"),
        ("GET", "/books/0"),
        ("GET", "/books/-3"),
        ("GET", "/books/abc"),
        ("DELETE", f"/books/{HUGE}"),
        ("GET", f"/books/{HUGE}/chapters"),
        ("GET", f"/books/{book_id}/chapters/0"),
        ("GET", f"/books/{book_id}/chapters/{HUGE}"),
        ("GET", f"/books/{HUGE}/quote"),
        ("GET", f"/books/{HUGE}/output"),
        ("GET", f"/files/{2**31}"),
        ("DELETE", f"/files/{HUGE}"),
        ("GET", "/jobs/%00"),
        ("GET", "/jobs/" + "a" * 65 + "/downloads"),
        ("GET", f"/jobs?book_id={HUGE}"),
        ("GET", f"/voices/v{HUGE}"),
        ("GET", f"/voice-trials/{HUGE}"),
        ("POST", f"/jobs/abc/segments/{HUGE}/0/regenerate"),
        ("POST", f"/jobs/abc/chapters/{HUGE}/regenerate"),
        ("POST", f"/books/{HUGE}/chapters/1/preview"),
    ]:
        response = api.client.request(method, f"/api/v1{path}", headers=alice.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found", (method, path)
    missing = api.client.get(f"/api/v1/books/{book_id + 1}", headers=alice.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # still a key first: a bad id tells nobody anything without one
    assert api.client.get(f"/api/v1/books/{HUGE}").status_code == 401
    # the body's ids stay ordinary validation errors
    body = api.client.post("/api/v1/jobs", json={"book_id": HUGE}, headers=alice.headers)
    assert body.status_code == 422


def test_cookie_routes_range_check_their_ids(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    api.client.cookies.set(auth.SESSION_COOKIE, _token(api, alice.id))
    for path in (
        f"/files/{HUGE}",
        f"/files/{2**31}",
        "/files/0",
        f"/covers/{HUGE}",
        "/jobs/%00/chapters.zip",
        "/jobs/" + "f" * 200 + "/chapters.zip",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, (path, response.text)
    assert api.client.head(f"/files/{HUGE}").status_code == 404


@SQLITE_ONLY
def test_manuscripts_over_the_limit_or_the_quota_are_413(make_api) -> None:
    story = STORY.encode()
    api = make_api(max_upload_bytes=len(story), storage_quota_bytes=2 * len(story) + 10)
    alice = api.author("alice@example.com")

    def post(path: str, data: bytes, headers: dict | None = None, **form):
        files = {"file": ("story.txt", data, "text/plain")}
        return api.client.post(f"/api/v1/{path}", files=files, data=form, headers=headers)

    too_large = post("books", story + b"!", alice.headers)
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "upload_too_large"
    assert too_large.json()["error"]["message"].startswith("story.txt: the file is larger")
    # far over: refused from Content-Length, before the API key is even looked at
    early = post("books", story * 40, headers=None)
    assert early.status_code == 413, early.text
    assert early.json()["error"]["code"] == "upload_too_large"
    assert early.json()["error"]["message"].startswith("the upload (")
    assert post("files", story * 40).status_code == 413

    assert post("books", story, alice.headers).status_code == 201
    upload = post("files", story, alice.headers)
    assert upload.status_code == 201, upload.text
    # the upload becomes a book: it replaces itself, so it fits although 3 copies would not
    made = api.client.post(
        "/api/v1/books", data={"file_id": upload.json()["id"]}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    full = post("books", story, alice.headers)
    assert full.status_code == 413
    error = full.json()["error"]
    assert error["code"] == "storage_quota_exceeded"
    assert "delete books you no longer need" in error["message"]
    assert post("files", story, alice.headers).json()["error"]["code"] == "storage_quota_exceeded"
    with api.session() as session:
        sizes = session.exec(select(File.size_bytes).where(File.owner_id == alice.id)).all()
    assert sizes == [len(story), len(story)]  # nothing stored by the refusals

    bob = api.author("bob@example.com")  # a quota per author
    assert post("books", story, bob.headers).status_code == 201


@SQLITE_ONLY
def test_health_details_only_for_this_machine_and_admins(make_api) -> None:
    api = make_api()
    with api.session() as session:
        admin = create_first_admin(session, api.settings, "root@example.com", PASSWORD)
        admin_token = create_session(session, api.settings, admin)
    author = api.author("alice@example.com")
    app = api.client.app

    anonymous = api.client.get("/health")  # TestClient's peer is "testclient": not local
    assert set(anonymous.json()) == {"healthy"}
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        here = local.get("/health")
        assert {c["name"] for c in here.json()["checks"]} >= {"database", "redis", "workers"}
        assert here.status_code == anonymous.status_code
        proxied = local.get("/health", headers={"X-Forwarded-For": "203.0.113.9"})
        assert set(proxied.json()) == {"healthy"}
    with TestClient(app, client=("::ffff:127.0.0.1", 40000)) as mapped:
        assert "checks" in mapped.get("/health").json()
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        remote.cookies.set(auth.SESSION_COOKIE, _token(api, author.id))
        assert set(remote.get("/health").json()) == {"healthy"}
        remote.cookies.set(auth.SESSION_COOKIE, admin_token)
        assert "checks" in remote.get("/health").json()


@SQLITE_ONLY
def test_the_session_cookie_is_set_by_the_server_httponly_and_secure_behind_https(
    make_api,
) -> None:
    api = make_api(public_base_url="https://studio.example.org", session_ttl_s=7200)
    alice = api.author("alice@example.com")
    token = _token(api, alice.id)
    ticket = auth.issue_ticket(token)

    cross = api.client.get(
        f"/auth/session?ticket={ticket}",
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross.status_code == 303 and cross.headers["location"] == "/signin"
    assert "set-cookie" not in cross.headers
    signed_in = api.client.get(
        f"/auth/session?ticket={ticket}",
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    assert signed_in.headers["cache-control"] == "no-store"
    morsel = _cookie(signed_in)[auth.SESSION_COOKIE]
    assert morsel.value == token
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert morsel["max-age"] == "7200"
    again = api.client.get(f"/auth/session?ticket={ticket}", follow_redirects=False)
    assert again.headers["location"] == "/signin" and "set-cookie" not in again.headers
    assert api.client.get("/auth/session?ticket=", follow_redirects=False).status_code == 303

    api.client.cookies.set(auth.SESSION_COOKIE, token)
    cross_out = api.client.post("/auth/signout", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_out.status_code == 403 and "set-cookie" not in cross_out.headers
    assert auth.resolve(token) is not None
    out = api.client.post("/auth/signout", headers={"Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 204
    removed = _cookie(out)[auth.SESSION_COOKIE]
    assert removed.value == "" and removed["max-age"] == "0" and removed["httponly"]
    assert auth.resolve(token) is None  # the session ended too


@SQLITE_ONLY
def test_page_loads_refresh_the_cookie_for_the_sessions_lifetime(make_api) -> None:
    api = make_api(session_ttl_s=3600)
    token = _token(api, api.author("alice@example.com").id)
    client = api.client
    client.cookies.set(auth.SESSION_COOKIE, token)
    navigate = {"Sec-Fetch-Dest": "document"}
    for headers in (navigate, {"Accept": "text/html,*/*;q=0.8"}):  # with or without Sec-Fetch
        page = client.get("/api/v1/docs", headers=headers)  # an HTML page
        assert page.status_code == 200
        morsel = _cookie(page)[auth.SESSION_COOKIE]
        assert (morsel.value, morsel["max-age"], morsel["httponly"]) == (token, "3600", True)
        assert not morsel["secure"]  # public_base_url is http here
    fetched = client.get("/api/v1/openapi.json", headers={"Sec-Fetch-Dest": "empty"})
    assert "set-cookie" not in fetched.headers  # a script's request, not a page load
    assert "set-cookie" not in client.get("/api/v1/openapi.json").headers
    client.cookies.clear()
    assert "set-cookie" not in client.get("/api/v1/docs", headers=navigate).headers  # none sent
    odd = client.get("/api/v1/docs", headers={**navigate, "Cookie": 'ab_session="a b;c"'})
    assert "set-cookie" not in odd.headers  # not one of our tokens: never echoed
