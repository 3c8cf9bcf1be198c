"""Jobs through the API: Start reserves the quote in the ledger (202), a second Start
of a running book is 409, cancel releases the reservation, retry of a cancelled job
starts a new one that reserves again, 402 when credits are short (nothing recorded),
422 for invalid options, and signed download links to a job's files."""

from __future__ import annotations

from audiobook_app.db import repo
from audiobook_app.db.models import Book, BookStatus, FilePurpose, Job
from audiobook_app.state.clients import storage


def _ledger(api, author) -> list[tuple[str, int]]:
    items = api.client.get("/api/v1/ledger", headers=author.headers).json()["items"]
    return [(e["reason"], e["delta"]) for e in reversed(items)]


def _balance(api, author) -> dict:
    return api.client.get("/api/v1/balance", headers=author.headers).json()


def test_start_cancel_retry_moves_credits(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    book_id = api.ready_book(alice.id, chapters=3, words=100)
    quote = api.client.get(
        f"/api/v1/books/{book_id}/quote", params={"chapters": [1, 2]}, headers=alice.headers
    ).json()
    started = api.client.post(
        "/api/v1/jobs", json={"book_id": book_id, "chapters": [1, 2]}, headers=alice.headers
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["status"], job["book_id"], job["chapters_spec"]) == ("queued", book_id, "1,2")
    assert job["credits_reserved"] == quote["reserve"] > 0
    assert _balance(api, alice) == {
        "balance": 60 - quote["reserve"],
        "reserved": quote["reserve"],
        "credits_per_audio_minute": 1,
    }
    assert _ledger(api, alice) == [("grant", 60), ("reservation", -quote["reserve"])]

    again = api.client.post("/api/v1/jobs", json={"book_id": book_id}, headers=alice.headers)
    assert again.status_code == 409
    assert job["id"] in again.json()["error"]["message"]
    not_failed = api.client.post(f"/api/v1/jobs/{job['id']}/retry", headers=alice.headers)
    assert not_failed.status_code == 409
    assert not_failed.json()["error"]["code"] == "conflict"

    got = api.client.get(f"/api/v1/jobs/{job['id']}", headers=alice.headers).json()
    assert (got["progress"], got["stage"], got["segments_done"]) == (0.0, "queued", 0)
    cancelled = api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert _balance(api, alice)["balance"] == 60
    assert _ledger(api, alice)[-1] == ("release", quote["reserve"])

    retried = api.client.post(f"/api/v1/jobs/{job['id']}/retry", headers=alice.headers)
    assert retried.status_code == 202, retried.text
    new = retried.json()
    assert new["id"] != job["id"] and new["status"] == "queued"
    assert (new["chapters_spec"], new["credits_reserved"]) == ("1,2", quote["reserve"])
    assert _balance(api, alice)["balance"] == 60 - quote["reserve"]

    listed = api.client.get("/api/v1/jobs", headers=alice.headers).json()["items"]
    assert [j["id"] for j in listed] == [new["id"], job["id"]]
    queued = api.client.get(
        "/api/v1/jobs", params={"status": "cancelled", "book_id": book_id}, headers=alice.headers
    ).json()["items"]
    assert [j["id"] for j in queued] == [job["id"]]
    book = api.client.get(f"/api/v1/books/{book_id}", headers=alice.headers).json()
    assert (book["latest_job_id"], book["latest_job_status"]) == (new["id"], "queued")


def test_start_without_enough_credits_is_402_and_records_nothing(make_api) -> None:
    api = make_api(free_credits=2)
    alice = api.author("alice@example.com")
    book_id = api.ready_book(alice.id, chapters=2, words=2000)  # about 22 minutes
    refused = api.client.post("/api/v1/jobs", json={"book_id": book_id}, headers=alice.headers)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "the balance is 2" in error["message"]
    assert api.client.get("/api/v1/jobs", headers=alice.headers).json()["items"] == []
    assert _ledger(api, alice) == [("grant", 2)]


def test_invalid_options_are_422_and_unready_books_400(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    book_id = api.ready_book(alice.id)
    for body in (
        {"book_id": book_id, "speed": 5},
        {"book_id": book_id, "chapters": []},
        {"book_id": "twelve"},
        {},
    ):
        response = api.client.post("/api/v1/jobs", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    assert api.client.get("/api/v1/files?limit=0", headers=alice.headers).status_code == 422
    unknown = api.client.post(
        "/api/v1/jobs", json={"book_id": book_id, "chapters": [9]}, headers=alice.headers
    )
    assert unknown.status_code == 400
    with api.session() as session:
        session.get(Book, book_id).status = BookStatus.UPLOADED
    unready = api.client.post("/api/v1/jobs", json={"book_id": book_id}, headers=alice.headers)
    assert unready.status_code == 400 and "not ready" in unready.json()["error"]["message"]


def test_download_links_of_a_jobs_files(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    book_id = api.ready_book(alice.id)
    job = api.client.post("/api/v1/jobs", json={"book_id": book_id}, headers=alice.headers).json()
    assert api.client.get(f"/api/v1/jobs/{job['id']}/downloads", headers=alice.headers).json() == []
    key = f"users/{alice.id}/jobs/{job['id']}/output/tiny.m4b"
    storage().put_bytes(key, b"m4b bytes", "audio/mp4")
    with api.session() as session:
        row = session.get(Job, job["id"])
        repo.add_file(
            session, alice.id, key, 9, "audio/mp4", FilePurpose.M4B, book_id=book_id, job_id=row.id
        )
    links = api.client.get(f"/api/v1/jobs/{job['id']}/downloads", headers=alice.headers).json()
    assert [(d["name"], d["purpose"], d["size_bytes"]) for d in links] == [("tiny.m4b", "m4b", 9)]
    fetched = api.client.get(links[0]["url"])
    assert fetched.status_code == 200 and fetched.content == b"m4b bytes"
    assert "attachment" in fetched.headers["content-disposition"]
