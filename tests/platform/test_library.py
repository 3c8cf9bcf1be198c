"""The author's library (what the dashboard calls), against real workers, Redis, SQLite
and Piper: upload -> inspect -> choose and rename chapters -> start; each chapter is
playable as soon as it is mastered; ownership; delete."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app import library
from audiobook_app.billing import ledger, pricing
from audiobook_app.db.models import Book, Chapter, File, Job, Task, TaskKind
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from pipeline.errors import ChapterSelectionError, NotFoundError, UploadRejectedError
from tests.platform.harness import Platform, two_authors, wait_for


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url)
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    """(settings, redis, storage, alice's id, bob's id) for this platform."""
    return two_authors(platform)


def _book(platform: Platform, book_id: int) -> Book:
    return platform.read(lambda s: s.get(Book, book_id))


def _chapters(platform: Platform, job_id: str) -> list[Chapter]:
    return platform.read(
        lambda s: list(
            s.exec(select(Chapter).where(Chapter.job_id == job_id).order_by(Chapter.index)).all()
        )
    )


def test_upload_is_inspected_then_converts_the_chosen_chapter_under_its_new_title(
    platform, lib, story
):
    settings, conn, storage, alice, _ = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, story.name, story.read_bytes())
    assert _book(platform, book_id).status == "uploaded"
    platform.start_worker("cpu,tts")
    book = wait_for(
        lambda: (b := _book(platform, book_id)).status != "uploaded" and b, 120, "inspection"
    )
    assert (book.status, book.title) == ("ready", "Lighthouse"), book.error
    assert [(c["index"], c["title"]) for c in book.chapters] == [
        (1, "Chapter 1"),
        (2, "Chapter 2"),
        (3, "Chapter 3"),
    ]
    assert book.words > 100 and book.estimated_duration_s > 30
    texts = library.chapter_texts(storage, book)
    assert texts[1] == "Mr. Abernathy kept the light on the northern rock for 23 years."

    with pytest.raises(ChapterSelectionError):
        library.start(conn, settings, alice, book_id, chosen=[])
    job_id = library.start(conn, settings, alice, book_id, chosen=[3], titles={3: "  Spring  "})
    wait_for(
        lambda: platform.read(lambda s: s.get(Job, job_id)).status == "completed", 240, "the job"
    )
    [chapter] = _chapters(platform, job_id)
    assert (chapter.index, chapter.title, chapter.status) == (3, "Spring", "completed")
    # billed: the quote reserved at Start, released at completion, the real minutes charged
    with session_scope(settings.database_url) as session:
        moves = [(str(e.reason), e.delta) for e in reversed(ledger.entries(session, alice))]
        job = session.get(Job, job_id)
    quoted = pricing.quote(settings, book, [3]).reserve
    assert 0 < job.audio_s < 60
    assert moves == [
        ("grant", settings.free_credits),
        ("reservation", -quoted),
        ("release", quoted),
        ("charge", -1),  # under a minute of audio: one credit
    ]
    with session_scope(settings.database_url) as session:
        files = library.job_files(session, alice, job_id)
        assert [f.key.rsplit("/", 1)[-1] for f in files if f.purpose == "mp3"] == [
            "03 - Spring.mp3"
        ]
        assert files[0].purpose == "m4b"
        summaries = library.history(session, alice)
        assert [(s.book.id, s.job.id) for s in summaries] == [(book_id, job_id)]
    [mail] = wait_for(
        lambda: _outbox(platform), 30, "the end-of-job email"
    )  # sent just after the job row commits
    assert (
        "To: alice@example.com" in mail and "Subject: Your audiobook is ready: Lighthouse" in mail
    )
    assert f"/books/{book_id}" in mail


def _outbox(platform: Platform) -> list[str]:
    """The emails the workers wrote (the outbox mailer; workers run in platform.root)."""
    return [p.read_text() for p in sorted((platform.root / "data" / "outbox").glob("*.eml"))]


def test_a_manuscript_the_parser_rejects_gets_its_message(platform, lib):
    settings, conn, storage, alice, _ = lib
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    book_id = library.add_manuscript(conn, settings, storage, alice, "broken.epub", buf.getvalue())
    platform.start_worker("cpu")
    book = wait_for(
        lambda: (b := _book(platform, book_id)).status != "uploaded" and b, 120, "inspection"
    )
    assert book.status == "rejected" and "broken.epub" in book.error, book.error
    with pytest.raises(ChapterSelectionError, match="not ready"):
        library.start(conn, settings, alice, book_id, chosen=[1])
    with session_scope(
        settings.database_url
    ) as session:  # a job on it anyway (as the CLI could) fails
        _, task = library.queue_job(
            session,
            settings,
            library.owned_book(session, alice, book_id),
            None,
            library.PipelineConfig(),
        )
    queue.enqueue(conn, settings, task)
    [mail] = wait_for(lambda: _outbox(platform), 120, "the failure email")
    assert "Subject: Your audiobook could not be made: broken" in mail and "broken.epub" in mail
    with pytest.raises(UploadRejectedError):
        library.add_pasted_text(conn, settings, storage, alice, "  \n ")


def test_first_chapter_is_playable_while_later_chapters_are_synthesized(platform, lib, story):
    settings, conn, storage, alice, _ = lib
    with session_scope(settings.database_url) as session:
        book = library.store_manuscript(
            session, storage, settings, alice, story.name, story.read_bytes()
        )
        job, task = library.queue_job(session, settings, book, None, library.PipelineConfig())
    queue.enqueue(conn, settings, task)
    platform.start_worker("cpu,tts")
    first = wait_for(
        lambda: (c := _chapters(platform, job.id)) and c[0].audio_key and c,
        240,
        "chapter 1's audio",
    )
    assert platform.read(lambda s: s.get(Job, job.id)).status == "processing"
    assert first[1].status != "completed", "chapter 2 (12 paragraphs) is still being synthesized"
    early = (platform.root / "storage" / first[0].audio_key).read_bytes()
    wait_for(
        lambda: platform.read(lambda s: s.get(Job, job.id)).status == "completed", 240, "the job"
    )
    assert (platform.root / "storage" / first[0].audio_key).read_bytes() == early, (
        "assemble rewrote it bit for bit"
    )
    masters = [
        t
        for t in platform.read(
            lambda s: list(s.exec(select(Task).where(Task.job_id == job.id)).all())
        )
        if t.kind == TaskKind.MASTER
    ]
    assert sorted(t.chapter_index for t in masters) == [1, 2, 3] and {
        t.status for t in masters
    } == {"completed"}


def test_one_author_can_never_reach_anothers_book(platform, lib, story):
    settings, conn, storage, alice, bob = lib
    with session_scope(settings.database_url) as session:
        book = library.store_manuscript(
            session, storage, settings, alice, story.name, story.read_bytes()
        )
        job, _ = library.queue_job(session, settings, book, None, library.PipelineConfig())
        source = session.exec(select(File).where(File.book_id == book.id)).one()
        book_id, job_id, file_id = book.id, job.id, source.id
    with session_scope(settings.database_url) as session:
        assert library.owned_book(session, alice, book_id).id == book_id
        assert library.history(session, bob) == []
        for call in (
            lambda: library.owned_book(session, bob, book_id),
            lambda: library.owned_job(session, bob, job_id),
            lambda: library.owned_file(session, bob, file_id),
            lambda: library.job_chapters(session, bob, job_id),
        ):
            with pytest.raises(NotFoundError):
                call()
    for call in (
        lambda: library.cancel(conn, settings, bob, job_id),
        lambda: library.start(conn, settings, bob, book_id, chosen=[1]),
        lambda: library.save_playback(settings, bob, book_id, 1, 10.0),
        lambda: library.delete_book(conn, settings, storage, bob, book_id),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert storage.exists(_book(platform, book_id).source_key)


def test_delete_cancels_the_job_and_removes_every_file(platform, lib, story):
    settings, conn, storage, alice, _ = lib
    with session_scope(settings.database_url) as session:
        book = library.store_manuscript(
            session, storage, settings, alice, story.name, story.read_bytes()
        )
        job, _ = library.queue_job(session, settings, book, None, library.PipelineConfig())
        book_id, job_id = book.id, job.id
    library.save_playback(settings, alice, book_id, 2, 12.345)
    assert _book(platform, book_id).playback == {"chapter_index": 2, "position_s": 12.3}
    removed = library.delete_book(conn, settings, storage, alice, book_id)
    assert removed == 1  # the source (nothing else was written yet)
    assert platform.read(lambda s: s.get(Job, job_id)).status == "cancelled"
    assert not any((platform.root / "storage").rglob("*.txt"))
    with session_scope(settings.database_url) as session:
        assert library.history(session, alice) == []
        with pytest.raises(NotFoundError):
            library.owned_book(session, alice, book_id)
