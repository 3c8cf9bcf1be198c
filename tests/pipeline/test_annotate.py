"""Annotate stage: exact speakable text for each rule, and what must stay untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.annotate import (
    annotate_chapter,
    apply_lexicon,
    load_lexicon,
    normalize_for_speech,
    speakable_title,
)
from pipeline.errors import ConfigError
from pipeline.models import Block, BlockKind, Chapter

NORMALIZE_CASES = [
    # cardinals (num2words style: "and", thousands commas)
    ("He had 42 cats.", "He had forty-two cats."),
    ("1,234 ships", "one thousand, two hundred and thirty-four ships"),
    ("1,000,000 stars", "one million stars"),
    ("0 apples", "zero apples"),
    ("agent 007", "agent zero zero seven"),
    ("MP3 player", "MP three player"),
    ("COVID-19", "COVID-nineteen"),
    # decimals
    ("3.5 miles", "three point five miles"),
    ("pi is 3.14", "pi is three point one four"),
    # ordinals
    ("the 1st day", "the first day"),
    ("his 22nd birthday", "his twenty-second birthday"),
    ("the 3rd man", "the third man"),
    ("the 100th time", "the one hundredth time"),
    # years
    ("in 1851", "in eighteen fifty-one"),
    ("It was 1900.", "It was nineteen hundred."),
    ("since 2005", "since two thousand five"),
    ("by 2023,", "by twenty twenty-three,"),
    ("until 1805", "until eighteen oh five"),
    ("in the 1890s", "in the eighteen nineties"),
    ("the '80s", "the eighties"),
    ("the 1900s", "the nineteen hundreds"),
    ("March 5, 1851", "March five, eighteen fifty-one"),
    ("1851", "eighteen fifty-one"),
    ("1851 was a year.", "eighteen fifty-one was a year."),
    ("in 1066", "in ten sixty-six"),
    ("1,851 whales", "one thousand, eight hundred and fifty-one whales"),
    ("he counted 2020 whales", "he counted two thousand and twenty whales"),
    ("3000 men", "three thousand men"),
    # currency
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$3.50", "three dollars and fifty cents"),
    ("$1.01", "one dollar and one cent"),
    ("$0.50", "fifty cents"),
    ("$3.00", "three dollars"),
    ("£10", "ten pounds"),
    ("£1.05", "one pound and five pence"),
    ("€2", "two euros"),
    ("$1,000", "one thousand dollars"),
    ("$5 million", "five million dollars"),
    ("$2.5 billion", "two point five billion dollars"),
    ("50¢", "fifty cents"),
    # percentages
    ("45%", "forty-five percent"),
    ("a 2.5% rise", "a two point five percent rise"),
    # times
    ("10:30", "ten thirty"),
    ("9:05 am", "nine oh five a m"),
    ("at 9:05 a.m. on Monday", "at nine oh five a m on Monday"),
    ("We left at 9 a.m. Then it rained.", "We left at nine a m. Then it rained."),
    ("12:00 PM", "twelve p m"),
    ("at 10:00", "at ten o'clock"),
    ("7 o'clock", "seven o'clock"),
    ("one at 9.15 and one at 11.", "one at nine fifteen and one at eleven."),
    ("between 8.30 and nine", "between eight thirty and nine"),
    ("in the year '34.", "in the year thirty-four."),
    ("in '05", "in oh five"),
    ("He said '42' loudly", "He said 'forty-two' loudly"),
    # units
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("3 kg", "three kilograms"),
    ("10 lbs", "ten pounds"),
    ("6 ft tall", "six feet tall"),
    ("20°C", "twenty degrees Celsius"),
    ("60 mph", "sixty miles per hour"),
    # ranges
    ("pages 10–20", "pages ten to twenty"),
    # abbreviations
    ("Mr. Smith", "Mister Smith"),
    ("Mrs. Jones", "Missus Jones"),
    ("Mr. and Mrs. Smith", "Mister and Missus Smith"),
    ("Dr. Watson", "Doctor Watson"),
    ("Dr Watson", "Doctor Watson"),
    ("St. Paul's", "Saint Paul's"),
    ("In St. Louis", "In Saint Louis"),
    ("221 Baker St.", "two hundred and twenty-one Baker Street."),
    ("on Baker St. Then he", "on Baker Street. Then he"),
    ("Prof. Moriarty", "Professor Moriarty"),
    ("Capt. Ahab", "Captain Ahab"),
    ("Col. Mustard", "Colonel Mustard"),
    ("Gen. Grant", "General Grant"),
    ("Lt. Dan", "Lieutenant Dan"),
    ("Rev. Mapple", "Reverend Mapple"),
    ("John Smith Jr. was late", "John Smith Junior was late"),
    ("Sam Sr., aged", "Sam Senior, aged"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("apples, etc., and pears", "apples, et cetera, and pears"),
    ("Yours, etc.”", "Yours, et cetera.”"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("one, i.e. the first", "one, that is the first"),
    ("I.e. nobody", "That is nobody"),
    ("cats vs. dogs", "cats versus dogs"),
    ("No. 5", "Number five"),
    ("room no. 12", "room number twelve"),
    ("Smith & Sons", "Smith and Sons"),
    ("R&D", "R and D"),
    # roman numerals in running text
    ("see Chapter IV", "see Chapter four"),
    ("Book II", "Book two"),
    ("Part III", "Part three"),
    ("Part I", "Part one"),
    ("Henry VIII", "Henry the Eighth"),
    ("Louis XIV's court", "Louis the Fourteenth's court"),
    ("Henry V", "Henry the Fifth"),
    ("Queen Elizabeth I", "Queen Elizabeth the First"),
    ("World War II", "World War two"),
    (
        "Mr. Smith paid $3.50 in 1851.",
        "Mister Smith paid three dollars and fifty cents in eighteen fifty-one.",
    ),
]

UNTOUCHED = [
    "I am here, and I know it.",
    "Then I said, I did.",
    "So I went; I'm tired.",
    "Call me Ishmael. Some years ago—never mind how long precisely—having little money.",
    "He drove up the Drive, past Drury Lane.",
    "Malcolm X spoke.",
    "the part I played",
    "a book I read",
    "They mix it; Civil war; dim light.",
    "“Stop!” he cried… and then: silence.",
    "Line one,\nline two.",
    "",
    "He said no. Five men came.",
]

TITLE_CASES = [
    ("CHAPTER IV.", "Chapter Four."),
    ("Chapter 12", "Chapter Twelve"),
    ("Chapter 1", "Chapter One"),
    ("Chapter 22", "Chapter Twenty-Two"),
    ("LETTER I", "Letter One"),
    ("Letter 1", "Letter One"),
    ("IX", "Nine"),
    ("IX.", "Nine."),
    ("12", "Twelve"),
    ("I. The Burial of the Dead", "One. The Burial of the Dead"),
    ("CHAPTER 1. LOOMINGS.", "Chapter One. Loomings."),
    ("CHAPTER XLII. THE WHITENESS OF THE WHALE.", "Chapter Forty-Two. The Whiteness of the Whale."),
    ("BOOK II: THE SEA", "Book Two: The Sea"),
    ("ETYMOLOGY.", "Etymology."),
    ("Etymology", "Etymology"),
    ("WHAT I SAW", "What I Saw"),
    ("HENRY VIII AND THE POPE", "Henry VIII and the Pope"),
    ("I Am Legend", "I Am Legend"),
    ("  Chapter   3  ", "Chapter Three"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE_CASES)
def test_normalize_for_speech(text: str, expected: str) -> None:
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text", UNTOUCHED)
def test_text_without_tokens_is_byte_identical(text: str) -> None:
    assert normalize_for_speech(text) == text


def test_other_languages_are_left_alone() -> None:
    assert normalize_for_speech("Mr. 42", language="fr") == "Mr. 42"


def test_regional_english_tag_is_english() -> None:
    assert normalize_for_speech("42", language="en-GB") == "forty-two"


@pytest.mark.parametrize(("title", "expected"), TITLE_CASES)
def test_speakable_title(title: str, expected: str) -> None:
    assert speakable_title(title) == expected


LEXICON = {"Ahab": "Ay-hab", "Queequeg": "Kwee-kweg", "New Bedford": "New Bed-ford", "Dr.": "Drive"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ahab's leg.", "Ay-hab's leg."),
        ("AHAB!", "Ay-hab!"),
        ("Queequeg and ahab", "Kwee-kweg and Ay-hab"),
        ("to New  Bedford,", "to New Bed-ford,"),
        ("Ahabs and Queequegish", "Ahabs and Queequegish"),
        ("Mulholland Dr. at night", "Mulholland Drive at night"),
        ("no terms here", "no terms here"),
    ],
)
def test_apply_lexicon(text: str, expected: str) -> None:
    assert apply_lexicon(text, LEXICON) == expected


def test_longest_term_wins() -> None:
    lexicon = {"York": "Yawk", "New York": "Noo Yawk"}
    assert apply_lexicon("New York, not York.", lexicon) == "Noo Yawk, not Yawk."


def test_respellings_are_not_looked_up_again() -> None:
    assert apply_lexicon("a b", {"a": "b", "b": "c"}) == "b c"


def test_empty_lexicon_returns_text_unchanged() -> None:
    assert apply_lexicon("Ahab", {}) == "Ahab"


def test_load_lexicon(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        "Ahab: Ay-hab\n1984: Nineteen Eighty-Four\n'New Bedford': New Bed-ford\n", "utf-8"
    )
    assert load_lexicon(path) == {
        "Ahab": "Ay-hab",
        "1984": "Nineteen Eighty-Four",
        "New Bedford": "New Bed-ford",
    }


def test_load_empty_lexicon(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", "utf-8")
    assert load_lexicon(path) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- Ahab\n- Ishmael\n", "must be a mapping"),
        ("Ahab: 3\n", "respelling of 'Ahab' must be a string (got int)"),
        ("Ahab: [a, b]\n", "must be a string (got list)"),
        ("Ahab: [unclosed\n", "is not valid YAML"),
        ("~: nothing\n", "must be non-empty text"),
    ],
)
def test_load_lexicon_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(content, "utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_lexicon(path)
    assert "\n" not in str(caught.value)


def test_load_missing_lexicon(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lexicon file not found"):
        load_lexicon(tmp_path / "nope.yaml")


def test_lexicon_runs_before_normalisation() -> None:
    chapter = Chapter(1, "Chapter 1", (Block(BlockKind.PARAGRAPH, "Read 1984 by Dr. Smith."),))
    annotated = annotate_chapter(chapter, {"1984": "Nineteen Eighty-Four"})
    assert annotated.blocks[0].text == "Read Nineteen Eighty-Four by Doctor Smith."


def test_annotate_chapter() -> None:
    chapter = Chapter(
        3,
        "CHAPTER III. THE SPOUTER-INN.",
        (
            Block(BlockKind.HEADING, "Part I"),
            Block(BlockKind.PARAGRAPH, "Mr. Ahab paid $5 in 1851 & left."),
            Block(BlockKind.SECTION_BREAK),
            Block(BlockKind.PARAGRAPH, "I saw 2 whales,\nthen 3."),
        ),
    )
    annotated = annotate_chapter(chapter, {"Ahab": "Ay-hab"})
    assert annotated.index == 3
    assert annotated.title == "Chapter Three. The Spouter-Inn."
    assert [b.kind for b in annotated.blocks] == [b.kind for b in chapter.blocks]
    assert [b.text for b in annotated.blocks] == [
        "Part one",
        "Mister Ay-hab paid five dollars in eighteen fifty-one and left.",
        "",
        "I saw two whales,\nthen three.",
    ]
    assert annotated.blocks[2] is chapter.blocks[2]


def test_title_lexicon_and_numbers() -> None:
    chapter = Chapter(1, "THE 39 STEPS OF AHAB", ())
    assert annotate_chapter(chapter, {"Ahab": "Ay-hab"}).title == "The thirty-nine Steps of Ay-hab"
