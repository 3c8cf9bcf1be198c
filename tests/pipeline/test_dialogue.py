"""Dialogue detection and speaker attribution (pipeline.dialogue).

Unit tests on small texts written for them, then the measurement on the hand-labelled
sample of real dialogue (tests/pipeline/data/dialogue_sample.yaml) and a whole corpus book.
Run ``pytest -s tests/pipeline/test_dialogue.py`` to see the numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from pipeline.dialogue import (
    NARRATOR,
    Quote,
    attribute_book,
    attribute_chapter,
    find_quotes,
)
from pipeline.models import Block, BlockKind, Chapter

SAMPLE = Path(__file__).parent / "data" / "dialogue_sample.yaml"

# Floors a little under what the implementation reaches on the sample (see the printout).
FLOORS = {
    "Pride and Prejudice": (0.95, 0.77),
    "A Study in Scarlet": (0.96, 0.70),
    "overall": (0.96, 0.73),
}


def chapter(*paragraphs: str, index: int = 1) -> Chapter:
    return Chapter(
        index, f"Chapter {index}", tuple(Block(BlockKind.PARAGRAPH, p) for p in paragraphs)
    )


def spans(text: str) -> list[str]:
    return [text[s:e] for s, e in find_quotes(text)]


def speakers(ch: Chapter, known: tuple[str, ...] = ()) -> list[tuple[int, str, str | None]]:
    """(block, quote text, speaker) for every quote of ``ch``."""
    return [
        (q.block, ch.blocks[q.block].text[q.start : q.end], q.speaker)
        for q in attribute_chapter(ch, known)
    ]


# --------------------------------------------------------------------------- find_quotes


def test_curly_double_quotes_with_marks_included() -> None:
    text = "“Hello,” said Tom. “Goodbye.”"
    assert find_quotes(text) == [(0, 8), (19, 29)]
    assert spans(text) == ["“Hello,”", "“Goodbye.”"]


def test_straight_double_quotes() -> None:
    assert spans('"Hello," said Tom, "how are you?"') == ['"Hello,"', '"how are you?"']


def test_single_quotes_curly_and_straight() -> None:
    assert spans("‘Hello,’ said Tom, ‘it’s five o’clock.’") == ["‘Hello,’", "‘it’s five o’clock.’"]
    assert spans("'Hello,' said Tom. 'I don't know.'") == ["'Hello,'", "'I don't know.'"]


def test_apostrophes_are_not_quotes() -> None:
    assert find_quotes("Don’t go to the Smiths’ house at five o’clock, it’s late.") == []
    assert find_quotes("Don't go to the Smiths' house at five o'clock, it's late.") == []
    assert find_quotes("'Tis a fine day, and the lads' boat is in.") == []
    # a plural's apostrophe inside a single-quoted speech does not close it
    assert spans("‘I saw the Smiths’ dog,’ she said.") == ["‘I saw the Smiths’ dog,’"]


def test_nested_quotes_belong_to_the_outer_quote() -> None:
    assert spans("“He said ‘no’ to me,” she said.") == ["“He said ‘no’ to me,”"]
    assert spans("\"I always smoke 'ship's' myself,\" I answered.") == [
        "\"I always smoke 'ship's' myself,\""
    ]


def test_unclosed_quote_runs_to_the_block_end() -> None:
    text = "“It was a long story, and I will tell it from the beginning."
    assert find_quotes(text) == [(0, len(text))]
    assert spans('He said, "and so it went on') == ['"and so it went on']


def test_em_dash_dialogue() -> None:
    assert spans("—Where were you last night? asked Stephen.") == ["—Where were you last night?"]
    assert spans("—At the tower, said Mulligan. I waited for you.") == [
        "—At the tower,",
        "I waited for you.",
    ]
    assert spans("―Yes.") == ["―Yes."]  # horizontal bar
    assert spans("—Not now —he said—. Later.") == ["—Not now", "Later."]
    assert find_quotes("—Hawthorne’s Twice Told Tales.") == []  # a citation line


def test_scare_quotes_and_titles_are_not_dialogue() -> None:
    assert find_quotes('Its somewhat ambitious title was "The Book of Life," and it ran on.') == []
    assert find_quotes("He called it a “bargain” and laughed.") == []
    assert find_quotes("The so-called “experts” were wrong.") == []
    # but a short quote after a speech verb is speech
    assert spans("He said “No.”") == ["“No.”"]
    assert spans("He cried out “Fire!”") == ["“Fire!”"]


# --------------------------------------------------------------------------- attribution


def test_speech_verb_after_the_quote() -> None:
    ch = chapter(
        "“Hello,” said Mr. Utterson.",
        "“Hello,” Mr. Enfield replied.",
        "“Did you ever remark that door?” he asked, pointing with his cane.",
    )
    assert [s for _, _, s in speakers(ch)] == ["Mr. Utterson", "Mr. Enfield", "Mr. Utterson"]


def test_speech_verb_before_the_quote() -> None:
    ch = chapter(
        "The lawyer looked up. Mr. Utterson said only, “Nonsense, nonsense!”",
        "In a doleful voice Mrs. Poole began the conversation: “Oh! sir!”",
    )
    assert [s for _, _, s in speakers(ch)] == ["Mr. Utterson", "Mrs. Poole"]


def test_inverted_tags_and_quotes_sharing_a_paragraph() -> None:
    ch = chapter(
        "“Come, Utterson,” said Mr. Enfield, “you must see the door.”",
        "“Must I?” replied Mr. Utterson; “then show it me.”",
        "“Then come along,” said he, “it is only round the corner.”",
    )
    # "said he" on a new turn after Utterson: the other man of the exchange
    assert [s for _, _, s in speakers(ch)] == ["Mr. Enfield"] * 2 + ["Mr. Utterson"] * 2 + [
        "Mr. Enfield"
    ] * 2


def test_first_person_narrator() -> None:
    ch = chapter("“Looking for lodgings,” I answered.", "“A medical student, I suppose?” said I.")
    assert [s for _, _, s in speakers(ch)] == [NARRATOR, NARRATOR]


def test_alternation_between_two_speakers() -> None:
    ch = chapter(
        "Mr. Utterson and Mr. Enfield walked on in silence.",
        "“Did you ever remark that door?” asked Mr. Enfield.",
        "“Yes,” said Mr. Utterson.",
        "“It is connected in my mind with a very odd story.”",
        "“Indeed? And what was that?”",
        "“Well, it was this way.”",
    )
    assert [s for _, _, s in speakers(ch)] == [
        "Mr. Enfield",
        "Mr. Utterson",
        "Mr. Enfield",
        "Mr. Utterson",
        "Mr. Enfield",
    ]


def test_alternation_from_one_speaker_and_the_one_addressed() -> None:
    ch = chapter(
        "Mrs. Bennet came in.",
        "“My dear Mr. Bennet,” said his lady, “have you heard the news?”",
        "“I have not.”",
        "“Netherfield is let at last.”",
        "“Is it?”",
    )
    assert [s for _, _, s in speakers(ch)] == ["Mrs. Bennet", "Mrs. Bennet"] + [
        "Mr. Bennet",
        "Mrs. Bennet",
        "Mr. Bennet",
    ]


def test_pronouns_resolve_to_the_last_named_man_or_woman() -> None:
    ch = chapter(
        "Lady Carew came into the study, pale and trembling, and Mr. Utterson rose to meet her.",
        "“He is dead,” she said.",
        "“When did you hear it?” he asked.",
    )
    assert [s for _, _, s in speakers(ch)] == ["Lady Carew", "Mr. Utterson"]


def test_pronoun_skips_the_last_speaker_on_a_new_turn() -> None:
    ch = chapter(
        "Mr. Holmes stood by the door with Lestrade.",
        "“There is no clue?” said Lestrade.",
        "“None at all,” he answered.",
    )
    assert [s for _, _, s in speakers(ch)] == ["Lestrade", "Mr. Holmes"]


def test_named_action_in_the_same_paragraph() -> None:
    ch = chapter(
        "Mr. Utterson and Mr. Enfield stood at the door of the house.",
        "Utterson shook his head. “No.”",
        "Mr. Enfield laughed. “You will see it yet.”",
    )
    assert [s for _, _, s in speakers(ch)] == ["Mr. Utterson", "Mr. Enfield"]


def test_reported_speech_is_not_the_next_quote() -> None:
    ch = chapter(
        "Mr. Bennet and Elizabeth were in the library.",
        "“Is it true?” said Mr. Bennet. Elizabeth replied that it was. “Very well.”",
    )
    got = speakers(ch)
    assert got[0][2] == "Mr. Bennet"
    assert got[1][2] in ("Mr. Bennet", None)  # never Elizabeth


def test_relations_and_descriptions() -> None:
    ch = chapter(
        "Mrs. Bennet came in. Mr. Bennet did not look up from his book.",
        "“You are late,” said his wife.",
        "“Who is there?” cried a voice from the stair.",
    )
    assert [s for _, _, s in speakers(ch)] == ["Mrs. Bennet", None]


def test_names_that_are_not_speakers() -> None:
    ch = chapter(
        "On Monday they came back to London, and Mr. Utterson went to Soho.",
        "“God help us,” said Mr. Utterson. “London is no place for this.”",
        "“Heaven knows,” said Mr. Guest.",
    )
    _, characters = attribute_book([ch])
    assert {c.name for c in characters} == {"Mr. Utterson", "Mr. Guest"}


def test_em_dash_dialogue_attribution() -> None:
    ch = chapter(
        "Stephen Dedalus came up the stairs. Buck Mulligan was shaving at the parapet.",
        "—Where were you last night? asked Stephen.",
        "—At the tower, said Mulligan. I waited for you.",
        "—I was out.",
        "—Out where?",
    )
    assert speakers(ch) == [
        (1, "—Where were you last night?", "Stephen Dedalus"),
        (2, "—At the tower,", "Mulligan"),
        (2, "I waited for you.", "Mulligan"),
        (3, "—I was out.", "Stephen Dedalus"),
        (4, "—Out where?", "Mulligan"),
    ]


def test_continued_quote_keeps_its_speaker() -> None:
    ch = chapter(
        "“It is a long story,” said Mr. Enfield, “and it began one dark winter morning.",
        "“I was coming home from some place at the end of the world.”",
        "“And then?”",
    )
    got = [s for _, _, s in speakers(ch)]
    assert got[:3] == ["Mr. Enfield"] * 3
    assert got[3] is None


def test_known_names() -> None:
    ch = chapter("Utterson shook his head. “No.”")
    assert speakers(ch) == [(0, "“No.”", None)]  # only ever sentence-initial: not a name
    assert speakers(ch, known=("Mr. Utterson",)) == [(0, "“No.”", "Mr. Utterson")]
    # a known form is the canonical name, so chapters agree with the book
    assert speakers(chapter("“Yes,” said Utterson."), known=("Mr. Utterson",))[0][2] == (
        "Mr. Utterson"
    )


def test_quotes_of_a_chapter_are_in_order_and_typed() -> None:
    ch = chapter("“One,” said Mr. Hyde.", "No speech here.", "“Two,” said Mr. Hyde. “Three.”")
    quotes = attribute_chapter(ch)
    assert all(isinstance(q, Quote) for q in quotes)
    assert [(q.block, q.start) for q in quotes] == sorted((q.block, q.start) for q in quotes)
    assert [q.block for q in quotes] == [0, 2, 2]


def test_attribute_book_merges_aliases_and_orders_characters() -> None:
    ch1 = chapter(
        "Mr. Hyde met Dr. Jekyll in the street.",
        "“Good evening,” said Mr. Hyde.",
        "“Good evening, Hyde,” said Dr. Jekyll.",
        "“We meet again,” said Mr. Hyde.",
        index=1,
    )
    ch2 = chapter(
        "Edward Hyde and Henry Jekyll were alone. Mr. Utterson waited outside.",
        "“Well?” said Edward Hyde.",
        "“Nothing,” said Jekyll.",
        "“Then go,” said Hyde.",
        "“I am going,” said Mr. Utterson.",
        index=2,
    )
    quotes, characters = attribute_book([ch1, ch2])
    assert set(quotes) == {1, 2}
    assert [(c.name, c.lines) for c in characters] == [
        ("Mr. Hyde", 4),
        ("Dr. Jekyll", 2),
        ("Mr. Utterson", 1),
    ]
    hyde, jekyll, _ = characters
    assert set(hyde.aliases) == {"Hyde", "Edward Hyde"}
    assert set(jekyll.aliases) == {"Jekyll", "Henry Jekyll"}
    # quotes carry the canonical name
    assert [q.speaker for q in quotes[2]] == ["Mr. Hyde", "Dr. Jekyll", "Mr. Hyde", "Mr. Utterson"]


# --------------------------------------------------------------------------- measurement


def _score(book: dict) -> tuple[int, int, int, list[str]]:
    """(labelled quotes with a speaker, attributed, correct, mistakes) for one book.

    A labelled quote the code does not find counts as unattributed; a quote the code finds
    that is not labelled, or one labelled null (nobody says it), counts as wrong when
    attributed.
    """
    alias = {form: name for name, forms in book["speakers"].items() for form in forms}
    for name in book["speakers"]:
        alias[name] = name
    if book["narrator"]:
        alias[NARRATOR] = book["narrator"]
    chapters = [
        Chapter(
            p["chapter"],
            p["title"],
            tuple(Block(BlockKind.PARAGRAPH, t) for t in p["paragraphs"]),
        )
        for p in book["passages"]
    ]
    found, _characters = attribute_book(chapters)
    total = attributed = correct = 0
    mistakes: list[str] = []
    for passage, ch in zip(book["passages"], chapters):
        got = {
            (q.block, ch.blocks[q.block].text[q.start : q.end][:40]): q.speaker
            for q in found[ch.index]
        }
        labels = {(para, start): speaker for para, start, speaker in passage["quotes"]}
        for key in got.keys() - labels.keys():
            mistakes.append(f"ch. {ch.index} {key}: not a labelled quote, speaker {got[key]}")
            attributed += got[key] is not None
        for (para, start), speaker in labels.items():
            total += speaker is not None
            guess = got.get((para, start))
            if (para, start) not in got:
                mistakes.append(f"ch. {ch.index} [{para}] {start!r}: quote not found")
            if guess is None:
                continue
            attributed += 1
            if speaker is not None and alias.get(guess) == speaker:
                correct += 1
            else:
                mistakes.append(f"ch. {ch.index} [{para}] {start!r}: {guess} (is {speaker})")
    return total, attributed, correct, mistakes


def test_precision_and_recall_on_the_labelled_sample() -> None:
    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    assert len(sample["books"]) == 2
    sums = [0, 0, 0]
    rows: list[tuple[str, int, int, int]] = []
    print()
    for book in sample["books"]:
        total, attributed, correct, mistakes = _score(book)
        assert total >= 40
        rows.append((book["book"], total, attributed, correct))
        sums = [sums[0] + total, sums[1] + attributed, sums[2] + correct]
        for m in mistakes:
            print(f"  {book['book']}, {m}")
    rows.append(("overall", *sums))
    for name, total, attributed, correct in rows:
        precision = correct / attributed if attributed else 0.0
        recall = correct / total
        print(
            f"{name:>20}: {total} quotes, {attributed} attributed, {correct} correct: "
            f"precision {precision:.3f}, recall {recall:.3f}"
        )
        p_floor, r_floor = FLOORS[name]
        assert precision >= p_floor, name
        assert recall >= r_floor, name


def test_sample_paragraphs_are_verbatim_from_the_corpus(corpus: Path) -> None:
    from pipeline.parse import parse_file

    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    for book in sample["books"]:
        parsed = parse_file(corpus / book["file"])
        for passage in book["passages"]:
            ch = parsed.chapters[passage["chapter"] - 1]
            first = passage["first_block"]
            texts = [b.text for b in ch.blocks[first : first + len(passage["paragraphs"])]]
            assert texts == passage["paragraphs"], (book["book"], passage["chapter"])


@pytest.mark.parametrize(
    ("path", "main"),
    [
        (
            "text/pride-and-prejudice_pg1342_utf8-bom-crlf.txt",
            {"Elizabeth", "Mrs. Bennet", "Jane", "Mr. Darcy", "Mr. Bennet"},
        ),
        ("text/a-study-in-scarlet.md", {"Holmes", NARRATOR}),
    ],
)
def test_whole_book_main_speakers(corpus: Path, path: str, main: set[str]) -> None:
    from pipeline.parse import parse_file

    book = parse_file(corpus / path)
    start = time.perf_counter()
    quotes, characters = attribute_book(book.chapters)
    elapsed = time.perf_counter() - start
    print(f"\n{path}: {elapsed:.2f} s")
    for c in characters[:8]:
        print(f"  {c.name}: {c.lines} lines; aliases {', '.join(c.aliases[:4])}")
    assert {c.name for c in characters[: len(main)]} == main
    assert [c.lines for c in characters] == sorted((c.lines for c in characters), reverse=True)
    assert sum(len(v) for v in quotes.values()) > 500
    assert elapsed < 3.0
