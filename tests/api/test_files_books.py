"""Files and books through the API: upload, list, download by signed link, delete; a
book made from an upload (and from a file sent with the request) is inspected by the
real ``inspect`` job and shows its chapters, text and quote; 413 and 400 refusals."""

from __future__ import annotations

from urllib.parse import urlsplit

from audiobook_app.db.models import File
from audiobook_app.state.clients import storage
from tests.api.conftest import BASE_URL
from tests.platform.harness import STORY


def _upload(api, author, name: str = "lighthouse.txt", data: bytes = STORY.encode()):
    return api.client.post(
        "/api/v1/files", files={"file": (name, data, "text/plain")}, headers=author.headers
    )


def test_upload_list_download_delete(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    response = _upload(api, alice)
    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert (uploaded["name"], uploaded["purpose"], uploaded["book_id"]) == (
        "lighthouse.txt",
        "source",
        None,
    )
    assert uploaded["size_bytes"] == len(STORY.encode())

    listed = api.client.get("/api/v1/files", headers=alice.headers).json()
    assert [f["id"] for f in listed["items"]] == [uploaded["id"]]
    assert listed["next_offset"] is None

    detail = api.client.get(f"/api/v1/files/{uploaded['id']}", headers=alice.headers).json()
    link = detail["download"]["url"]
    assert link.startswith(f"{BASE_URL}/api/v1/downloads/users/{alice.id}/uploads/")
    body = api.client.get(link)  # no API key: the signature is the permission
    assert body.status_code == 200 and body.content == STORY.encode()
    tampered = link.replace("sig=", "sig=0")
    assert api.client.get(tampered).status_code == 403
    moved = link.replace("/lighthouse.txt?", "/other.txt?")
    assert api.client.get(moved).status_code == 403

    with api.session() as session:
        key = session.get(File, uploaded["id"]).key
    assert storage().exists(key)
    deleted = api.client.delete(f"/api/v1/files/{uploaded['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert not storage().exists(key)
    gone = api.client.get(f"/api/v1/files/{uploaded['id']}", headers=alice.headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert api.client.get(urlsplit(link).path + "?" + urlsplit(link).query).status_code == 404


def test_upload_over_the_limit_is_413_and_a_non_manuscript_400(make_api) -> None:
    api = make_api(max_upload_bytes=1000)
    alice = api.author("alice@example.com")
    too_big = _upload(api, alice, data=b"word " * 201)  # 1005 bytes
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "upload_too_large"
    assert "upload limit" in too_big.json()["error"]["message"]
    in_one_call = api.client.post(
        "/api/v1/books",
        files={"file": ("big.txt", b"word " * 201, "text/plain")},
        headers=alice.headers,
    )
    assert in_one_call.status_code == 413
    wrong = _upload(api, alice, name="tool.exe", data=b"MZ\x90\x00")
    assert wrong.status_code == 400
    assert "is not accepted" in wrong.json()["error"]["message"]
    assert api.client.get("/api/v1/files", headers=alice.headers).json()["items"] == []


def test_book_from_an_upload_is_inspected_and_shows_chapters_and_quote(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    file_id = _upload(api, alice).json()["id"]
    created = api.client.post("/api/v1/books", data={"file_id": file_id}, headers=alice.headers)
    assert created.status_code == 201, created.text
    book = created.json()
    assert (book["status"], book["chapters"], book["quote"]) == ("uploaded", [], None)
    # the upload became the book's manuscript: no longer an upload of its own
    assert [f["book_id"] for f in api.client.get("/api/v1/files", headers=alice.headers).json()[
        "items"
    ]] == [book["id"]]  # fmt: skip
    again = api.client.post("/api/v1/books", data={"file_id": file_id}, headers=alice.headers)
    assert again.status_code == 404

    api.run_cpu_jobs()  # the inspect job, in this process
    ready = api.client.get(f"/api/v1/books/{book['id']}", headers=alice.headers).json()
    assert ready["status"] == "ready", ready
    assert [c["title"] for c in ready["chapters"]] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert ready["words"] > 300 and ready["estimated_duration_s"] > 60
    quote = ready["quote"]
    assert quote["chapters"] == [1, 2, 3] and quote["credits"] >= 1
    assert quote["reserve"] == quote["credits"]  # the test settings' margin is 0

    chapters = api.client.get(f"/api/v1/books/{book['id']}/chapters", headers=alice.headers)
    assert chapters.json() == ready["chapters"]
    first = api.client.get(f"/api/v1/books/{book['id']}/chapters/1", headers=alice.headers)
    assert "23 years" in first.json()["text"]
    missing = api.client.get(f"/api/v1/books/{book['id']}/chapters/9", headers=alice.headers)
    assert missing.status_code == 404
    one = api.client.get(
        f"/api/v1/books/{book['id']}/quote",
        params={"chapters": [1], "speed": 2.0},
        headers=alice.headers,
    ).json()
    assert (one["chapters"], one["speed"]) == ([1], 2.0) and one["audio_s"] < quote["audio_s"]
    unknown = api.client.get(
        f"/api/v1/books/{book['id']}/quote", params={"chapters": [7]}, headers=alice.headers
    )
    assert unknown.status_code == 400

    listed = api.client.get("/api/v1/books", headers=alice.headers).json()["items"]
    assert [(b["id"], b["status"], b["latest_job_id"]) for b in listed] == [
        (book["id"], "ready", None)
    ]
    assert (
        api.client.delete(f"/api/v1/books/{book['id']}", headers=alice.headers).status_code == 204
    )
    assert api.client.get(f"/api/v1/books/{book['id']}", headers=alice.headers).status_code == 404
    assert api.client.get("/api/v1/books", headers=alice.headers).json()["items"] == []
    assert storage().list_keys(f"users/{alice.id}/") == []


def test_book_from_a_file_in_one_call_and_refusals(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    created = api.client.post(
        "/api/v1/books",
        files={"file": ("story.txt", STORY.encode(), "text/plain")},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    api.run_cpu_jobs()
    book = api.client.get(f"/api/v1/books/{created.json()['id']}", headers=alice.headers).json()
    assert book["status"] == "ready" and len(book["chapters"]) == 3

    neither = api.client.post("/api/v1/books", data={}, headers=alice.headers)
    assert neither.status_code == 400
    both = api.client.post(
        "/api/v1/books",
        data={"file_id": "1"},
        files={"file": ("story.txt", STORY.encode(), "text/plain")},
        headers=alice.headers,
    )
    assert both.status_code == 400
    # a book's manuscript is not an upload: 409 when made a book again or deleted alone
    source = api.client.get("/api/v1/files", headers=alice.headers).json()["items"][0]
    assert source["book_id"] == book["id"]
    reused = api.client.post("/api/v1/books", data={"file_id": source["id"]}, headers=alice.headers)
    assert reused.status_code == 409
    alone = api.client.delete(f"/api/v1/files/{source['id']}", headers=alice.headers)
    assert alone.status_code == 409
    assert f"book {book['id']}" in alone.json()["error"]["message"]
