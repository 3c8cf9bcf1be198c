"""The voices stage: the cast decides who reads each run of a paragraph; the segmenter
keeps every speaker's words in their own segments; recasting one character changes only
that character's segment ids (so only those are synthesized again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.casting import cast_chapter
from pipeline.config import PipelineConfig, VoiceConfig
from pipeline.convert import voice_keys
from pipeline.dialogue import Quote
from pipeline.models import Block, BlockKind, Chapter
from pipeline.segment import segment_chapter

P = BlockKind.PARAGRAPH
TEXT = "“Hello,” said Hyde, and he smiled. “Go away,” said Jekyll. “Never,” he answered."
HELLO = TEXT.index("“Hello,”"), TEXT.index("“Hello,”") + len("“Hello,”")
GO = TEXT.index("“Go away,”"), TEXT.index("“Go away,”") + len("“Go away,”")
NEVER = TEXT.index("“Never,”"), TEXT.index("“Never,”") + len("“Never,”")
CHAPTER = Chapter(1, "Chapter 1", (Block(P, "It was night."), Block(P, TEXT)))
QUOTES = [Quote(1, *HELLO, "Hyde"), Quote(1, *GO, "Jekyll"), Quote(1, *NEVER, None)]
DEEP = VoiceConfig(pitch_semitones=-3.0)
BRIGHT = VoiceConfig(pitch_semitones=4.0)


def _config(**cast) -> PipelineConfig:
    return PipelineConfig.model_validate({"cast": cast})


def _runs(chapter: Chapter) -> list[tuple[str, str | None, bool]]:
    return [(b.text, b.speaker, b.joined) for b in chapter.blocks]


def test_single_voice_leaves_the_chapter_alone():
    assert cast_chapter(CHAPTER, QUOTES, PipelineConfig().cast) is CHAPTER


def test_dual_mode_gives_every_quotation_to_the_dialogue_voice():
    cast = cast_chapter(CHAPTER, QUOTES, _config(mode="dual", dialogue=DEEP.model_dump()).cast)
    assert _runs(cast) == [
        ("It was night.", None, False),
        ("“Hello,”", "dialogue", False),
        ("said Hyde, and he smiled.", None, True),
        ("“Go away,”", "dialogue", True),
        ("said Jekyll.", None, True),
        ("“Never,”", "dialogue", True),
        ("he answered.", None, True),
    ]


def test_full_cast_reads_cast_characters_and_leaves_the_rest_to_the_narrator():
    config = _config(mode="full", characters={"Hyde": DEEP.model_dump()})
    cast = cast_chapter(CHAPTER, QUOTES, config.cast)
    assert _runs(cast)[1:] == [
        ("“Hello,”", "Hyde", False),
        (TEXT[HELLO[1] :].strip(), None, True),  # Jekyll is not cast: the narrator reads him
    ]
    words = " ".join(b.text for b in cast.blocks).split()
    assert words == " ".join(b.text for b in CHAPTER.blocks).split()


def test_full_cast_with_a_dialogue_voice_for_everyone_else():
    config = _config(
        mode="full", characters={"Hyde": DEEP.model_dump()}, dialogue=BRIGHT.model_dump()
    )
    roles = [b.speaker for b in cast_chapter(CHAPTER, QUOTES, config.cast).blocks]
    assert roles == [None, "Hyde", None, "dialogue", None, "dialogue", None]


def test_segments_hold_one_speaker_and_runs_pause_like_sentences():
    config = _config(
        mode="full", characters={"Hyde": DEEP.model_dump()}, dialogue=BRIGHT.model_dump()
    )
    plan = segment_chapter(cast_chapter(CHAPTER, QUOTES, config.cast), config, voice_keys(config))
    body = [s for s in plan.segments if s.kind == "body"]
    assert [(s.text, s.voice) for s in body] == [
        ("It was night.", "narrator"),
        ("“Hello,”", "Hyde"),
        ("said Hyde, and he smiled.", "narrator"),
        ("“Go away,”", "dialogue"),
        ("said Jekyll.", "narrator"),
        ("“Never,”", "dialogue"),
        ("he answered.", "narrator"),
    ]
    pauses = config.pauses
    assert body[0].pause_after_ms == pauses.paragraph_ms
    assert {s.pause_after_ms for s in body[1:-1]} == {pauses.sentence_ms}
    assert config.voice_of("Hyde") == DEEP and config.voice_of("Jekyll") == BRIGHT
    assert config.voice_of("narrator") == config.voice


def test_recasting_one_character_changes_only_that_characters_segments():
    before = _config(
        mode="full", characters={"Hyde": DEEP.model_dump()}, dialogue=BRIGHT.model_dump()
    )
    after = _config(
        mode="full",
        characters={"Hyde": VoiceConfig(pitch_semitones=-5.0).model_dump()},
        dialogue=BRIGHT.model_dump(),
    )
    ids = {}
    for name, config in (("before", before), ("after", after)):
        plan = segment_chapter(
            cast_chapter(CHAPTER, QUOTES, config.cast), config, voice_keys(config)
        )
        ids[name] = {(s.index, s.voice): s.id for s in plan.segments}
    changed = {key for key in ids["before"] if ids["before"][key] != ids["after"][key]}
    assert changed == {(2, "Hyde")}  # title, then "It was night.", then Hyde's line


@pytest.mark.parametrize(
    ("cast", "message"),
    [
        ({"mode": "dual"}, "needs a 'dialogue' voice"),
        ({"mode": "full"}, "needs 'characters'"),
        ({"mode": "full", "characters": {"narrator": {}}}, "cannot be a character name"),
        ({"mode": "chorus"}, "mode"),
    ],
)
def test_incomplete_casts_are_refused(cast, message):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        PipelineConfig().with_overrides(cast=cast)


def test_a_first_person_narrators_own_words_stay_with_the_narrator():
    text = "“Yes,” said I. “No,” said Holmes."
    chapter = Chapter(1, "One", (Block(P, text),))
    quotes = [
        Quote(0, 0, 6, "Narrator"),
        Quote(0, text.index("“No"), text.index("“No") + 5, "Holmes"),
    ]
    dual = _config(mode="dual", dialogue=DEEP.model_dump()).cast
    assert [b.speaker for b in cast_chapter(chapter, quotes, dual).blocks] == [
        None,
        "dialogue",
        None,
    ]
    full = _config(mode="full", characters={"Narrator": BRIGHT.model_dump()}).cast
    assert [b.speaker for b in cast_chapter(chapter, quotes, full).blocks] == ["Narrator", None]


def test_cast_on_real_passages_gives_labelled_quotes_their_characters_voice():
    """The hand-labelled sample (tests/pipeline/data/dialogue_sample.yaml): every labelled
    speaker cast with a voice, each quotation's run is read by the voice of the character
    who says it (measured: share read by the right voice, and wrong voices, per book)."""
    import yaml

    from pipeline.dialogue import NARRATOR as FIRST_PERSON
    from pipeline.dialogue import attribute_book

    sample = yaml.safe_load(
        (Path(__file__).parent / "data" / "dialogue_sample.yaml").read_text(encoding="utf-8")
    )
    for book in sample["books"]:
        chapters = [
            Chapter(p["chapter"], p["title"], tuple(Block(P, t) for t in p["paragraphs"]))
            for p in book["passages"]
        ]
        found, characters = attribute_book(chapters)
        # the author casts the names the book lists (as `inspect` shows them)
        config = _config(mode="full", characters={c.name: DEEP.model_dump() for c in characters})
        alias = {form: name for name, forms in book["speakers"].items() for form in forms}
        alias |= {c.name: alias.get(c.name, c.name) for c in characters}
        right = wrong = narrator = total = 0
        for passage, chapter in zip(book["passages"], chapters):
            runs = cast_chapter(chapter, found[chapter.index], config.cast).blocks
            paragraph, reader = -1, {}
            for run in runs:  # each run's reader, keyed by (paragraph, its first 40 chars)
                paragraph += not run.joined
                reader[(paragraph, run.text[:40])] = run.speaker
            for para, start, speaker in passage["quotes"]:
                if speaker is None or speaker == book["narrator"]:
                    continue  # a notice nobody reads aloud; the narrator's own words
                total += 1
                role = reader.get((para, start))
                if role is None or role == FIRST_PERSON:
                    narrator += 1
                elif alias.get(role) == speaker:
                    right += 1
                else:
                    wrong += 1
        print(f"{book['book']}: {right}/{total} right voice, {wrong} wrong, {narrator} narrator")
        assert wrong <= 0.03 * total, book["book"]  # attribution precision: 0.975-0.994
        assert right >= 0.65 * total, book["book"]
