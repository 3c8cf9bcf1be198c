"""Abbreviations a TTS voice misreads (Piper takes "Mr." as a sentence end).

Titles before a name always expand ("Mr. and Mrs. Smith"); rank titles ("Col.",
"Gen.") only when a capitalised name follows. "St." is "Saint" before a name and
"Street" after one. Expansions that can end a sentence ("etc.", "Jr.") keep their
full stop when the sentence plainly ends there (see ``numbers.ends_sentence``).
"""

from __future__ import annotations

import re

from pipeline.annotate.numbers import ends_sentence

# Always followed by a name, so never a sentence end; "Mr" etc. also without a dot.
_HONORIFICS = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Messrs": "Messieurs"}
# Expanded only before a capitalised word (so "Gen. 1" or a stray "Col." is left alone).
_RANKS = {
    "Prof": "Professor",
    "Capt": "Captain",
    "Col": "Colonel",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Rev": "Reverend",
    "Sgt": "Sergeant",
    "Gov": "Governor",
    "Mt": "Mount",
    "Ft": "Fort",
    "Hon": "Honourable",
    "Mme": "Madame",
    "Mlle": "Mademoiselle",
}
# May end a sentence; the full stop is kept when it does.
_ENDINGS = {"Jr": "Junior", "Sr": "Senior", "etc": "et cetera", "vs": "versus", "viz": "namely"}

_HONORIFIC = re.compile(rf"\b({'|'.join(_HONORIFICS)})(?:\.(?=\s|$)|(?=\s+[A-Z]))")
_RANK = re.compile(rf"\b({'|'.join(_RANKS)})\.(?=\s+[A-Z])")
_ENDING = re.compile(rf"\b({'|'.join(_ENDINGS)})\.")
_LATIN = re.compile(r"\b([eEiI])\.([gGeE])\.")
_NUMBER = re.compile(r"\b([Nn]o|[Nn]os)\.(\s?)(?=\d)")
_SAINT = re.compile(r"\bSt\.(?=\s|$)")
# A capitalised word that is not the first of its sentence ("on Baker St.", not "In St.").
_CAPITALISED_BEFORE = re.compile(r"[^.!?\s]\s+[A-Z][\w'’-]*\s+$")
_AMPERSAND = re.compile(r"(\s?)&(\s?)")


def _latin(m: re.Match[str]) -> str:
    spoken = {"eg": "for example", "ie": "that is"}.get((m[1] + m[2]).lower())
    if spoken is None:
        return m[0]
    return spoken[0].upper() + spoken[1:] if m[1].isupper() else spoken


def _ending(m: re.Match[str]) -> str:
    stop = "." if ends_sentence(m.string, m.end()) and m[1] != "vs" else ""
    return _ENDINGS[m[1]] + stop


def _saint(m: re.Match[str]) -> str:
    text, start = m.string, m.start()
    after_name = _CAPITALISED_BEFORE.search(text, max(0, start - 40), start) is not None
    before_name = re.match(r"\s+[A-Z]", text[m.end() :]) is not None
    if before_name and not after_name:
        return "Saint"
    return "Street" + ("." if ends_sentence(text, m.end()) else "")


def _number(m: re.Match[str]) -> str:
    word = "number " if len(m[1]) == 2 else "numbers "
    return word.capitalize() if m[1][0] == "N" else word


def _ampersand(m: re.Match[str]) -> str:
    before = " " if m.start() > 0 else ""
    after = " " if m.end() < len(m.string) else ""
    return f"{before}and{after}"


def expand_abbreviations(text: str) -> str:
    """Expand titles, Latin abbreviations, "No. 5", "St." and "&" (see module doc)."""
    if "." not in text and "&" not in text and not _HONORIFIC.search(text):
        return text
    text = _AMPERSAND.sub(_ampersand, text) if "&" in text else text
    text = _HONORIFIC.sub(lambda m: _HONORIFICS[m[1]], text)
    text = _RANK.sub(lambda m: _RANKS[m[1]], text)
    text = _SAINT.sub(_saint, text)
    text = _LATIN.sub(_latin, text)
    text = _NUMBER.sub(_number, text)
    return _ENDING.sub(_ending, text)
