"""Analyze stage: ``Book`` -> ``BookAnalysis`` (counts, language, estimated duration).

The duration estimate uses the default narrator's measured pace, not a guess: Piper
``en_US-joe-medium`` at length_scale 1.0 speaks 196.6 words per minute of bare speech
(2,105 words of Pride and Prejudice -> 642.3 s), and the finished audiobook, with
spoken titles, pauses and room tone, runs at :data:`NARRATED_WPM` (measured 2026-11-22
with ``make convert`` on the whole Alice EPUB: 9,688 words -> 3,043.5 s of M4B).
Verse runs slower (The Waste Land: 154 wpm), so poetry is over-estimated by ~20 %.
"""

from __future__ import annotations

import py3langid

from pipeline.dialogue import attribute_book
from pipeline.models import Book, BookAnalysis, Chapter, ChapterAnalysis, Speaker

# Words per minute of finished audio (speech + pauses + room tone) for the default
# voice at length_scale 1.0 (see the module docstring for the measurement).
NARRATED_WPM = 191.0
# Seconds added per chapter: head + tail room tone and the spoken title with its pause.
CHAPTER_OVERHEAD_S = 5.0
_LANGID_SAMPLE_CHARS = 20_000


def estimate_duration_s(words: int, *, length_scale: float = 1.0, chapters: int = 1) -> float:
    """Seconds of finished audio for ``words`` words at the default narrator's pace.

    ``length_scale`` > 1 slows speech proportionally (Piper's duration multiplier).
    """
    return words / NARRATED_WPM * 60.0 * length_scale + chapters * CHAPTER_OVERHEAD_S


def detect_language(book: Book) -> str:
    """The book's language as an ISO 639-1 code: the declared one (``dc:language``,
    DOCX/PDF metadata) when present, else py3langid on the first 20,000 characters."""
    if book.metadata.language:
        return book.metadata.language.split("-")[0].lower()
    sample = "\n".join(c.text for c in book.chapters)[:_LANGID_SAMPLE_CHARS]
    if not sample.strip():
        return "en"
    lang, _score = py3langid.classify(sample)
    return lang


def _chapter_analysis(chapter: Chapter, length_scale: float) -> ChapterAnalysis:
    text = chapter.text
    words = chapter.words
    return ChapterAnalysis(
        index=chapter.index,
        title=chapter.title,
        words=words,
        characters=len(text),
        estimated_duration_s=round(estimate_duration_s(words, length_scale=length_scale), 1),
    )


def analyze(book: Book, *, length_scale: float = 1.0) -> BookAnalysis:
    """Count words and characters per chapter, detect the language, estimate duration,
    and list who speaks (quotations attributed by :func:`pipeline.dialogue.attribute_book`;
    English only, other languages list nobody).

    Title falls back to "Untitled" when the manuscript declares none.
    """
    chapters = tuple(_chapter_analysis(c, length_scale) for c in book.chapters)
    language = detect_language(book)
    speakers: tuple[Speaker, ...] = ()
    if language == "en":
        characters = attribute_book(book.chapters)[1]
        speakers = tuple(Speaker(c.name, c.lines, tuple(c.aliases)) for c in characters)
    return BookAnalysis(
        title=book.metadata.title or "Untitled",
        author=book.metadata.author,
        language=language,
        words=sum(c.words for c in chapters),
        characters=sum(c.characters for c in chapters),
        estimated_duration_s=round(sum(c.estimated_duration_s for c in chapters), 1),
        chapters=chapters,
        speakers=speakers,
    )
