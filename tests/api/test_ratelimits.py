"""Rate limits (real Redis, small limits): the request after the limit is refused,
with 429 and a positive ``Retry-After`` in the API and RateLimitedError (its
``retry_after_s``) in the services the pages call: API requests per user (across
keys), job starts (Start and retry), voice tries/designs/clones, failed sign-ins per
account and per address (refused before the password is checked)."""

from __future__ import annotations

import pytest
from rq import Worker

from audiobook_app import library, voice_library
from audiobook_app.accounts import users
from audiobook_app.accounts.api_keys import create_key
from audiobook_app.jobs import queue
from audiobook_app.state import auth
from audiobook_app.state.clients import in_session, redis_conn, storage
from pipeline.errors import InvalidCredentialsError, RateLimitedError, ReferenceAudioError
from tests.platform.harness import PASSWORD

API = "/api/v1"


def _refused(response) -> int:
    """The Retry-After of a 429 (checked to be a positive number of seconds)."""
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert "try again in" in response.json()["error"]["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_api_requests_per_user_across_keys(make_api) -> None:
    api = make_api(rate_api_requests="3/minute")
    alice, bob = api.author("alice@example.com"), api.author("bob@example.com")
    with api.session() as session:
        second = {"Authorization": f"Bearer {create_key(session, alice.id, 'ci').secret}"}
    for headers in (alice.headers, second, alice.headers):
        assert api.client.get(f"{API}/balance", headers=headers).status_code == 200
    _refused(api.client.get(f"{API}/balance", headers=second))
    _refused(api.client.get(f"{API}/books", headers=alice.headers))
    assert api.client.get(f"{API}/balance", headers=bob.headers).status_code == 200


def test_job_starts_count_start_and_retry(make_api) -> None:
    api = make_api(rate_job_starts="2/minute")
    alice = api.author("alice@example.com")
    first = api.client.post(
        f"{API}/jobs", json={"book_id": api.ready_book(alice.id)}, headers=alice.headers
    ).json()
    api.client.post(f"{API}/jobs/{first['id']}/cancel", headers=alice.headers)
    retried = api.client.post(f"{API}/jobs/{first['id']}/retry", headers=alice.headers)
    assert retried.status_code == 202
    api.client.post(f"{API}/jobs/{retried.json()['id']}/cancel", headers=alice.headers)
    _refused(api.client.post(f"{API}/jobs/{retried.json()['id']}/retry", headers=alice.headers))
    other = api.ready_book(alice.id)
    _refused(api.client.post(f"{API}/jobs", json={"book_id": other}, headers=alice.headers))
    with pytest.raises(RateLimitedError) as refused:  # the book page's Start
        library.start(redis_conn(), api.settings, alice.id, other, chosen=[1])
    assert refused.value.retry_after_s >= 1
    assert "conversions started" in str(refused.value)
    assert api.client.get(f"{API}/balance", headers=alice.headers).json()["reserved"] == 0


def test_voice_tries_designs_and_clones_share_one_limit(make_api, tmp_path) -> None:
    api = make_api(
        rate_voice_tries="3/minute",
        qwen_voice_design_dir=tmp_path / "design",
        qwen_base_dir=tmp_path / "base",
    )
    alice = api.author("alice@example.com")
    trial = {"voice_id": "joe-deep", "text": "Hello there."}
    tried = api.client.post(f"{API}/voice-trials", json=trial, headers=alice.headers)
    assert tried.status_code == 202 and tried.json()["status"] == "queued"
    with pytest.raises(ReferenceAudioError):  # counted, then refused for its content
        in_session(
            voice_library.create_clone, api.settings, storage(), alice.id, "Me", b"no", "me.wav",
            None,
        )  # fmt: skip
    conn = redis_conn()
    gpu = Worker([queue.queue(conn, api.settings, "gpu")], connection=conn, name="fake-gpu")
    gpu.register_birth()  # a gpu worker is "running": designs are accepted
    try:
        design = {"description": "calm and low", "text": "Hello there."}
        designed = api.client.post(f"{API}/voice-designs", json=design, headers=alice.headers)
        assert designed.status_code == 202, designed.text
        _refused(api.client.post(f"{API}/voice-designs", json=design, headers=alice.headers))
        with pytest.raises(RateLimitedError):
            in_session(
                voice_library.start_design, conn, api.settings, storage(), alice.id, "calm", "Hi."
            )
    finally:
        gpu.register_death()
    _refused(api.client.post(f"{API}/voice-trials", json=trial, headers=alice.headers))
    with pytest.raises(RateLimitedError):  # refused before the recording is read
        in_session(
            voice_library.create_clone, api.settings, storage(), alice.id, "Me", b"no", "me.wav",
            None,
        )  # fmt: skip
    with pytest.raises(RateLimitedError):  # the Voices page's "Try"
        in_session(voice_library.start_trial, conn, api.settings, alice.id, "joe-deep", "Hello.")
    bob = api.author("bob@example.com")
    assert (
        api.client.post(f"{API}/voice-trials", json=trial, headers=bob.headers).status_code == 202
    )


def test_failed_sign_ins_per_account_refuse_even_the_right_password(make_api) -> None:
    api = make_api(rate_sign_in_account="2/15minutes", rate_sign_in_address="100/15minutes")
    api.author("alice@example.com")
    for address in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(InvalidCredentialsError):
            in_session(users.sign_in_guarded, api.settings, "alice@example.com", "wrong", address)
    with pytest.raises(RateLimitedError) as refused:
        in_session(users.sign_in_guarded, api.settings, "Alice@Example.com", PASSWORD, "10.0.0.3")
    assert refused.value.retry_after_s > 60
    assert "for this account" in str(refused.value) and "minutes" in str(refused.value)
    # the sign-in form's path (state.auth.open_session) is refused the same way
    with pytest.raises(RateLimitedError):
        auth.open_session("alice@example.com", PASSWORD, new_account=False, address="10.0.0.4")
    # another account is not affected
    api.author("bob@example.com")
    token, _, email = auth.open_session(
        "bob@example.com", PASSWORD, new_account=False, address="10.0.0.1"
    )
    assert token and email == "bob@example.com"


def test_failed_sign_ins_per_address(make_api) -> None:
    api = make_api(rate_sign_in_account="100/15minutes", rate_sign_in_address="3/15minutes")
    api.author("carol@example.com")
    for email in ("x@example.com", "y@example.com", "carol@example.com"):
        with pytest.raises(InvalidCredentialsError):
            auth.open_session(email, "wrong", new_account=False, address="192.0.2.7")
    with pytest.raises(RateLimitedError) as refused:
        auth.open_session("carol@example.com", PASSWORD, new_account=False, address="192.0.2.7")
    assert "from this address" in str(refused.value) and refused.value.retry_after_s > 0
    token, _, _ = auth.open_session(
        "carol@example.com", PASSWORD, new_account=False, address="192.0.2.8"
    )
    assert token
