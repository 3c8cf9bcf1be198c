"""Chapter titles as a narrator reads them: "CHAPTER IV." -> "Chapter Four.".

A heading's number (roman or digits) is read as a cardinal when it follows a numbering
keyword ("Chapter", "Letter", "Book"...), when it opens the heading followed by a stop
("I. The Burial of the Dead"), or when it is the whole heading ("IX"). ALL-CAPS titles
become title case, because a TTS voice spells out capitals it takes for an acronym.
"""

from __future__ import annotations

import re

from pipeline.annotate import words
from pipeline.annotate.roman import roman_value

_KEYWORDS = (
    "Chapter|Chap\\.|Book|Part|Volume|Vol\\.|Letter|Canto|Section|Stave|Act|Scene"
    "|Appendix|Lecture|Lesson|Epistle|Story|Tale|Fit|Episode"
)
_NUMERAL = r"[IVXLCDM]+|\d+"
_KEYWORD_HEADING = re.compile(rf"((?i:{_KEYWORDS}))\s+((?i:{_NUMERAL}))\b(.*)", re.DOTALL)
_NUMERAL_ONLY = re.compile(rf"({_NUMERAL})([.:)]?)")
_NUMERAL_LEAD = re.compile(rf"({_NUMERAL})([.:)]|\s+[—–-])\s*(.+)", re.DOTALL)
_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into nor of on or over the to upon with".split()
)
_MAX_HEADING_NUMERAL = 400


def _number_words(numeral: str) -> str | None:
    value = int(numeral) if numeral.isdigit() else roman_value(numeral)
    if value is None or (not numeral.isdigit() and value > _MAX_HEADING_NUMERAL):
        return None
    return words.capitalize_words(words.cardinal(str(value)))


def _is_all_caps(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) > 1 and all(ch.isupper() for ch in letters)


def _cap_word(word: str) -> str:
    core = word.strip("“”\"‘’'()[].,;:!?—–-")
    value = roman_value(core) if len(core) > 1 else None
    if value is not None and value <= 100:
        return word
    lowered = word.lower()
    for i, ch in enumerate(lowered):
        if ch.isalpha():
            return lowered[:i] + ch.upper() + lowered[i + 1 :]
    return lowered


def title_case(text: str) -> str:
    """Title case for an ALL-CAPS heading; short function words stay lower-case
    except first and after a stop; roman numerals up to C stay upper-case."""
    out: list[str] = []
    starts = True
    for word in text.split(" "):
        plain = word.lower()
        if not starts and plain in _SMALL_WORDS:
            out.append(plain)
        else:
            out.append("-".join(_cap_word(part) for part in word.split("-")))
        starts = word.endswith((".", ":", "!", "?", "—"))
    return " ".join(out)


def _split_number(text: str) -> tuple[str, str] | None:
    """(spoken numbering, rest of the heading) when the heading is numbered."""
    if m := _KEYWORD_HEADING.fullmatch(text):
        spoken = _number_words(m[2])
        return (f"{m[1][0].upper()}{m[1][1:].lower()} {spoken}", m[3]) if spoken else None
    if m := _NUMERAL_ONLY.fullmatch(text):
        spoken = _number_words(m[1])
        return (spoken + m[2], "") if spoken else None
    if m := _NUMERAL_LEAD.fullmatch(text):
        spoken = _number_words(m[1])
        return (spoken + m[2], " " + m[3]) if spoken else None
    return None


def speakable_title(title: str) -> str:
    """A chapter heading as a narrator reads it (see module doc).

    "CHAPTER IV." -> "Chapter Four."; "Chapter 12" -> "Chapter Twelve";
    "LETTER I" -> "Letter One"; "IX" -> "Nine"; "I. The Burial of the Dead" ->
    "One. The Burial of the Dead". Whitespace is collapsed; other text is unchanged
    (numbers elsewhere in the title are left to :func:`normalize_for_speech`).
    """
    text = " ".join(title.split())
    caps = _is_all_caps(text)
    numbered = _split_number(text)
    head, rest = numbered if numbered else ("", text)
    if caps:
        lead = rest[: len(rest) - len(rest.lstrip(" .:"))]
        rest = lead + title_case(rest[len(lead) :]) if rest.strip(" .:") else rest
    return head + rest
