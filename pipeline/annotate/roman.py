"""Roman numerals that a listener should hear as numbers.

Only three places: a heading (see :mod:`pipeline.annotate.titles`), after a numbering
keyword ("Chapter IV", "Book II", "World War II" -> cardinal), and after a capitalised
name ("Henry VIII" -> "Henry the Eighth", regnal ordinal). A lone "I" is read as a
number only after a capitalised keyword ("Part I") or in "King/Queen/Pope Name I" -- the
pronoun "I" is never touched. A lone "X", "L" or "C" is never a numeral (Malcolm X).
"""

from __future__ import annotations

import re

from pipeline.annotate import words

_STRICT = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})", re.IGNORECASE)
_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}

KEYWORDS = (
    "Chapter|Book|Part|Volume|Vol\\.|Act|Scene|Letter|Canto|Section|Stave|Article|Appendix"
    "|Psalm|Plate|Figure|Fig\\.|Episode|War|Phase|Stage|Type|Class|Level|Series|Vatican"
)
_KEYWORD_NUMERAL = re.compile(rf"\b((?i:{KEYWORDS}))(\s+)([IVXLCDM]+|[ivxlc]{{2,}})\b")
_CONTRACTION = re.compile(r"['’]\w")
_RULER_TITLES = (
    "King|Queen|Pope|Emperor|Empress|Tsar|Czar|Tsarina|Kaiser|Sultan|Prince|Princess|Duke|Duchess"
)
_REGNAL = re.compile(r"\b([A-Z][a-z]+)(\s+)([IVXL]{2,}|V)\b")
_REGNAL_ONE = re.compile(rf"\b((?:{_RULER_TITLES})\s+[A-Z][a-z]+)(\s+)I\b(?!['’]\w)")
_NOT_NAMES = frozenset(KEYWORDS.replace("\\.", ".").split("|")) | {
    "Apollo",
    "Bowl",
    "Mark",
    "Model",
    "Grade",
    "Year",
    "Room",
    "Form",
    "Unit",
}


def roman_value(numeral: str) -> int | None:
    """Value of a well-formed roman numeral ("IV" -> 4, "MCMXII" -> 1912), else None."""
    if not numeral or not _STRICT.fullmatch(numeral):
        return None
    upper, total = numeral.upper(), 0
    for here, after in zip(upper, upper[1:] + " "):
        value = _VALUES[here]
        total += -value if after != " " and _VALUES[after] > value else value
    return total


def _keyword(m: re.Match[str]) -> str:
    keyword, space, numeral = m[1], m[2], m[3]
    value = roman_value(numeral)
    if value is None or (numeral.islower() and value > 100):
        return m[0]
    if numeral == "I" and (keyword[0].islower() or _CONTRACTION.match(m.string, m.end())):
        return m[0]
    return f"{keyword}{space}{words.cardinal(str(value))}"


def _regnal(m: re.Match[str]) -> str:
    value = roman_value(m[3])
    if value is None or m[1] in _NOT_NAMES or value > 50:
        return m[0]
    spoken = words.capitalize_words(words.ordinal(str(value)))
    return f"{m[1]}{m[2]}the {spoken}"


def romans_to_words(text: str) -> str:
    """Read numbering and regnal roman numerals in running text (see module doc)."""
    text = _KEYWORD_NUMERAL.sub(_keyword, text)
    text = _REGNAL_ONE.sub(lambda m: f"{m[1]}{m[2]}the First", text)
    return _REGNAL.sub(_regnal, text)
