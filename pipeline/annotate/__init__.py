"""Annotate stage: chapter text -> text an English TTS voice reads correctly.

Piper (en_US voices) reads raw digits poorly and takes "Mr." for a sentence end, so
before segmentation every block goes through, in this order:

1. the author's lexicon (:func:`apply_lexicon`) -- first, so it can override any rule;
2. abbreviations and "&" (:mod:`.abbreviations`);
3. roman numerals after a numbering keyword or a ruler's name (:mod:`.roman`);
4. digits -> words (:mod:`.numbers`, conventions in :mod:`.words`).

Chapter titles first go through :func:`speakable_title`. Text with nothing to change
comes back byte-identical; punctuation that drives prosody is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pipeline.annotate.abbreviations import expand_abbreviations
from pipeline.annotate.lexicon import apply_lexicon, load_lexicon
from pipeline.annotate.numbers import numbers_to_words
from pipeline.annotate.roman import romans_to_words
from pipeline.annotate.titles import speakable_title
from pipeline.models import Block, BlockKind, Chapter

__all__ = [
    "annotate_chapter",
    "apply_lexicon",
    "load_lexicon",
    "normalize_for_speech",
    "speakable_title",
]


def normalize_for_speech(text: str, language: str = "en") -> str:
    """Expand abbreviations, regnal/numbering roman numerals and digits into words.

    Only English ("en", "en-US", ...) has rules; text in any other language comes back
    unchanged. Examples: "Mr. Smith paid $3.50 in 1851" -> "Mister Smith paid three
    dollars and fifty cents in eighteen fifty-one". The pronoun "I" is never touched.
    """
    if not language.lower().startswith("en") or not text:
        return text
    text = expand_abbreviations(text)
    text = romans_to_words(text)
    return numbers_to_words(text)


def _annotate_text(text: str, lexicon: Mapping[str, str], language: str) -> str:
    return normalize_for_speech(apply_lexicon(text, lexicon), language)


def annotate_chapter(chapter: Chapter, lexicon: Mapping[str, str], language: str = "en") -> Chapter:
    """A new :class:`Chapter` ready to segment: a speakable title and speakable blocks.

    The title goes through :func:`speakable_title`, then the lexicon, then
    :func:`normalize_for_speech`; each block's text through the lexicon then
    normalisation. Section breaks, the index and the block kinds are unchanged. The
    ``preamble`` (a part's heading and epigraph) is treated the same way, its headings as
    titles.
    """
    title = _annotate_text(speakable_title(chapter.title), lexicon, language)
    blocks = tuple(
        block
        if block.kind is BlockKind.SECTION_BREAK
        else replace(block, text=_annotate_text(block.text, lexicon, language))
        for block in chapter.blocks
    )
    preamble = tuple(
        Block(block.kind, _annotate_text(speakable_title(block.text), lexicon, language))
        if block.kind is BlockKind.HEADING
        else Block(block.kind, _annotate_text(block.text, lexicon, language))
        for block in chapter.preamble
        if block.kind is not BlockKind.SECTION_BREAK
    )
    return replace(chapter, title=title, blocks=blocks, preamble=preamble)
