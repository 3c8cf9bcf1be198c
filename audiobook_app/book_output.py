"""A book's output choices: which files a conversion of it writes.

The choices are :class:`pipeline.config.OutputConfig`'s fields (the audio formats, the
MP3 and M4B bitrates, ACX mode, credits, retail sample, subtitles, read-along EPUB,
Audiobookshelf export). They live in ``Book.config_overrides["output"]`` as the fields the
author set (the others keep :class:`OutputConfig`'s defaults), and
:func:`audiobook_app.book_cast.pipeline_config` merges them into the config of every job
started afterwards (a running job keeps the config it started with).

Each function checks ownership like :mod:`audiobook_app.library` (another author's book
raises :class:`NotFoundError`); a refused choice raises :class:`ConfigError` whose
message says what to change (the :class:`OutputConfig` validator's, e.g. 128 kbps in ACX
mode, or a retail sample without chapter files).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from pydantic import ValidationError
from sqlmodel import Session

from audiobook_app import library
from audiobook_app.db import repo
from audiobook_app.db.models import Book
from pipeline.config import MP3_BITRATES_KBPS, OutputConfig
from pipeline.errors import ConfigError
from pipeline.models import SourceFormat

FORMATS = ("m4b", "mp3", "wav", "flac")  # the order the page lists them and they are stored
AAC_BITRATES_KBPS = (32, 64, 96, 128)  # the M4B choices offered (OutputConfig allows 32-256)
CHOICES = tuple(OutputConfig.model_fields)  # the keys a book's output choices may hold


@dataclass(frozen=True)
class OutputView:
    """The output block's view of a book: its choices (bitrates as text, for selects) and
    whether its manuscript is an EPUB (the read-along EPUB is made only from one)."""

    formats: list[str] = field(default_factory=lambda: list(OutputConfig().formats))
    mp3_bitrate: str = str(OutputConfig().mp3_bitrate_kbps)
    aac_bitrate: str = str(OutputConfig().aac_bitrate_kbps)
    acx: bool = OutputConfig().acx
    credits: bool = OutputConfig().credits
    retail_sample: bool = OutputConfig().retail_sample
    subtitles: bool = OutputConfig().subtitles
    readalong: bool = OutputConfig().readalong
    audiobookshelf: bool = OutputConfig().audiobookshelf
    epub: bool = False

    @classmethod
    def of(cls, choices: OutputConfig, source_format: str | None) -> OutputView:
        """The view of ``choices`` for a book whose manuscript is ``source_format``
        (:class:`pipeline.models.SourceFormat` values; None before it is read)."""
        return cls(
            formats=list(choices.formats),
            mp3_bitrate=str(choices.mp3_bitrate_kbps),
            aac_bitrate=str(choices.aac_bitrate_kbps),
            acx=choices.acx,
            credits=choices.credits,
            retail_sample=choices.retail_sample,
            subtitles=choices.subtitles,
            readalong=choices.readalong,
            audiobookshelf=choices.audiobookshelf,
            epub=source_format == SourceFormat.EPUB,
        )


def _stored(book: Book) -> dict:
    return dict((book.config_overrides or {}).get("output") or {})


def validate_choices(choices: Mapping[str, object]) -> OutputConfig:
    """``choices`` (some of :data:`CHOICES`) over :class:`OutputConfig`'s defaults,
    validated. Raises :class:`ConfigError` with a
    readable message: an unknown key names the known ones; a value out of range or a
    combination :class:`OutputConfig` refuses (128 kbps in ACX mode, no format) gives
    pydantic's message without its "Value error, " prefix, after the field's name."""
    if not isinstance(choices, Mapping):
        raise ConfigError(f"output choices must be a mapping of name to value (got {choices!r})")
    unknown = sorted(set(choices) - set(CHOICES))
    if unknown:
        raise ConfigError(
            f"unknown output choice {', '.join(map(repr, unknown))}: "
            f"the choices are {', '.join(CHOICES)}"
        )
    try:
        config = OutputConfig.model_validate(dict(choices))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ").replace("tuple", "list")
        raise ConfigError(f"{where}: {message}" if where else message) from None
    return config


def output_choices(session: Session, user_id: int, book_id: int) -> OutputConfig:
    """The output choices of one of the user's books: those stored over the defaults.
    Raises NotFoundError (not the user's book) and ConfigError (stored choices that no
    longer validate)."""
    return validate_choices(_stored(library.owned_book(session, user_id, book_id)))


def output_view(session: Session, user_id: int, book_id: int) -> OutputView:
    """:func:`output_choices` as the page's output block shows them (``epub`` from the
    book's source format, or its file name before the manuscript was read). Raises as
    :func:`output_choices`."""
    book = library.owned_book(session, user_id, book_id)
    # before the inspect job read it, the upload's name says what it is
    source_format = book.source_format or PurePath(book.source_filename).suffix.lstrip(".")
    return OutputView.of(validate_choices(_stored(book)), source_format.lower())


def save_output_choices(
    session: Session, user_id: int, book_id: int, choices: Mapping[str, object]
) -> OutputConfig:
    """Store some output choices of one of the user's books (fields not in ``choices``
    keep their stored value, else the default) and return all of them; jobs started
    afterwards run with them. ``formats`` is stored de-duplicated in :data:`FORMATS`
    order. Audited as ``book.output``. Raises NotFoundError (not the user's book) and
    ConfigError (see :func:`validate_choices`; nothing is stored then)."""
    book = library.owned_book(session, user_id, book_id)
    if not isinstance(choices, Mapping):
        raise ConfigError(f"output choices must be a mapping of name to value (got {choices!r})")
    merged = {**_stored(book), **choices}
    config = validate_choices(merged)
    if "formats" in merged:
        config = config.model_copy(
            update={"formats": tuple(f for f in FORMATS if f in config.formats)}
        )
    dumped = config.model_dump(mode="json")
    stored = {name: dumped[name] for name in CHOICES if name in merged}
    book.config_overrides = {**(book.config_overrides or {}), "output": stored}
    session.add(book)
    repo.audit(session, user_id, "book.output", "book", str(book_id), **stored)
    return config


def save_output_view(
    session: Session, user_id: int, book_id: int, choices: Mapping[str, object]
) -> OutputView:
    """:func:`save_output_choices`, returning the page's view of the stored choices.
    Raises as it."""
    save_output_choices(session, user_id, book_id, choices)
    return output_view(session, user_id, book_id)


def toggled_formats(formats: list[str], fmt: str, on: bool) -> list[str]:
    """``formats`` with ``fmt`` ticked (``on``) or unticked, in :data:`FORMATS` order
    (an unknown ``fmt`` is kept, for :func:`validate_choices` to refuse)."""
    chosen = (set(formats) | {fmt}) if on else (set(formats) - {fmt})
    return [f for f in FORMATS if f in chosen] + sorted(chosen - set(FORMATS))


def bitrate(value: str) -> int:
    """A bitrate select's value ("192") as kbps. Raises ConfigError for text that is not
    a whole number (the choices are :data:`pipeline.config.MP3_BITRATES_KBPS` and
    :data:`AAC_BITRATES_KBPS`)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        choices = ", ".join(map(str, MP3_BITRATES_KBPS))
        raise ConfigError(
            f"a bitrate is a number of kbps, e.g. {choices} (got {value!r})"
        ) from None


# How the book page's download list names a job's files, by purpose (the file's name
# follows, or replaces it for the one-file extras)
DOWNLOAD_LABELS = {
    "subtitles": "Subtitles: {name}",
    "readalong": "Read-along EPUB ({name})",
    "sample": "Retail sample (MP3)",
    "abs": "Audiobookshelf folder (ZIP)",
}


def download_label(name: str, purpose: str) -> str:
    """The label of a job's file ``name`` (the last part of its key) of ``purpose`` in
    the book page's download list: the extras say what they are (see
    :data:`DOWNLOAD_LABELS`), audio files keep their name ("01 - Chapter 1.mp3")."""
    return DOWNLOAD_LABELS.get(str(purpose), "{name}").format(name=name)
