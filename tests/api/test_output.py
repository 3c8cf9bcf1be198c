"""A book's output choices through the API (``GET``/``PUT /books/{id}/output``): the
defaults, a partial update kept across reads and by the next job's config, 400 with the
service's message for a refused choice, 422 for a body that is not the schema, 404 for
another author's book, 401 without a key."""

from __future__ import annotations

from audiobook_app import book_cast
from audiobook_app.db.models import Book
from pipeline.config import OutputConfig

DEFAULTS = {
    "formats": ["m4b", "mp3"],
    "mp3_bitrate_kbps": 192,
    "aac_bitrate_kbps": 64,
    "acx": True,
    "credits": False,
    "retail_sample": False,
    "subtitles": True,
    "readalong": True,
    "audiobookshelf": True,
}


def test_get_and_put_output_choices(make_api) -> None:
    api = make_api()
    alice, bob = api.author("alice@example.com"), api.author("bob@example.com")
    book_id = api.ready_book(alice.id)
    url = f"/api/v1/books/{book_id}/output"
    assert DEFAULTS == OutputConfig().model_dump(mode="json")  # the API shows them all
    got = api.client.get(url, headers=alice.headers)
    assert got.status_code == 200 and got.json() == DEFAULTS

    changes = {"formats": ["mp3", "flac"], "mp3_bitrate_kbps": 320, "credits": True}
    put = api.client.put(url, json=changes, headers=alice.headers)
    assert put.status_code == 200, put.text
    assert put.json() == {**DEFAULTS, **changes}
    put = api.client.put(url, json={"retail_sample": True, "acx": None}, headers=alice.headers)
    assert put.json() == {**DEFAULTS, **changes, "retail_sample": True}  # null: unchanged
    assert api.client.get(url, headers=alice.headers).json() == put.json()
    with api.session() as session:  # the next job of the book runs with them
        book = session.get(Book, book_id)
        config = book_cast.pipeline_config(session, api.settings, alice.id, book)
    assert config.output.model_dump(mode="json") == put.json()

    refused = api.client.put(url, json={"mp3_bitrate_kbps": 128}, headers=alice.headers)
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "config",
        "message": "ACX mode needs MP3 at 192 kbps or more (got 128); turn acx off for a "
        "smaller file",
    }
    unknown_format = api.client.put(url, json={"formats": ["ogg"]}, headers=alice.headers)
    assert unknown_format.status_code == 400
    assert (
        "formats must be some of m4b, mp3, wav, flac" in unknown_format.json()["error"]["message"]
    )
    no_chapters = {"formats": ["m4b"]}  # the retail sample is on: it needs chapter files
    refused = api.client.put(url, json=no_chapters, headers=alice.headers)
    assert refused.status_code == 400 and "retail sample" in refused.json()["error"]["message"]
    assert api.client.get(url, headers=alice.headers).json() == put.json()  # nothing stored

    for body in ({"colour": "blue"}, {"acx": "sometimes"}, {"mp3_bitrate_kbps": "fast"}, []):
        wrong = api.client.put(url, json=body, headers=alice.headers)
        assert wrong.status_code == 422, (body, wrong.text)
        assert wrong.json()["error"]["code"] == "invalid_request"
    off = api.client.put(url, json={"acx": False, "mp3_bitrate_kbps": 128}, headers=alice.headers)
    assert off.status_code == 200 and off.json()["mp3_bitrate_kbps"] == 128

    for method in ("get", "put"):
        theirs = api.client.request(method, url, json={"credits": False}, headers=bob.headers)
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"
        assert api.client.request(method, url, json={}).status_code == 401
    missing = api.client.get("/api/v1/books/999999/output", headers=alice.headers)
    assert missing.status_code == 404
