"""The ``inspect`` job has the same lease and watchdog as a job's tasks
(:mod:`audiobook_app.jobs.inspections`), with real worker processes and Redis: a worker
SIGKILLed in the middle of parsing leaves the book to another worker; an RQ job Redis
lost is enqueued again; one interrupted too often is rejected with a message; a run
that lost the book records nothing; a run reports which step of the reading it is at."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer
from sqlalchemy import update

from audiobook_app import library
from audiobook_app.db.models import Book, BookStatus, utcnow
from audiobook_app.jobs import inspections, queue
from audiobook_app.storage import size_text
from tests.platform.harness import STORY, Platform, call, two_authors, wait_for

LEASE_S = 3  # AUDIOBOOK_INSPECT_LEASE_S of these tests (the smallest allowed)
# A manuscript whose parse and analysis take seconds (speaker attribution of 20,000
# quotations): long enough to kill its worker in the middle.
SLOW = "Chapter 1\n\n" + "\n\n".join(
    f'"Where is lamp {n}?" asked Mary. "Up the stairs," said John, and he laughed.'
    for n in range(20000)
)


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url, extra={"AUDIOBOOK_INSPECT_LEASE_S": str(LEASE_S)})
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    return two_authors(platform)


def _book(platform: Platform, book_id: int) -> Book:
    return platform.read(lambda s: s.get(Book, book_id))


def _read(platform: Platform, book_id: int) -> Book:
    return wait_for(
        lambda: (b := _book(platform, book_id)).status != BookStatus.UPLOADED and b,
        240,
        "the manuscript to be read",
    )


def test_an_inspect_whose_worker_is_killed_mid_parse_is_redone_by_another(platform, lib):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "slow.txt", SLOW.encode())
    first = platform.start_worker("cpu", name="first")
    wait_for(lambda: _book(platform, book_id).inspect_attempts >= 1, 120, "the parse to start")
    platform.kill(first)
    killed = _book(platform, book_id)
    assert (killed.status, killed.inspect_attempts) == ("uploaded", 1), "killed mid-parse"
    platform.start_worker("cpu", name="second")
    book = _read(platform, book_id)
    assert (book.status, book.title, book.inspect_attempts) == ("ready", "Slow", 2), book.error
    assert book.inspect_rq_job_id == f"inspect-{book_id}-a2"
    assert book.inspect_lease_expires_at is None
    assert f"watchdog redid the inspection of book(s) [{book_id}]" in platform.logs(None)


def test_an_inspect_job_redis_lost_is_enqueued_again(platform, lib, tmp_path):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "story.txt", STORY.encode())
    rq_id = _book(platform, book_id).inspect_rq_job_id
    assert rq_id == f"inspect-{book_id}-a1"
    RQJob.fetch(rq_id, connection=conn, serializer=JSONSerializer).delete(remove_from_queue=True)
    assert queue.queue(conn, settings, "cpu").count == 0
    platform.start_worker("cpu")
    book = _read(platform, book_id)
    assert (book.status, book.inspect_attempts) == ("ready", 1), book.error
    assert "has no live RQ job (None)" in platform.logs(None)


def test_an_inspect_interrupted_too_often_is_rejected(platform, lib):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "story.txt", STORY.encode())
    # a queued job with a live lease is left alone
    assert inspections.reconcile(conn, settings) == []
    rq_id = _book(platform, book_id).inspect_rq_job_id
    RQJob.fetch(rq_id, connection=conn, serializer=JSONSerializer).delete(remove_from_queue=True)
    call(
        settings,
        lambda s: s.execute(
            update(Book)
            .where(Book.id == book_id)
            .values(
                inspect_attempts=settings.max_task_attempts,
                inspect_lease_expires_at=utcnow() - timedelta(seconds=1),
            )
        ),
    )
    assert inspections.reconcile(conn, settings) == [book_id]
    book = _book(platform, book_id)
    assert book.status == "rejected"
    assert f"interrupted {settings.max_task_attempts} times" in book.error
    assert "story.txt" in book.error
    assert queue.queue(conn, settings, "cpu").count == 0


def test_a_run_that_lost_the_book_records_nothing(platform, lib):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "story.txt", STORY.encode())
    current = _book(platform, book_id).inspect_rq_job_id
    assert inspections.start_run(settings, book_id, "inspect-stale") is None
    assert inspections.start_run(settings, book_id, current) is not None
    assert not inspections.renew_lease(settings, book_id, "inspect-stale")
    assert inspections.renew_lease(settings, book_id, current)
    assert not inspections.finish_run(settings, book_id, "inspect-stale", status="ready")
    assert _book(platform, book_id).status == "uploaded"
    assert inspections.finish_run(settings, book_id, current, status="rejected", error="x")
    assert _book(platform, book_id).status == "rejected"


def test_a_big_manuscript_says_which_step_of_its_reading_it_is_at(platform, lib):
    """While the book page shows "Reading the manuscript…", the inspect job reports its
    steps (what the page adds after it): a slow manuscript is seen at the analysis step,
    with its size, before it is read."""
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "slow.txt", SLOW.encode())
    assert inspections.progress_text(conn, settings, book_id) == ""  # not started
    platform.start_worker("cpu")
    seen = set()

    def analysing() -> bool:
        seen.add(inspections.progress_text(conn, settings, book_id))
        return any("step 3 of 5: reading the text" in text for text in seen)

    wait_for(analysing, 120, "the analysis step")
    size = size_text(len(SLOW.encode()))
    assert f"step 3 of 5: reading the text and who speaks ({size})" in seen, seen
    assert size.endswith(" MB") and _read(platform, book_id).status == "ready"
