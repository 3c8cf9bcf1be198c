"""Casting a book (:mod:`audiobook_app.book_cast`) and fixing it
(:mod:`audiobook_app.book_fixes`) against a real database, Redis, storage and
``audiobook worker --burst`` processes with Piper.

The manuscript is a three-chapter TXT with quoted dialogue by two named speakers
(Captain Hale, four lines in chapters 1-2; Martha, three lines in chapters 1-3); the word
"Inishmore" is in chapter 2 only, twice (in Martha's line and in the narration). It is
converted once with a full cast; then (a) Captain Hale is recast and (b) a lexicon
entry respells Inishmore: each time :func:`book_fixes.pending_fix` counts the segments
and chapters exactly, the new job synthesizes exactly those segments, and every other
chapter's file is the same bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app import book_cast, book_fixes, library
from audiobook_app.db.models import Book, Chapter, Job, Segment, Voice, VoiceKind
from audiobook_app.db.session import session_scope
from audiobook_app.storage import user_key
from audiobook_app.voices import voice_choice
from pipeline.config import PipelineConfig
from pipeline.errors import CastError, ConfigError, LexiconEntryError, NotFoundError
from pipeline.revision import Revision
from tests.platform.harness import Platform, call, two_authors

STORY = "\n\n".join(
    [
        "The Ferry",
        "Chapter 1",
        "The ferry left the quay at dawn, and the fog lay low on the water.",
        "“We are late again,” said Martha.",
        "“The tide waits for nobody,” said Captain Hale.",
        "Martha pulled her coat tight and watched the harbour lights go out one by one.",
        "“Mind the ropes,” called Captain Hale from the wheelhouse.",
        "Chapter 2",
        "By noon the island rose out of the grey sea like the back of a whale.",
        "“Is that Inishmore?” asked Martha.",
        "“It is,” said Captain Hale, “and the lantern on the point is the oldest on the coast.”",
        "They tied up at Inishmore beside the lantern house, and a gull screamed from its roof.",
        "Chapter 3",
        "The return crossing was calm, and the evening was warm for April.",
        "“I could do this every day,” said Martha softly.",
        "Nobody answered her; the gulls had the last word.",
    ]
)
SPEAKERS = [{"name": "Captain Hale", "lines": 4}, {"name": "Martha", "lines": 3}]
HALE_LINES = {  # Captain Hale's quotations: one segment each
    "“The tide waits for nobody,”",
    "“Mind the ropes,”",
    "“It is,”",
    "“and the lantern on the point is the oldest on the coast.”",
}
INISHMORE = {  # the segments with Inishmore in them (respelled)
    "“Is that Inish-more?”",
    "They tied up at Inish-more beside the lantern house, and a gull screamed from its roof.",
}


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url, extra={"AUDIOBOOK_QWEN_BASE_DIR": str(tmp_path)})
    yield plat
    plat.stop()


@pytest.fixture
def lib(platform: Platform):
    """(settings, redis, storage, alice's id, bob's id) for this platform."""
    return two_authors(platform)


def burst(platform: Platform, queues: str = "cpu,tts") -> str:
    """Run ``audiobook worker --queues QUEUES --burst`` until the queues are empty; its log."""
    proc = platform.cli("worker", "--queues", queues, "--burst", "--name", "burst", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def stored_book(lib, speakers=SPEAKERS) -> int:
    """Alice's ferry book, stored and marked as the inspect job leaves it (no worker)."""
    settings, _, storage, alice, _ = lib
    with session_scope(settings.database_url) as session:
        book = library.store_manuscript(
            session, storage, settings, alice, "ferry.txt", STORY.encode()
        )
        book.speakers = speakers
        return book.id


def test_a_cast_is_refused_with_a_reason_and_another_authors_voice_reads_as_missing(lib):
    settings, _, _, alice, bob = lib
    book_id = stored_book(lib)
    bobs = Voice(owner_id=bob, name="Bob", kind=VoiceKind.CLONED, engine="piper", model="x")
    bobs_voice = "v" + str(call(settings, lambda s: (s.add(bobs), s.flush(), bobs.id)[-1]))

    def cast(mode="full", narrator="en_US-joe-medium", dialogue=None, characters=None):
        args = (settings, alice, book_id, mode, narrator, dialogue, characters)
        return call(settings, book_cast.set_cast, *args)

    refusals = [
        (lambda: cast(mode="chorus"), "unknown cast mode 'chorus'"),
        (lambda: cast(narrator=""), "choose the narrator's voice"),
        (lambda: cast(narrator="joe-mumble"), "the narrator: there is no voice 'joe-mumble'"),
        (lambda: cast(narrator=bobs_voice), f"there is no voice '{bobs_voice}'"),
        (lambda: cast(characters={"Martha": bobs_voice}), f"Martha: there is no voice '{bobs_voice}'"),
        (lambda: cast(characters={"Ahab": "joe-deep"}), "'Ahab' does not speak in this book"),
        (lambda: cast(mode="dual"), "choose the voice that reads the quotations"),
        (lambda: cast(characters={"Martha": "narrator"}), "a full cast needs at least one"),
    ]  # fmt: skip
    for attempt, message in refusals:
        with pytest.raises(CastError, match=message):
            attempt()
    assert call(settings, book_cast.cast_of, alice, book_id) == book_cast.Cast()  # unchanged
    with pytest.raises(NotFoundError):
        call(settings, book_cast.set_cast, settings, bob, book_id, "single", "joe-deep")
    with pytest.raises(NotFoundError):
        call(settings, book_cast.cast_of, bob, book_id)

    stored = cast(dialogue="narrator", characters={"Captain Hale": "joe-gravel", "Martha": ""})
    assert stored == book_cast.Cast("full", "en_US-joe-medium", "", {"Captain Hale": "joe-gravel"})
    assert call(settings, lambda s: s.get(Book, book_id).casting) == {
        "mode": "full",
        "narrator": "en_US-joe-medium",
        "dialogue": None,
        "characters": {"Captain Hale": "joe-gravel"},
    }


def test_a_lexicon_entry_is_refused_with_a_reason_and_terms_match_without_case(lib):
    settings, _, _, alice, bob = lib
    book_id = stored_book(lib)

    def save(term, respelling, user=alice):
        return call(settings, book_fixes.save_lexicon_entry, user, book_id, term, respelling)

    refusals = [
        (lambda: save("  ", "x"), "type the word or name"),
        (lambda: save("Inishmore", " "), "type how the term should be said"),
        (lambda: save("x" * 81, "y"), "the term is 81 characters; at most 80"),
        (lambda: save("Inishmore", "y" * 201), "the respelling is 201 characters; at most 200"),
        (lambda: save("--", "dash"), "a letter or a digit"),
        (lambda: save("The", "thee"), "'The' is a common word"),
        (lambda: save("Inishmore", "inishmore"), "the term itself"),
    ]
    for attempt, message in refusals:
        with pytest.raises(LexiconEntryError, match=message):
            attempt()
    with pytest.raises(NotFoundError):
        save("Inishmore", "Inish-more", user=bob)
    assert save("Inishmore", "Inish-more") == {"Inishmore": "Inish-more"}
    assert save("  Captain   Hale ", "Cap'n Hale") == {
        "Captain Hale": "Cap'n Hale",
        "Inishmore": "Inish-more",
    }
    assert save("INISHMORE", "Inish-mor") == {
        "Captain Hale": "Cap'n Hale",
        "INISHMORE": "Inish-mor",
    }
    assert call(settings, book_fixes.delete_lexicon_entry, alice, book_id, "inishmore") == {
        "Captain Hale": "Cap'n Hale"
    }
    assert call(settings, lambda s: s.get(Book, book_id).config_overrides) == {
        "lexicon": {"Captain Hale": "Cap'n Hale"}
    }


def test_a_cast_books_job_config_resolves_its_voices_lexicon_and_speed(lib):
    settings, conn, storage, alice, _ = lib
    book_id = stored_book(lib)
    clone = Voice(
        owner_id=alice,
        name="Keeper",
        kind=VoiceKind.CLONED,
        engine="qwen3-tts",
        model="",
        reference_key=f"users/{alice}/voices/keeper.wav",
        reference_text="The keeper climbed the stairs.",
    )
    clone_id = "v" + str(call(settings, lambda s: (s.add(clone), s.flush(), clone.id)[-1]))
    call(
        settings,
        book_cast.set_cast,
        settings,
        alice,
        book_id,
        "full",
        "joe-deep",
        clone_id,
        {"Captain Hale": "joe-gravel"},
    )
    call(settings, book_fixes.save_lexicon_entry, alice, book_id, "Inishmore", "Inish-more")

    def config(speed):
        return call(
            settings,
            lambda s: book_cast.pipeline_config(s, settings, alice, s.get(Book, book_id), speed),
        )

    paced = config(1.25)
    deep, gravel = voice_choice("joe-deep").config, voice_choice("joe-gravel").config
    assert paced.voice == deep.model_copy(
        update={"length_scale": round(deep.length_scale / 1.25, 3)}
    )
    assert paced.cast.mode == "full" and list(paced.cast.characters) == ["Captain Hale"]
    assert paced.cast.characters["Captain Hale"] == gravel.model_copy(
        update={"length_scale": round(gravel.length_scale / 1.25, 3)}
    )
    dialogue = paced.cast.dialogue
    assert (dialogue.engine, dialogue.narrator, dialogue.model_dir) == ("qwen3-tts", "", str(
        settings.qwen_base_dir
    ))  # fmt: skip
    assert dialogue.reference_audio == f"storage:users/{alice}/voices/keeper.wav"
    assert dialogue.reference_text == "The keeper climbed the stairs."
    assert paced.lexicon == {"Inishmore": "Inish-more"}

    with pytest.raises(ConfigError, match="length_scale"):
        config(0.3)  # joe-deep three times slower: beyond what Piper is allowed
    call(settings, book_cast.set_cast, settings, alice, book_id, "single", "joe-deep", clone_id)
    single = config(1.0)
    assert (single.voice, single.cast.dialogue, single.cast.characters) == (deep, None, {})
    call(settings, lambda s: s.delete(s.get(Voice, int(clone_id[1:]))))  # a cast voice deleted
    call(
        settings,
        lambda s: setattr(b := s.get(Book, book_id), "casting", {**b.casting, "mode": "dual"}),
    )
    with pytest.raises(CastError, match=f"no voice '{clone_id}'"):
        config(1.0)


def test_a_cli_jobs_config_is_recorded_as_the_books_cast():
    gravel = voice_choice("joe-gravel").config
    config = PipelineConfig.model_validate(
        {
            "voice": voice_choice("joe-deep").config.model_dump(),
            "cast": {"mode": "full", "characters": {"Hale": gravel.model_dump(), "Ann": {}}},
        }
    )  # Ann's voice (the default Joe) is a built-in too; a custom one would be left out
    assert book_cast.casting_of_config(config) == {
        "mode": "full",
        "narrator": "joe-deep",
        "dialogue": None,
        "characters": {"Hale": "joe-gravel", "Ann": "en_US-joe-medium"},
    }
    custom = config.model_copy(update={"voice": gravel.model_copy(update={"noise_scale": 0.5})})
    assert book_cast.casting_of_config(custom)["narrator"] == "en_US-joe-medium"  # the default


def _job_segments(platform: Platform, job_id: str) -> list[Segment]:
    return platform.read(
        lambda s: list(s.exec(select(Segment).where(Segment.job_id == job_id)).all())
    )


def _synthesized(platform: Platform, job_id: str) -> set[str]:
    """The segment ids the job's workers synthesized (not found stored)."""
    return {s.segment_hash for s in _job_segments(platform, job_id) if s.attempts}


def _texts(storage, user_id: int, job_id: str) -> dict[str, str]:
    """Segment id -> text, from the job's plan.json."""
    doc = json.loads(storage.get_bytes(user_key(user_id, "jobs", job_id, "plan.json")))
    return {s["id"]: s["text"] for c in doc["chapters"] for s in c["segments"]}


def _audio(platform: Platform, job_id: str) -> dict[int, bytes]:
    chapters = platform.read(
        lambda s: list(s.exec(select(Chapter).where(Chapter.job_id == job_id)).all())
    )
    return {c.index: (platform.root / "storage" / c.audio_key).read_bytes() for c in chapters}


def _assembled(platform: Platform, job_id: str) -> tuple[list[int], list[int]]:
    """(chapters the job's assemble mastered, chapters it restored as mastered before)."""
    timings = platform.read(lambda s: s.get(Job, job_id)).timings
    return timings["chapters_mastered"], timings["chapters_reused"]


def _run(platform: Platform, job_id: str) -> None:
    log = burst(platform)
    job = platform.read(lambda s: s.get(Job, job_id))
    assert job.status == "completed", (job.status, job.error, log[-5000:])


def test_recasting_one_character_or_respelling_one_word_resynthesizes_only_what_changed(
    platform, lib
):
    settings, conn, storage, alice, bob = lib
    book_id = library.add_manuscript(conn, settings, storage, alice, "ferry.txt", STORY.encode())
    burst(platform, "cpu")  # the inspect job
    book = platform.read(lambda s: s.get(Book, book_id))
    assert (book.status, book.speakers) == ("ready", SPEAKERS), book.error
    assert call(settings, book_fixes.pending_fix, settings, storage, alice, book_id) is None
    characters = {"Captain Hale": "joe-gravel", "Martha": "joe-light"}
    cast = (settings, alice, book_id, "full", "en_US-joe-medium", None, characters)
    call(settings, book_cast.set_cast, *cast)
    first = library.start(conn, settings, alice, book_id, chosen=[1, 2, 3])
    _run(platform, first)
    segments = _job_segments(platform, first)
    assert len(segments) == 22  # 9, 8 and 5 segments, no two alike: all synthesized
    assert _synthesized(platform, first) == {s.segment_hash for s in segments}

    # (a) Captain Hale recast: his four lines, in chapters 1 and 2
    recast = (settings, alice, book_id, "full", "en_US-joe-medium", None, characters | {
        "Captain Hale": "joe-deep"
    })  # fmt: skip
    call(settings, book_cast.set_cast, *recast)
    fix = call(settings, book_fixes.pending_fix, settings, storage, alice, book_id)
    assert (len(fix.segments), fix.chapters) == (4, (1, 2))
    assert book_fixes.describe(fix) == "4 segments in 2 chapters will be re-synthesized"
    with pytest.raises(NotFoundError):
        book_fixes.apply_fix(conn, settings, bob, book_id)
    second = book_fixes.apply_fix(conn, settings, alice, book_id)
    _run(platform, second)
    assert _synthesized(platform, second) == set(fix.segments)
    assert {_texts(storage, alice, second)[i] for i in fix.segments} == HALE_LINES
    before, after = _audio(platform, first), _audio(platform, second)
    assert after[3] == before[3] and after[1] != before[1] and after[2] != before[2]
    assert _assembled(platform, first) == ([1, 2, 3], [])
    assert _assembled(platform, second) == ([1, 2], [3])  # only the touched chapters

    # (b) Inishmore respelled: Martha's line and one narration paragraph of chapter 2
    call(settings, book_fixes.save_lexicon_entry, alice, book_id, "Inishmore", "Inish-more")
    fix = call(settings, book_fixes.pending_fix, settings, storage, alice, book_id)
    assert (len(fix.segments), fix.chapters) == (2, (2,))
    third = book_fixes.apply_fix(conn, settings, alice, book_id)
    _run(platform, third)
    assert _synthesized(platform, third) == set(fix.segments)
    assert {_texts(storage, alice, third)[i] for i in fix.segments} == INISHMORE
    before, after = after, _audio(platform, third)
    assert (after[1], after[3]) == (before[1], before[3]) and after[2] != before[2]
    assert _assembled(platform, third) == ([2], [1, 3])
    undo = call(settings, book_fixes.delete_lexicon_entry, alice, book_id, "Inishmore")
    assert undo == {}  # the fix undone: chapter 2 as the second job made it, all stored
    fix = call(settings, book_fixes.pending_fix, settings, storage, alice, book_id)
    assert fix == Revision((), (2,))
    assert book_fixes.describe(fix) == (
        "1 chapter will be re-assembled from segments already synthesized"
    )
