"""The author's pronunciation lexicon: term -> respelling, applied before anything else.

The lexicon runs first so an author can override any other rule ("Dr." -> "Drive",
"1984" -> "Nineteen Eighty-Four"); its respellings then pass through number and
abbreviation normalisation, so write them as words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.errors import ConfigError


def _key(term: str) -> str:
    return " ".join(term.split()).casefold()


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(part) for part in term.split())
    head = r"(?<!\w)" if term[0].isalnum() or term[0] == "_" else ""
    tail = r"(?!\w)" if term[-1].isalnum() or term[-1] == "_" else ""
    return head + body + tail


@lru_cache(maxsize=32)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(_term_pattern(t) for t in ordered), re.IGNORECASE)


def apply_lexicon(text: str, lexicon: Mapping[str, str]) -> str:
    """Replace each lexicon term in ``text`` by its respelling.

    Matching is whole-word and case-insensitive; a multi-word term matches across any
    run of whitespace; longer terms win over shorter ones ("New York" before "York").
    Surrounding punctuation is kept ("Ahab's" -> "Ay-hab's"). One pass: a respelling
    is never itself looked up again.
    """
    terms = {_key(term): spelling for term, spelling in lexicon.items() if term.strip()}
    if not terms or not text:
        return text
    pattern = _compile(tuple(sorted(terms)))
    return pattern.sub(lambda m: terms[_key(m[0])], text)


def load_lexicon(path: str | Path) -> dict[str, str]:
    """Read a YAML lexicon file: a mapping of term to respelling (both strings).

    Numeric keys (``1984: Nineteen Eighty-Four``) are read as their text. An empty file
    is an empty lexicon. Raises :class:`ConfigError` for a missing or unreadable file,
    invalid YAML, a top level that is not a mapping, or a non-string / empty entry.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"lexicon file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read lexicon file {path}: {exc}".splitlines()[0]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"{path}: a lexicon must be a mapping of term: respelling (got a {kind})")
    return {
        _checked_term(path, key): _checked_spelling(path, key, value) for key, value in data.items()
    }


def _checked_term(path: Path, key: object) -> str:
    if isinstance(key, bool) or not isinstance(key, str | int | float) or not str(key).strip():
        raise ConfigError(f"{path}: lexicon term {key!r} must be non-empty text")
    return str(key).strip()


def _checked_spelling(path: Path, key: object, value: object) -> str:
    if not isinstance(value, str):
        kind = type(value).__name__
        raise ConfigError(f"{path}: respelling of {key!r} must be a string (got {kind})")
    return value
