"""Number words for English speech (num2words 0.5.14 underneath).

Conventions, used everywhere in annotate: cardinals keep num2words' British-style
"and" and thousands commas ("one thousand, two hundred and thirty-four"); decimals are
read digit by digit after "point"; years follow spoken usage ("eighteen fifty-one",
"nineteen hundred", "eighteen oh five", "two thousand five", "twenty twenty-three").
"""

from __future__ import annotations

from num2words import num2words


def cardinal(digits: str) -> str:
    """Words for a digit string that may hold thousands commas ("1,234").

    A multi-digit string with a leading zero ("007") is read digit by digit.
    """
    plain = digits.replace(",", "")
    if len(plain) > 1 and plain.startswith("0"):
        return " ".join(num2words(int(d)) for d in plain)
    return num2words(int(plain))


def ordinal(digits: str) -> str:
    """Ordinal words for a digit string: "22" -> "twenty-second"."""
    return num2words(int(digits.replace(",", "")), to="ordinal")


def decimal(integer: str, fraction: str) -> str:
    """Words for ``integer.fraction``: ("3", "14") -> "three point one four"."""
    digits = " ".join(num2words(int(d)) for d in fraction)
    return f"{cardinal(integer)} point {digits}"


def year(value: int) -> str:
    """Spoken year: 1851 "eighteen fifty-one", 1900 "nineteen hundred",
    1805 "eighteen oh five", 2005 "two thousand five", 2023 "twenty twenty-three"."""
    if 2000 <= value <= 2009:
        return "two thousand" + (f" {num2words(value - 2000)}" if value > 2000 else "")
    high, low = divmod(value, 100)
    if low == 0:
        return f"{num2words(high)} hundred"
    if low < 10:
        return f"{num2words(high)} oh {num2words(low)}"
    return f"{num2words(high)} {num2words(low)}"


def plural(words: str) -> str:
    """Plural of a number phrase's last word: "eighteen ninety" -> "eighteen nineties"."""
    head, _, last = words.rpartition(" ")
    if last.endswith("y"):
        last = last[:-1] + "ies"
    elif last.endswith("x"):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def capitalize_words(words: str) -> str:
    """Title-case a number phrase for a heading: "twenty-two" -> "Twenty-Two"."""
    parts = []
    for word in words.split(" "):
        if word in {"and", "point", "oh", "the"}:
            parts.append(word)
        else:
            parts.append("-".join(p[:1].upper() + p[1:] for p in word.split("-")))
    return " ".join(parts)
