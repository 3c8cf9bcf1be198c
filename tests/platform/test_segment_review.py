"""Reviewing what verification heard and regenerating one segment
(:mod:`audiobook_app.segment_review`) against a real database, Redis, storage and
``audiobook worker --burst`` processes with Piper and Whisper: the fixed segment alone is
synthesized and heard again, only its chapter is mastered again, and the other chapters'
files are the same bit for bit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from audiobook_app import book_cast, library, segment_review
from audiobook_app.db.models import Book, Chapter, Job, Segment
from pipeline.config import PipelineConfig, chapter_role
from pipeline.convert import plan_book
from pipeline.errors import CastError, ConflictError, NotFoundError, SegmentFixError
from pipeline.parse import parse_bytes
from tests.platform.harness import Platform, call, two_authors
from tests.platform.test_book_cast import burst

STORY = "\n\n".join(
    [
        "The Ferry",
        "Chapter 1",
        "The ferry left the quay at dawn, and the fog lay low on the water.",
        "Chapter 2",
        "By noon the island rose out of the grey sea like the back of a whale.",
        "They tied up beside the lantern house, and a gull screamed from its roof.",
        "Chapter 3",
        "The return crossing was calm, and the evening was warm for April.",
    ]
)


@pytest.fixture
def platform(tmp_path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url)
    yield plat
    plat.stop()


def _finished(platform: Platform, job_id: str) -> Job:
    job = platform.read(lambda s: s.get(Job, job_id))
    assert job.status == "completed", (job.status, job.error, platform.logs())
    return job


def _audio(platform: Platform, job_id: str) -> dict[int, bytes]:
    chapters = platform.read(
        lambda s: list(s.exec(select(Chapter).where(Chapter.job_id == job_id)).all())
    )
    return {c.index: (platform.root / "storage" / c.audio_key).read_bytes() for c in chapters}


def test_regenerating_one_segment_remasters_only_its_chapter(platform):
    settings, conn, storage, alice, bob = two_authors(platform)
    book_id = library.add_manuscript(conn, settings, storage, alice, "ferry.txt", STORY.encode())
    burst(platform, "cpu")  # the inspect job
    assert platform.read(lambda s: s.get(Book, book_id)).status == "ready"
    first = library.start(conn, settings, alice, book_id, chosen=[1, 2, 3])
    burst(platform)
    _finished(platform, first)

    rows = call(settings, segment_review.job_segments, storage, alice, first)
    assert [(r.chapter_index, r.position) for r in rows][:3] == [(1, 0), (1, 1), (2, 0)]
    gull = next(r for r in rows if "gull" in r.text)
    assert (
        gull.chapter_index == 2
        and gull.takes
        and gull.audio_key.endswith(f"{gull.segment_id}.flac")
    )
    flagged = call(
        settings,
        lambda s: segment_review.job_segments(s, storage, alice, first, flagged_only=True),
    )
    assert all(r.flagged for r in flagged)
    with pytest.raises(NotFoundError):
        call(settings, segment_review.job_segments, storage, bob, first)

    # the author rewrites the gull's sentence
    new_text = "They tied up beside the lantern house, and a black cat slept on its roof."
    second = segment_review.regenerate_segment(
        conn, settings, storage, alice, first, gull.chapter_index, gull.position, new_text
    )
    burst(platform)
    _finished(platform, second)
    timings = platform.read(lambda s: s.get(Job, second)).timings
    assert timings["chapters_mastered"] == [2], timings
    before, after = _audio(platform, first), _audio(platform, second)
    assert before[1] == after[1] and before[3] == after[3] and before[2] != after[2]
    again = call(settings, segment_review.job_segments, storage, alice, second)
    fixed = next(r for r in again if (r.chapter_index, r.position) == (2, gull.position))
    assert fixed.text == new_text and fixed.segment_id != gull.segment_id
    assert "cat" in fixed.takes[fixed.chosen].heard.lower()

    # the same text again: one more regeneration of it, under a new id
    third = segment_review.regenerate_segment(
        conn, settings, storage, alice, second, 2, gull.position
    )
    burst(platform)
    _finished(platform, third)
    rows3 = call(settings, segment_review.job_segments, storage, alice, third)
    redone = next(r for r in rows3 if (r.chapter_index, r.position) == (2, gull.position))
    assert redone.text == new_text and redone.segment_id not in (gull.segment_id, fixed.segment_id)
    book = platform.read(lambda s: s.get(Book, book_id))
    fix = book.config_overrides["segment_fixes"][f"2:{gull.position}"]
    assert fix["take"] == 1 and fix["text"] == new_text and "gull" in fix["original"]

    # a whole chapter again: every segment of chapter 3 gets a new take, nothing else
    fourth = segment_review.regenerate_chapter(conn, settings, storage, alice, third, 3)
    burst(platform)
    _finished(platform, fourth)
    assert platform.read(lambda s: s.get(Job, fourth)).timings["chapters_mastered"] == [3]
    rows4 = call(settings, segment_review.job_segments, storage, alice, fourth)
    old_ids = {r.segment_id for r in rows3}
    assert all(r.segment_id not in old_ids for r in rows4 if r.chapter_index == 3)
    assert all(r.segment_id in old_ids for r in rows4 if r.chapter_index != 3)
    third_audio, fourth_audio = _audio(platform, third), _audio(platform, fourth)
    assert third_audio[1] == fourth_audio[1] and third_audio[2] == fourth_audio[2]

    # refusals
    with pytest.raises(NotFoundError):
        segment_review.regenerate_chapter(conn, settings, storage, alice, fourth, 9)
    with pytest.raises(SegmentFixError):
        segment_review.regenerate_segment(conn, settings, storage, alice, third, 2, 0, "x" * 6000)
    with pytest.raises(NotFoundError):
        segment_review.regenerate_segment(conn, settings, storage, alice, third, 2, 99)
    with pytest.raises(NotFoundError):
        segment_review.regenerate_segment(conn, settings, storage, bob, third, 2, 0)
    running = library.start(conn, settings, alice, book_id, chosen=[1])
    with pytest.raises(ConflictError):
        segment_review.regenerate_chapter(conn, settings, storage, alice, running, 1)
    with pytest.raises(ConflictError):
        segment_review.regenerate_segment(conn, settings, storage, alice, running, 1, 0)


def test_a_chapter_is_regenerated_with_another_voice_and_previewed_alone(platform):
    """Chapter 2 read again by another library voice: only chapter 2 is synthesized and
    mastered (every one of its segments by that voice), the choice is kept for the
    book's later jobs, and choosing the narrator's voice again brings back the first
    job's segments (stored: nothing synthesized). A preview converts one chapter and
    leaves the book's chosen chapters alone; a voice not in the library is refused."""
    settings, conn, storage, alice, _ = two_authors(platform)
    book_id = library.add_manuscript(conn, settings, storage, alice, "ferry.txt", STORY.encode())
    burst(platform, "cpu")  # the inspect job
    first = library.start(conn, settings, alice, book_id, chosen=[1, 2])
    burst(platform)
    _finished(platform, first)
    rows1 = call(settings, segment_review.job_segments, storage, alice, first)

    deep = segment_review.regenerate_chapter(conn, settings, storage, alice, first, 2, "joe-deep")
    burst(platform)
    job = _finished(platform, deep)
    assert job.timings["chapters_mastered"] == [2], job.timings
    config = PipelineConfig.model_validate(job.config)
    assert config.voice_of(chapter_role(2)).length_scale == 1.08  # joe-deep's pace
    segments = platform.read(
        lambda s: list(s.exec(select(Segment).where(Segment.job_id == deep)).all())
    )
    assert {s.chapter_index for s in segments if s.attempts} == {2}
    rows2 = call(settings, segment_review.job_segments, storage, alice, deep)
    old = {r.segment_id for r in rows1}
    assert all((r.segment_id in old) == (r.chapter_index == 1) for r in rows2)
    book = platform.read(lambda s: s.get(Book, book_id))
    assert book.config_overrides["chapter_voices"]["2"]["length_scale"] == 1.08
    _, later = plan_book(
        parse_bytes(STORY.encode(), "ferry.txt"), book_cast_config(settings, alice, book)
    )
    assert {s.voice for s in later[1].segments} == {chapter_role(2)}

    back = segment_review.regenerate_chapter(
        conn, settings, storage, alice, deep, 2, "en_US-joe-medium"
    )
    burst(platform)
    _finished(platform, back)
    rows3 = call(settings, segment_review.job_segments, storage, alice, back)
    assert [r.segment_id for r in rows3] == [r.segment_id for r in rows1]
    segments = platform.read(
        lambda s: list(s.exec(select(Segment).where(Segment.job_id == back)).all())
    )
    assert not any(s.attempts for s in segments)  # the first job's takes, from storage

    with pytest.raises(CastError, match="chapter 2"):
        segment_review.regenerate_chapter(conn, settings, storage, alice, back, 2, "v999")

    preview = library.preview(conn, settings, alice, book_id, 3)
    job = platform.read(lambda s: s.get(Job, preview))
    assert job.chapters_spec == "3"
    assert platform.read(lambda s: s.get(Book, book_id)).chosen_chapters == [1, 2]
    burst(platform)
    _finished(platform, preview)
    assert set(_audio(platform, preview)) == {3}


def book_cast_config(settings, user_id: int, book: Book) -> PipelineConfig:
    """The config the book's next job would run with."""
    return call(settings, lambda s: book_cast.pipeline_config(s, settings, user_id, book))
