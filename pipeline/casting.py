"""Voices stage: the cast decides who reads each stretch of a chapter.

The analyze stage finds quotations and their speakers (:mod:`pipeline.dialogue`); here a
paragraph with quotations that the cast gives to another voice is cut into *runs*, one
block per run, each with the role that reads it (``Block.speaker``; ``None`` is the
narrator) and ``joined=True`` on every run after the first, so the segmenter puts each
speaker's words in their own segments and pauses between runs as between sentences.

Which role reads a quotation (:func:`role_of`), by :class:`pipeline.config.CastConfig`
mode: ``single``: nobody but the narrator (chapters come back unchanged); ``dual``: every
quotation is ``"dialogue"``; ``full``: a quotation attributed to a cast character is that
character's, any other is ``"dialogue"`` when the cast has a dialogue voice, else the
narrator's. In both, a first-person narrator's own quotations ("…," said I; speaker
``"Narrator"``) stay with the narrator unless the cast names ``"Narrator"``. Adjacent runs of one role are merged, so "“Hello,” said Hyde." read by the
narrator stays one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pipeline.config import DIALOGUE, CastConfig
from pipeline.dialogue import NARRATOR as FIRST_PERSON
from pipeline.dialogue import Quote
from pipeline.models import Block, BlockKind, Chapter


def role_of(quote: Quote, cast: CastConfig) -> str | None:
    """The role that reads ``quote`` under ``cast`` (``None``: the narrator)."""
    if cast.mode == "single":
        return None
    if quote.speaker is not None and quote.speaker in cast.characters:
        return quote.speaker
    if quote.speaker == FIRST_PERSON:  # "said I": the narrator's own words
        return None
    return DIALOGUE if cast.mode == "dual" or cast.dialogue is not None else None


def _runs(text: str, spans: Sequence[tuple[int, int, str | None]]) -> list[tuple[str, str | None]]:
    """``text`` cut at ``spans`` (start, end, role) into (text, role) runs in order, each
    stripped, unspeakable pieces (no letter or digit) folded into the run before, and
    neighbours of one role merged."""
    pieces: list[tuple[str, str | None]] = []
    cursor = 0
    for start, end, role in sorted(spans):
        if start < cursor:  # overlapping spans: the earlier one wins
            continue
        pieces += [(text[cursor:start], None), (text[start:end], role)]
        cursor = end
    pieces.append((text[cursor:], None))
    runs: list[tuple[str, str | None]] = []
    for piece, role in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if runs and (runs[-1][1] == role or not any(ch.isalnum() for ch in piece)):
            runs[-1] = (f"{runs[-1][0]} {piece}", runs[-1][1])
        else:
            runs.append((piece, role))
    return runs


def cast_chapter(chapter: Chapter, quotes: Sequence[Quote], cast: CastConfig) -> Chapter:
    """``chapter`` with each paragraph cut into runs by who reads them (see module doc).

    ``quotes`` are the chapter's quotations (``Quote.block`` indexes ``chapter.blocks``;
    offsets into that block's text). A paragraph all in one role becomes one block with
    that ``speaker``; a paragraph without cast quotations is unchanged. The chapter's
    words are kept: the runs joined with spaces give the paragraph back (whitespace
    aside).
    """
    if cast.mode == "single" or not quotes:
        return chapter
    spans: dict[int, list[tuple[int, int, str | None]]] = {}
    for quote in quotes:
        role = role_of(quote, cast)
        if role is not None:
            spans.setdefault(quote.block, []).append((quote.start, quote.end, role))
    blocks: list[Block] = []
    for i, block in enumerate(chapter.blocks):
        if i not in spans or block.kind is not BlockKind.PARAGRAPH:
            blocks.append(block)
            continue
        for n, (text, role) in enumerate(_runs(block.text, spans[i])):
            blocks.append(replace(block, text=text, speaker=role, joined=n > 0))
    return replace(chapter, blocks=tuple(blocks))
