"""Digits -> words: currency, percentages, times, units, decades, ordinals, years,
decimals and plain cardinals, applied in that order (most specific first) so each digit
run is read once. Rules and their sources are in each pattern's comment.
"""

from __future__ import annotations

import re

from pipeline.annotate import words

# An integer with optional thousands commas ("1,234") or a plain digit run.
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"

_CURRENCY_NAMES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_CURRENCY = re.compile(
    rf"([$£€])\s?({_INT})(?:\.(\d+))?(?!\d)(?:\s(thousand|million|billion|trillion)\b)?"
)
_CENTS = re.compile(rf"(?<![\w.])({_INT})¢")
_PERCENT = re.compile(rf"(?<![\w.])({_INT})(?:\.(\d+))?\s?%")
# Clock times: "10:30", "9:05 am", "9:05 a.m.", "12:00 PM"; minutes 00-59 only.
_AMPM = r"(?:(\s?)([AaPp])\.?\s?[Mm]\b(\.)?)"
_CLOCK = re.compile(rf"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:]){_AMPM}?")
# British clock times with a dot, only where a time is announced: "at 9.15", "between 8.30".
_DOT_CLOCK = re.compile(
    rf"\b((?i:at|by|until|till|from|between|before|after|past|about|around|and)\s+)"
    rf"([01]?\d|2[0-3])\.([0-5]\d)(?![\d.]\d){_AMPM}?"
)
_HOUR_AMPM = re.compile(rf"(?<![\w.:])(1[0-2]|0?[1-9]){_AMPM}")
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "yds": ("yard", "yards"),
    "mi": ("mile", "miles"),
    "ml": ("milliliter", "milliliters"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_UNIT = re.compile(rf"(?<![\w.])({_INT})(?:\.(\d+))?\s?({_UNIT_ALT})(?![\w/])")
# Decades and other plurals: "1890s", "'80s", "1900s".
# A year with its century dropped: "in the year '34" (a leading apostrophe and two digits).
_SHORT_YEAR = re.compile(r"(?<![\w'’])['’](\d\d)(?![\w'’])")
_DECADE = re.compile(r"(?<![\w.])['’]?(\d+0)s\b")
_ORDINAL = re.compile(rf"(?<![\w.])({_INT})(st|nd|rd|th|ST|ND|RD|TH)\b")
_RANGE = re.compile(r"(?<=\d)\s?–\s?(?=[\d$£€])")
_FOUR_DIGITS = re.compile(r"(?<![\d,.])(\d{4})(?!\d|[.,]\d)")
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
_CARDINAL = re.compile(rf"(?<!\d)({_INT})(?!\d)")

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_YEAR_WORDS = (
    "in|of|since|by|until|till|from|year|to|before|after|during|around|circa|c|ca"
    "|early|late|mid|spring|summer|autumn|fall|winter"
)
# A year is announced by a preceding word ("in 1851") or a month, maybe with a day
# ("March 5, 1851"; "5th March 1851"), or stands where a sentence starts.
_YEAR_CONTEXT = re.compile(
    rf"(?:\b(?:{_YEAR_WORDS})\.?\s+|\b(?:{_MONTHS})\b\.?[^.!?;\n]{{0,20}}|(?:^|[.!?][\"”’)]?\s+))$",
    re.IGNORECASE,
)
_LOWER_WORD_AFTER = re.compile(r"\s+[a-z]")


def ends_sentence(text: str, end: int) -> bool:
    """Whether a consumed full stop at ``text[end-1]`` likely ended a sentence: the text
    ends there, or the next word starts with a capital (after optional opening quote)."""
    return re.match(r"[”’\"')\]]*(?:\s*$|\s+[\"“‘(]?[A-Z])", text[end:]) is not None


def _currency(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCY_NAMES[m[1]]
    major, minor, scale = m[2], m[3], m[4]
    if scale:
        amount = words.decimal(major, minor) if minor else words.cardinal(major)
        return f"{amount} {scale} {many}"
    if minor and len(minor) > 2:
        return f"{words.decimal(major, minor)} {many}"
    spoken = []
    if int(major.replace(",", "")) or not minor or not int(minor):
        spoken.append(f"{words.cardinal(major)} {one if major == '1' else many}")
    cents = int(minor.ljust(2, "0")) if minor else 0
    if cents:
        spoken.append(f"{words.cardinal(str(cents))} {sub_one if cents == 1 else sub_many}")
    return " and ".join(spoken)


def _cents(m: re.Match[str]) -> str:
    return f"{words.cardinal(m[1])} {'cent' if m[1] == '1' else 'cents'}"


def _percent(m: re.Match[str]) -> str:
    amount = words.decimal(m[1], m[2]) if m[2] else words.cardinal(m[1])
    return f"{amount} percent"


def _ampm(m: re.Match[str], first: int) -> str:
    letter, stop = m[first + 1], m[first + 2]  # m[first] is the space before it
    if not letter:
        return ""
    tail = "." if stop and ends_sentence(m.string, m.end()) else ""
    return f" {letter.lower()} m{tail}"


def _clock(m: re.Match[str]) -> str:
    return _time_words(m[1], m[2], _ampm(m, 3))


def _dot_clock(m: re.Match[str]) -> str:
    return m[1] + _time_words(m[2], m[3], _ampm(m, 4))


def _short_year(m: re.Match[str]) -> str:
    return f"oh {words.cardinal(m[1][1])}" if m[1][0] == "0" else words.cardinal(m[1])


def _time_words(hour_digits: str, minute_digits: str, suffix: str) -> str:
    hour, minute = words.cardinal(str(int(hour_digits))), int(minute_digits)
    if minute == 0:
        return hour + (suffix or " o'clock")
    spoken = words.cardinal(str(minute))
    return f"{hour} {'oh ' if minute < 10 else ''}{spoken}{suffix}"


def _hour_ampm(m: re.Match[str]) -> str:
    return words.cardinal(str(int(m[1]))) + _ampm(m, 2)


def _unit(m: re.Match[str]) -> str:
    one, many = _UNITS[m[3]]
    amount = words.decimal(m[1], m[2]) if m[2] else words.cardinal(m[1])
    return f"{amount} {one if m[1] == '1' and not m[2] else many}"


def _decade(m: re.Match[str]) -> str:
    value = int(m[1])
    spoken = words.year(value) if len(m[1]) == 4 and 1100 <= value <= 2099 else words.cardinal(m[1])
    return words.plural(spoken)


def _is_year(m: re.Match[str]) -> bool:
    value = int(m[1])
    announced = _YEAR_CONTEXT.search(m.string, max(0, m.start() - 40), m.start()) is not None
    if 1000 <= value < 1100:
        return announced
    if not 1100 <= value <= 2099:
        return False
    return announced or _LOWER_WORD_AFTER.match(m.string, m.end()) is None


def _four_digits(m: re.Match[str]) -> str:
    return words.year(int(m[1])) if _is_year(m) else m[0]


def _cardinal(m: re.Match[str]) -> str:
    spoken = words.cardinal(m[1])
    text, start, end = m.string, m.start(), m.end()
    if start and text[start - 1].isalpha():
        spoken = " " + spoken
    if end < len(text) and text[end].isalpha():
        spoken += " "
    return spoken


def numbers_to_words(text: str) -> str:
    """Replace every digit-bearing token in ``text`` by English words (see module doc)."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _RANGE.sub(" to ", text)
    text = _CURRENCY.sub(_currency, text)
    text = _CENTS.sub(_cents, text)
    text = _PERCENT.sub(_percent, text)
    text = _CLOCK.sub(_clock, text)
    text = _DOT_CLOCK.sub(_dot_clock, text)
    text = _HOUR_AMPM.sub(_hour_ampm, text)
    text = _UNIT.sub(_unit, text)
    text = _DECADE.sub(_decade, text)
    text = _SHORT_YEAR.sub(_short_year, text)
    text = _ORDINAL.sub(lambda m: words.ordinal(m[1]), text)
    text = _FOUR_DIGITS.sub(_four_digits, text)
    text = _DECIMAL.sub(lambda m: words.decimal(m[1], m[2]), text)
    return _CARDINAL.sub(_cardinal, text)
