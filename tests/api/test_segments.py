"""Segment review through the API: a finished job's segments as its report lists them
(all, or only the flagged), with links that download the kept audio and each take; 404
for another author or a job without a report; regenerate refuses a job that has not
completed (409), a segment the plan lacks (404) and text too long (422); a chapter
regenerated with another voice runs with it (a voice outside the library: 400), and a
chapter preview is a one-chapter job that keeps the book's choice. The whole
regeneration runs against real workers in tests/platform/test_segment_review.py."""

from __future__ import annotations

import json

from audiobook_app.db import repo
from audiobook_app.db.models import Book, FilePurpose, Job, JobStatus
from audiobook_app.state.clients import storage
from pipeline.config import PipelineConfig

TAKE = {"errors": 0, "words": 4, "duration_s": 1.5, "plausible": True}


def _report(segment_ids: list[str]) -> dict:
    good, bad = segment_ids
    return {
        "passed": True,
        "chapters": [
            {
                "index": 1,
                "segments": [
                    {
                        "index": 0,
                        "segment_id": good,
                        "text": "Chapter One.",
                        "wer": 0.0,
                        "takes": [
                            {**TAKE, "take": 0, "wer": 0.0, "heard": "Chapter 1", "passed": True}
                        ],
                        "chosen": 0,
                        "flagged": False,
                    },
                    {
                        "index": 1,
                        "segment_id": bad,
                        "text": "Datta. Dayadhvam. Damyata.",
                        "wer": 1.0,
                        "takes": [
                            {**TAKE, "take": t, "wer": 1.0, "heard": "Data", "passed": False}
                            for t in range(3)
                        ],
                        "chosen": 0,
                        "flagged": True,
                    },
                ],
            }
        ],
    }


def test_segments_of_a_finished_job_and_regenerate_refusals(make_api) -> None:
    api = make_api()
    alice, bob = api.author("alice@example.com"), api.author("bob@example.com")
    book_id = api.ready_book(alice.id)
    job = api.client.post("/api/v1/jobs", json={"book_id": book_id}, headers=alice.headers).json()
    url = f"/api/v1/jobs/{job['id']}/segments"
    assert api.client.get(url, headers=alice.headers).status_code == 404  # no report yet
    queued = api.client.post(f"{url}/1/0/regenerate", json={}, headers=alice.headers)
    assert queued.status_code == 409, queued.text

    ids = ["a" * 24, "b" * 24]
    books = f"users/{alice.id}/books/{book_id}"
    store = storage()
    store.put_bytes(f"{books}/segments/{ids[1]}.flac", b"kept take", "audio/flac")
    store.put_bytes(f"{books}/takes/{ids[1]}.take2.flac", b"third take", "audio/flac")
    key = f"users/{alice.id}/jobs/{job['id']}/output/report.json"
    store.put_bytes(key, json.dumps(_report(ids)).encode(), "application/json")
    plan = {"chapters": [{"index": 1, "title": "Chapter 1", "words": 4, "segments": []}]}
    store.put_bytes(
        f"users/{alice.id}/jobs/{job['id']}/plan.json",
        json.dumps(plan).encode(),
        "application/json",
    )
    with api.session() as session:
        row = session.get(Job, job["id"])
        row.status = JobStatus.COMPLETED
        session.add(row)
        repo.add_file(
            session,
            alice.id,
            key,
            10,
            "application/json",
            FilePurpose.REPORT,
            book_id=book_id,
            job_id=row.id,
        )

    every = api.client.get(url, headers=alice.headers).json()
    assert [(s["chapter_index"], s["position"], s["flagged"]) for s in every] == [
        (1, 0, False),
        (1, 1, True),
    ]
    assert every[0]["takes"][0]["audio_url"] is None  # one take: it is the segment's audio
    flagged = api.client.get(url, params={"flagged": True}, headers=alice.headers).json()
    assert [s["segment_id"] for s in flagged] == [ids[1]]
    assert [t["take"] for t in flagged[0]["takes"]] == [0, 1, 2]
    assert api.client.get(flagged[0]["audio_url"]).content == b"kept take"
    assert api.client.get(flagged[0]["takes"][2]["audio_url"]).content == b"third take"
    assert api.client.get(url, headers=bob.headers).status_code == 404

    missing = api.client.post(f"{url}/1/5/regenerate", json={}, headers=alice.headers)
    assert missing.status_code == 404, missing.text
    no_chapter = api.client.post(
        f"/api/v1/jobs/{job['id']}/chapters/7/regenerate", headers=alice.headers
    )
    assert no_chapter.status_code == 404, no_chapter.text
    too_long = api.client.post(
        f"{url}/1/0/regenerate", json={"text": "x" * 6000}, headers=alice.headers
    )
    assert too_long.status_code == 422

    # a chapter read by another voice: a voice outside the library is refused, naming it
    regen = f"/api/v1/jobs/{job['id']}/chapters/1/regenerate"
    unknown = api.client.post(regen, json={"voice": "v999"}, headers=alice.headers)
    assert unknown.status_code == 400 and "chapter 1" in unknown.text, unknown.text
    deep = api.client.post(regen, json={"voice": "joe-deep"}, headers=alice.headers)
    assert deep.status_code == 202, deep.text
    with api.session() as session:
        config = PipelineConfig.model_validate(session.get(Job, deep.json()["id"]).config)
        chosen = session.get(Book, book_id).chosen_chapters
    assert config.chapter_voices[1].length_scale == 1.08  # joe-deep

    # a preview of one chapter: refused while a job of the book runs, then a job of
    # that chapter alone that leaves the book's chosen chapters as they were
    preview = f"/api/v1/books/{book_id}/chapters/1/preview"
    assert api.client.post(preview, headers=alice.headers).status_code == 409
    with api.session() as session:
        row = session.get(Job, deep.json()["id"])
        row.status = JobStatus.COMPLETED
        session.add(row)
    assert api.client.post(preview, headers=bob.headers).status_code == 404
    started = api.client.post(preview, headers=alice.headers)
    assert started.status_code == 202, started.text
    assert started.json()["chapters_spec"] == "1"
    with api.session() as session:
        assert session.get(Book, book_id).chosen_chapters == chosen
