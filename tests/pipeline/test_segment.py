"""Segment stage: sentence splits, packing limits, stable ids and pause rules."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from pipeline.annotate import annotate_chapter
from pipeline.config import PipelineConfig
from pipeline.models import WORD_RE, Block, BlockKind, Chapter, SegmentKind
from pipeline.segment import (
    VoiceKey,
    fit_sentence,
    join_verse_lines,
    pack_sentences,
    segment_chapter,
    segment_id,
    split_sentences,
)

SPLITS = [
    ("One. Two.", ["One.", "Two."]),
    ("“Stop!” he cried. Then he left.", ["“Stop!” he cried.", "Then he left."]),
    ('"Stop!" he cried. "Why?" She asked.', ['"Stop!" he cried.', '"Why?"', "She asked."]),
    ("He said, “Go home.” Then he left.", ["He said, “Go home.”", "Then he left."]),
    ("H. G. Wells wrote it. At 9 a.m. he came.", ["H. G. Wells wrote it.", "At 9 a.m. he came."]),
    ("He lives in the U.S. He is happy.", ["He lives in the U.S.", "He is happy."]),
    ("It was 3.5 miles away. We walked.", ["It was 3.5 miles away.", "We walked."]),
    ("Wait... what? No!", ["Wait... what?", "No!"]),
    ("It cost a lot (too much). Then more.", ["It cost a lot (too much).", "Then more."]),
    ("Is it? yes, it is.", ["Is it? yes, it is."]),
    ("Roses are red\nViolets are blue", ["Roses are red, Violets are blue"]),
    ("Sugar is sweet.\nAnd so are you.", ["Sugar is sweet.", "And so are you."]),
    ("   ", []),
    ("", []),
    ("Call me Ishmael.", ["Call me Ishmael."]),
    ('He said "no." Then he left.', ['He said "no."', "Then he left."]),
    (
        '"I\'ve found it," he shouted, holding the tube in his hand. "I have found a re-agent."',
        [
            '"I\'ve found it," he shouted, holding the tube in his hand.',
            '"I have found a re-agent."',
        ],
    ),
    ("“Go home. Now,” he said.", ["“Go home.", "Now,” he said."]),
    ("Said I. I went out.", ["Said I.", "I went out."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(("text", "_"), SPLITS)
def test_split_keeps_every_character(text: str, _: list[str]) -> None:
    assert " ".join(split_sentences(text)).split() == join_verse_lines(text).split()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb", "a, b"),
        ("a.\nb", "a. b"),
        ("a —\nb", "a — b"),
        ("  a  \n\n b ", "a, b"),
        ("one line", "one line"),
    ],
)
def test_join_verse_lines(text: str, expected: str) -> None:
    assert join_verse_lines(text) == expected


def test_quote_never_left_open_mid_sentence() -> None:
    for sentence in split_sentences("“Stop!” he cried. “No!” she said. ‘Why?’ asked Tom."):
        assert sentence.count("“") == sentence.count("”")


def test_pack_respects_max_and_keeps_sentences_whole() -> None:
    sentences = ["One two three.", "Four five six.", "Seven eight nine."]
    assert pack_sentences(sentences, 31) == ["One two three. Four five six.", "Seven eight nine."]
    assert pack_sentences(sentences, 100) == [" ".join(sentences)]


def test_long_sentence_cut_at_last_clause_boundary() -> None:
    sentence = "The sea was wide, the sky was low; and the ship sailed on and on into the night."
    assert fit_sentence(sentence, 50) == [
        "The sea was wide, the sky was low;",
        "and the ship sailed on and on into the night.",
    ]


def test_long_sentence_cut_outside_quotation() -> None:
    sentence = "He said, “I came, I saw, and I conquered,” and then he walked away from them all."
    pieces = fit_sentence(sentence, 60)
    assert pieces == [
        "He said, “I came, I saw, and I conquered,”",
        "and then he walked away from them all.",
    ]


def test_long_sentence_without_clauses_cut_at_word() -> None:
    sentence = " ".join(["word"] * 30)
    pieces = fit_sentence(sentence, 50)
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces) == sentence
    assert pieces[0] == " ".join(["word"] * 10)


def test_unbreakable_word_is_cut_at_limit() -> None:
    assert fit_sentence("x" * 120, 50) == ["x" * 50, "x" * 50, "x" * 20]


def _random_paragraph(rng: random.Random) -> str:
    vocabulary = ["the", "whale", "sea", "Ahab", "ship", "harpoon", "night", "“yes,”", "said", "he"]
    sentences = []
    for _ in range(rng.randint(1, 12)):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 60))]
        for i in range(len(words) - 1):
            if rng.random() < 0.1:
                words[i] += rng.choice([",", ";", " —"])
        sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
    return " ".join(sentences)


@pytest.mark.parametrize("seed", range(40))
def test_packing_property(seed: int) -> None:
    rng = random.Random(seed)
    max_chars = rng.choice([50, 80, 200, 400])
    paragraph = _random_paragraph(rng)
    sentences = split_sentences(paragraph)
    packed = pack_sentences(sentences, max_chars)
    assert all(0 < len(text) <= max_chars for text in packed)
    assert " ".join(packed).split() == paragraph.split()
    for sentence in sentences:  # a sentence that fits is never cut
        if len(sentence) <= max_chars:
            assert any(sentence in text for text in packed)


def test_segment_id_shape_and_stability() -> None:
    settings = {"length_scale": 1.0, "noise_scale": 0.667}
    first = segment_id("Hello.", "en_US-joe-medium", "piper", settings)
    assert len(first) == 24 and int(first, 16) >= 0
    assert first == segment_id(
        "Hello.", "en_US-joe-medium", "piper", dict(reversed(settings.items()))
    )


def test_segment_id_stable_across_processes() -> None:
    code = (
        "from pipeline.segment import segment_id; print(segment_id('Hi.', 'v', 'piper', {'a': 1}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == segment_id("Hi.", "v", "piper", {"a": 1})


@pytest.mark.parametrize(
    "changed",
    [
        ("Hello!", "v", "piper", {"a": 1}),
        ("Hello.", "w", "piper", {"a": 1}),
        ("Hello.", "v", "kokoro", {"a": 1}),
        ("Hello.", "v", "piper", {"a": 2}),
        ("Hello.", "v", "piper", {"a": 1, "b": 0}),
    ],
)
def test_segment_id_changes_with_any_input(changed: tuple) -> None:
    assert segment_id(*changed) != segment_id("Hello.", "v", "piper", {"a": 1})


def _plan(chapter: Chapter, **overrides: dict):
    config = PipelineConfig().with_overrides(**overrides)
    return segment_chapter(
        chapter, config, {"narrator": VoiceKey("piper", "v", {"length_scale": 1.0})}
    )


P = BlockKind.PARAGRAPH
BREAK = Block(BlockKind.SECTION_BREAK)


def test_pause_rules() -> None:
    chapter = Chapter(
        7,
        "Chapter Seven",
        (
            Block(BlockKind.HEADING, "A heading"),
            Block(P, "First sentence here. Second sentence here."),
            BREAK,
            BREAK,
            Block(P, "After the break."),
            Block(P, "* * *"),
            Block(P, "Last one."),
        ),
    )
    plan = _plan(chapter, segment={"max_chars": 50})
    assert [(s.kind, s.text, s.pause_after_ms) for s in plan.segments] == [
        (SegmentKind.TITLE, "Chapter Seven", 1500),
        (SegmentKind.BODY, "A heading", 700),
        (SegmentKind.BODY, "First sentence here. Second sentence here.", 2000),
        (SegmentKind.BODY, "After the break.", 700),
        (SegmentKind.BODY, "Last one.", 0),
    ]
    assert [s.index for s in plan.segments] == [0, 1, 2, 3, 4]
    assert {s.chapter_index for s in plan.segments} == {7}
    assert (plan.index, plan.title, plan.words) == (7, "Chapter Seven", chapter.words)


def test_the_part_a_chapter_opens_is_announced_before_its_title() -> None:
    """A part's heading and epigraph (the chapter's preamble, after annotation) come
    first, each followed by the title pause, then the chapter title, then the body."""
    chapter = annotate_chapter(
        Chapter(
            1,
            "CHAPTER I. MR. SHERLOCK HOLMES",
            (Block(P, "In the year 1878 I took my degree."),),
            preamble=(Block(BlockKind.HEADING, "PART I"), Block(P, "Being a reprint.")),
        ),
        {},
    )
    plan = _plan(chapter)
    assert [(s.kind, s.text, s.pause_after_ms) for s in plan.segments] == [
        (SegmentKind.TITLE, "Part One", 1500),
        (SegmentKind.TITLE, "Being a reprint.", 1500),
        (SegmentKind.TITLE, "Chapter One. Mister Sherlock Holmes", 1500),
        (SegmentKind.BODY, "In the year eighteen seventy-eight I took my degree.", 0),
    ]
    assert _plan(chapter, speak_chapter_titles=False).segments[0].kind is SegmentKind.BODY


def test_sentence_pause_between_segments_of_one_block() -> None:
    text = "This is the first sentence of it. This is the second sentence of it."
    plan = _plan(Chapter(1, "One", (Block(P, text), Block(P, "End."))), segment={"max_chars": 50})
    assert [s.pause_after_ms for s in plan.segments] == [1500, 250, 700, 0]


def test_custom_pauses_and_no_title() -> None:
    chapter = Chapter(2, "Two", (Block(P, "A."), BREAK, Block(P, "B."), BREAK))
    plan = _plan(
        chapter, speak_chapter_titles=False, pauses={"section_break_ms": 3000, "paragraph_ms": 900}
    )
    assert [(s.kind, s.text, s.pause_after_ms) for s in plan.segments] == [
        (SegmentKind.BODY, "A.", 3000),
        (SegmentKind.BODY, "B.", 0),
    ]


def test_segments_carry_ids_role_and_engine() -> None:
    plan = _plan(Chapter(1, "One", (Block(P, "Hello there."),)))
    body = plan.segments[1]
    assert (body.voice, body.engine) == ("narrator", "piper")  # the role; its voice hashed
    assert body.id == segment_id("Hello there.", "v", "piper", {"length_scale": 1.0})


def test_punctuation_only_segments_are_dropped() -> None:
    plan = _plan(Chapter(1, "…", (Block(P, "* * *"), Block(P, "—"))))
    assert plan.segments == ()


def test_every_word_appears_in_order() -> None:
    rng = random.Random(7)
    blocks = []
    for _ in range(30):
        blocks.append(Block(P, _random_paragraph(rng)))
        if rng.random() < 0.2:
            blocks.append(BREAK)
    blocks.append(Block(P, "Roses are red\nViolets are blue,\nsugar is sweet."))
    chapter = Chapter(1, "Chapter One", tuple(blocks))
    plan = _plan(chapter, segment={"max_chars": 120})
    body = [s.text for s in plan.segments if s.kind is SegmentKind.BODY]
    assert all(len(text) <= 120 for text in body)
    assert WORD_RE.findall(" ".join(body)) == WORD_RE.findall(chapter.text)
    assert plan.words == chapter.words


def test_a_chapter_with_its_own_voice_changes_only_that_chapter() -> None:
    """``chapter_voices`` gives chapter 2 another voice: every segment the narrator's voice
    read there (narration, title, and in single-voice mode the dialogue) takes the role
    narrator@2 and a new id; in full cast mode a character keeps their own voice; chapter
    1 is planned exactly as before (its segments are reused, not synthesized again)."""
    from pipeline.config import VoiceConfig, chapter_role
    from pipeline.convert import plan_book
    from pipeline.parse import parse_bytes
    from tests.test_cli import DIALOGUE

    text = DIALOGUE + "\nChapter 2\n\n“Read it,” said Mr. Hale. Mrs. Grey read it twice.\n"
    book = parse_bytes(text.encode(), "visit.txt")
    base = PipelineConfig()
    _, before = plan_book(book, base)
    _, after = plan_book(book, base.with_overrides(chapter_voices={2: "joe-deep"}))
    assert before[0] == after[0]
    assert {s.voice for s in after[1].segments} == {chapter_role(2)}
    assert not {s.id for s in before[1].segments} & {s.id for s in after[1].segments}
    assert [s.text for s in before[1].segments] == [s.text for s in after[1].segments]

    hale = VoiceConfig(narrator="en_US-joe-medium", length_scale=1.2)
    full = base.with_overrides(cast={"mode": "full", "characters": {"Mr. Hale": hale.model_dump()}})
    _, cast = plan_book(book, full.with_overrides(chapter_voices={2: "joe-deep"}))
    roles = {s.voice for s in cast[1].segments}
    assert roles == {chapter_role(2), "Mr. Hale"}
    assert full.with_overrides(chapter_voices={2: "joe-deep"}).voice_of(chapter_role(2)) == (
        PipelineConfig.model_validate({"voice": "joe-deep"}).voice
    )
