"""API keys and ownership: 401 without a key, with an unknown, revoked or disabled
one; keys are stored hashed and shown once (the dashboard's section never sees a
secret again); every route with an object id answers 404 for another author's object,
checked over the app's whole route list (its OpenAPI document), not a sample."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from audiobook_app.accounts.api_keys import revoke_key
from audiobook_app.db.models import ApiKey, User, Voice, VoiceKind, VoiceTrial
from audiobook_app.pages import api_keys as section
from audiobook_app.state.clients import storage
from pipeline.errors import ConflictError, NotFoundError
from tests.platform.harness import STORY

API = "/api/v1"


def test_missing_unknown_revoked_and_disabled_keys_are_401(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    assert api.client.get(f"{API}/balance", headers=alice.headers).status_code == 200
    assert api.client.get(f"{API}/balance", headers={"X-API-Key": alice.key}).status_code == 200
    for headers in (
        {},
        {"Authorization": "Bearer abk_" + "x" * 43},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": f"Basic {alice.key}"},
    ):
        response = api.client.get(f"{API}/balance", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "missing_key"
        assert "API key" in response.json()["error"]["message"]

    with api.session() as session:
        key = session.exec(ApiKey.__table__.select()).first()
        revoke_key(session, alice.id, key.id)
    assert api.client.get(f"{API}/balance", headers=alice.headers).status_code == 401

    bob = api.author("bob@example.com")
    with api.session() as session:
        session.get(User, bob.id).disabled = True
    assert api.client.get(f"{API}/books", headers=bob.headers).status_code == 401


def test_keys_are_stored_hashed_and_shown_once(make_api) -> None:
    api = make_api()
    alice = api.author("alice@example.com")
    secret = section.create_key(alice.id, "laptop")  # what the dashboard's form calls
    assert re.fullmatch(r"abk_[A-Za-z0-9_-]{40,}", secret)
    with api.session() as session:
        rows = session.exec(ApiKey.__table__.select()).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert secret not in stored and alice.key not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    rows = section.key_rows(alice.id)
    assert [(r.name, r.prefix) for r in rows] == [
        ("laptop", secret[:12] + "…"),
        ("tests", alice.key[:12] + "…"),
    ]
    assert not any(secret in str(vars(r)) for r in rows)
    assert (
        api.client.get(f"{API}/balance", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    assert section.key_rows(alice.id)[0].last_used != "never"

    section.revoke_key(alice.id, rows[0].id)
    assert [r.name for r in section.key_rows(alice.id)] == ["tests"]
    with pytest.raises(ConflictError):
        section.revoke_key(alice.id, rows[0].id)
    bob = api.author("bob@example.com")
    with pytest.raises(NotFoundError):
        section.revoke_key(bob.id, section.key_rows(alice.id)[0].id)
    assert (
        api.client.get(f"{API}/balance", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def _bobs_objects(api, bob) -> dict[str, str]:
    """One object of each kind of Bob's: path parameter name -> its id."""
    book_id = api.ready_book(bob.id)
    job = api.client.post(f"{API}/jobs", json={"book_id": book_id}, headers=bob.headers).json()
    upload = api.client.post(
        f"{API}/files", files={"file": ("b.txt", STORY.encode(), "text/plain")}, headers=bob.headers
    ).json()
    design_id = uuid.uuid4().hex[:16]
    storage().put_bytes(
        f"users/{bob.id}/designs/{design_id}/design.json",
        b'{"description": "calm", "text": "Hi.", "n": 3}',
        "application/json",
    )
    with api.session() as session:
        voice = Voice(owner_id=bob.id, name="Bob's", kind=VoiceKind.CLONED, engine="qwen3-tts",
                      model="Base")  # fmt: skip
        trial = VoiceTrial(owner_id=bob.id, voice_id="joe-deep", voice_name="Joe", text="Hi.")
        session.add_all([voice, trial])
        session.flush()
        voice_id, trial_id = f"v{voice.id}", trial.id
    return {
        "book_id": str(book_id),
        "index": "1",
        "job_id": job["id"],
        "file_id": str(upload["id"]),
        "voice_id": voice_id,
        "trial_id": str(trial_id),
        "design_id": design_id,
        "chapter_index": "1",
        "position": "0",
    }


BODIES = {
    "/voice-designs/{design_id}/choose": {"index": 0, "name": "Mine now"},
    "/books/{book_id}/output": {"formats": ["mp3"]},
    "/jobs/{job_id}/segments/{chapter_index}/{position}/regenerate": {"text": "Hi."},
}


def test_every_route_with_an_id_is_404_for_another_authors_object(make_api) -> None:
    api = make_api()
    alice, bob = api.author("alice@example.com"), api.author("bob@example.com")
    ids = _bobs_objects(api, bob)
    paths = api.client.app.openapi()["paths"]  # every route of the API, from the app
    routes = [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{" in path and not path.startswith((f"{API}/admin/", f"{API}/downloads/"))
        for method in sorted(operations)
    ]
    assert len(routes) >= 16 and {m for m, _ in routes} == {"GET", "POST", "PUT", "DELETE"}
    for method, path in routes:
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids[m.group(1)], path)
        body = BODIES.get(path.removeprefix(API))
        response = api.client.request(method, url, json=body, headers=alice.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    # ids in bodies, forms and queries too
    for method, url, kwargs in (
        ("POST", f"{API}/jobs", {"json": {"book_id": int(ids["book_id"])}}),
        ("POST", f"{API}/books", {"data": {"file_id": ids["file_id"]}}),
        ("GET", f"{API}/jobs?book_id={ids['book_id']}", {}),
        ("POST", f"{API}/voice-trials", {"json": {"voice_id": ids["voice_id"], "text": "Hi."}}),
    ):
        response = api.client.request(method, url, headers=alice.headers, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
    # Bob's objects are untouched, and his own key reaches each of them
    assert (
        api.client.get(f"{API}/jobs/{ids['job_id']}", headers=bob.headers).json()["status"]
        == "queued"
    )
    assert api.client.get(f"{API}/books/{ids['book_id']}", headers=bob.headers).status_code == 200
    assert api.client.get(f"{API}/files/{ids['file_id']}", headers=bob.headers).status_code == 200
    assert api.client.get(f"{API}/voices/{ids['voice_id']}", headers=bob.headers).status_code == 200
    assert (
        api.client.get(f"{API}/voice-trials/{ids['trial_id']}", headers=bob.headers).status_code
        == 200
    )
    design = api.client.get(f"{API}/voice-designs/{ids['design_id']}", headers=bob.headers)
    assert design.status_code == 200 and design.json()["description"] == "calm"
