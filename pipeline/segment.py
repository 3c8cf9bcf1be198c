"""Segment stage: an annotated chapter -> engine-sized segments with their pauses.

Sentences come from pysbd 0.3.4 (English rules, ``clean=False``) with two additions.
First, the text is cut at *certain* sentence ends (a lower-case word that pysbd does not
list as an abbreviation, then . ! or ?, a space and a capital), even inside a quotation:
pysbd alone keeps a multi-sentence quotation whole, and such a "sentence" would later be
cut at a comma instead of between its sentences. Second, a piece that starts with a
lower-case letter, a closing quote or bracket is glued back onto the sentence before it,
so ``“Stop!” he cried.`` stays one sentence and a quote is never cut inside a sentence.
Verse lines (``"\\n"`` inside a block) are joined with
", " (or a space when the line already ends in punctuation): one breath per stanza, a
short clause pause per line, and no false sentence end for the voice to drop its pitch.

Segments hold whole sentences up to ``config.segment.max_chars``; only a sentence
longer than that is cut, at its last clause boundary (; : , — –) before the limit,
preferring one outside a quotation, and as a last resort at a word boundary.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pysbd
from pysbd.lang.english import English

from pipeline.config import NARRATOR, PipelineConfig, chapter_role
from pipeline.models import Block, BlockKind, Chapter, ChapterPlan, Segment, SegmentKind

_LOCAL = threading.local()  # pysbd's Segmenter keeps per-call state: one per thread
_CLOSERS = "”’»)]}"
_CLAUSE_MARKS = ";:,—–"
_LINE_END_PUNCT = tuple('.,;:!?—–-…"”’)]')
# A certain sentence end: a lower-case word (not an abbreviation pysbd knows) and
# . ! or ?, closers, a space, then a capital. Text between such ends that holds no other
# stop is one sentence and skips pysbd (whose per-call regex compiling dominates).
_CERTAIN_END = re.compile(r"\b([A-Za-z]*[a-z])[.!?]+[”’\"')\]]*(\s+)(?=[“‘\"(]?[A-Z])")
_ABBREVIATIONS = frozenset(a.lower() for a in English.Abbreviation.ABBREVIATIONS)
_INNER_STOP = re.compile(r"[.!?…](?![.!?…”’\"')\]\s]*$)")


def _segmenter() -> pysbd.Segmenter:
    if not hasattr(_LOCAL, "segmenter"):
        _LOCAL.segmenter = pysbd.Segmenter(language="en", clean=False)
    return _LOCAL.segmenter


def join_verse_lines(text: str) -> str:
    """One line from a block's ``"\\n"``-separated lines (see module doc)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    out = lines[:1]
    for line in lines[1:]:
        sep = " " if out[-1].endswith(_LINE_END_PUNCT) else ", "
        out.append(sep + line)
    return "".join(out)


def _continues(previous: str, piece: str) -> bool:
    """Whether ``piece`` belongs to the sentence before it (a bad pysbd cut)."""
    first = piece[0]
    if first.islower() or not any(ch.isalnum() for ch in piece):
        return True
    if first in _CLOSERS:
        return not (first == "’" and piece[1:2].isalpha())
    if first in "\"'":  # an opening quote is followed by a word, a closing one is not
        return not piece[1:2].isalnum()
    return False


def _certain_chunks(line: str) -> list[str]:
    """``line`` cut only at certain sentence ends (see ``_CERTAIN_END``)."""
    chunks, start = [], 0
    for m in _CERTAIN_END.finditer(line):
        if len(m[1]) > 1 and m[1].lower() not in _ABBREVIATIONS:
            chunks.append(line[start : m.start(2)])
            start = m.end(2)
    return chunks + [line[start:]]


def _pysbd(chunk: str) -> list[str]:
    return _segmenter().segment(chunk) if _INNER_STOP.search(chunk) else [chunk]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, stripped, in order; ``[]`` for blank text.

    Joining the result with single spaces gives the (verse-joined) input with its
    whitespace collapsed. Abbreviations ("U.S.", "a.m.", "H. G. Wells"), decimals and
    ellipses do not end a sentence; a closing quote stays with its sentence.
    """
    line = " ".join(join_verse_lines(text).split())
    if not line:
        return []
    sentences: list[str] = []
    for piece in (p.strip() for chunk in _certain_chunks(line) for p in _pysbd(chunk)):
        if not piece:
            continue
        if sentences and _continues(sentences[-1], piece):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return sentences


def segment_id(text: str, voice: str, engine: str, settings: Mapping[str, object]) -> str:
    """Stable id of a segment's audio: the first 24 hex digits of the SHA-256 of the
    canonical JSON (sorted keys, no spaces, UTF-8) of text, voice, engine and settings.

    ``settings`` must be JSON-serialisable (TypeError otherwise); note that 1 and 1.0
    are different settings.
    """
    payload = {"engine": engine, "settings": dict(settings), "text": text, "voice": voice}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _quote_depths(text: str) -> list[bool]:
    """For each index, whether the text up to and including it is inside a quotation."""
    depth, straight, inside = 0, False, []
    for ch in text:
        if ch == "“":
            depth += 1
        elif ch == "”":
            depth = max(0, depth - 1)
        elif ch == '"':
            straight = not straight
        inside.append(depth > 0 or straight)
    return inside


def _clause_cuts(text: str, limit: int) -> list[int]:
    """Cut positions (piece = text[:cut]) after a clause mark, closers included."""
    cuts = []
    for i, ch in enumerate(text[:limit]):
        if ch not in _CLAUSE_MARKS or (ch == "," and text[i + 1 : i + 2].isdigit()):
            continue
        cut = i + 1
        while cut < len(text) and text[cut] in _CLOSERS + "\"'":
            cut += 1
        if cut <= limit and text[cut:].strip() and text[:cut].strip(" ;:,—–"):
            cuts.append(cut)
    return cuts


def _cut_position(text: str, limit: int) -> int:
    """Where to cut an over-long sentence so that text[:cut].rstrip() fits ``limit``."""
    cuts = _clause_cuts(text, limit)
    if cuts:
        inside = _quote_depths(text)
        outside = [cut for cut in cuts if not inside[cut - 1]]
        return (outside or cuts)[-1]
    spaces = [i for i in range(1, min(limit, len(text) - 1) + 1) if text[i].isspace()]
    return spaces[-1] if spaces else limit


def fit_sentence(sentence: str, max_chars: int) -> list[str]:
    """``sentence`` as pieces of at most ``max_chars`` characters (itself when it fits)."""
    pieces, rest = [], sentence.strip()
    while len(rest) > max_chars:
        cut = _cut_position(rest, max_chars)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pieces + [rest]


def pack_sentences(sentences: Iterable[str], max_chars: int) -> list[str]:
    """Greedily join whole sentences (with a space) into texts of at most ``max_chars``.

    A sentence longer than ``max_chars`` is cut by :func:`fit_sentence`; its last piece
    may share a segment with the sentences after it.
    """
    packed: list[str] = []
    current = ""
    for sentence in sentences:
        pieces = fit_sentence(sentence, max_chars)
        if len(pieces) > 1:
            packed.extend(p for p in [current, *pieces[:-1]] if p)
            current = pieces[-1]
        elif current and len(current) + 1 + len(sentence) <= max_chars:
            current += " " + sentence
        else:
            packed.extend([current] if current else [])
            current = sentence
    return packed + ([current] if current else [])


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _body_texts(blocks: Iterable[Block], config: PipelineConfig) -> list[tuple[str, int, str]]:
    """(text, pause_after_ms, role) for the body, before the last pause is zeroed. A run
    that continues its paragraph (``Block.joined``) follows a sentence pause."""
    pauses, drafts = config.pauses, list[tuple[str, int, str]]()
    for block in blocks:
        if block.kind is BlockKind.SECTION_BREAK:
            if drafts:
                drafts[-1] = (drafts[-1][0], pauses.section_break_ms, drafts[-1][2])
            continue
        if block.joined and drafts and drafts[-1][1] == pauses.paragraph_ms:
            drafts[-1] = (drafts[-1][0], pauses.sentence_ms, drafts[-1][2])
        role = block.speaker or NARRATOR
        texts = pack_sentences(split_sentences(block.text), config.segment.max_chars)
        texts = [t for t in texts if _speakable(t)]
        drafts += [(t, pauses.sentence_ms, role) for t in texts]
        if texts:
            drafts[-1] = (texts[-1], pauses.paragraph_ms, role)
    return drafts


@dataclass(frozen=True)
class VoiceKey:
    """What a segment's id hashes besides its text: the engine, the voice's name and the
    engine's settings (``pipeline.tts.engine_settings``)."""

    engine: str
    voice: str
    settings: Mapping[str, object]


def segment_chapter(
    chapter: Chapter, config: PipelineConfig, voices: Mapping[str, VoiceKey]
) -> ChapterPlan:
    """Cut an annotated (and cast) chapter into segments.

    ``voices`` maps each role to its :class:`VoiceKey`; it must hold ``"narrator"``, which
    also reads any role it lacks. A segment's ``voice`` is its role (the block's
    ``speaker``, else ``"narrator"``); titles and the preamble are the narrator's. A
    segment never holds two roles' words.

    The ``preamble`` (the heading and epigraph of the part the chapter opens) is read
    first, then the title, each followed by ``after_title_ms`` (both only when
    ``config.speak_chapter_titles``). Other pauses (ms, from ``config.pauses``):
    ``sentence_ms`` between segments of one block and between the runs of one paragraph,
    ``paragraph_ms`` after a paragraph, ``section_break_ms`` before the block after a
    section break (breaks make no segment; consecutive ones collapse), and 0 after the
    chapter's last segment (assembly adds the tail room tone).

    The author's ``config.segment_fixes`` of this chapter replace a segment's text and
    count its regenerations (:class:`pipeline.config.SegmentFix`; a regeneration adds
    ``"take"`` to the settings its id hashes). When ``config.chapter_voices`` gives this
    chapter its own voice, every segment the narrator's voice would read takes the role
    :func:`pipeline.config.chapter_role` (that voice; ``voices`` must hold the role).
    """
    drafts: list[tuple[SegmentKind, str, int, str]] = []
    if config.speak_chapter_titles:
        for text, _, _ in _body_texts(chapter.preamble, config):
            drafts.append((SegmentKind.TITLE, text, config.pauses.after_title_ms, NARRATOR))
    if config.speak_chapter_titles and _speakable(chapter.title):
        title = chapter.title.strip()
        drafts.append((SegmentKind.TITLE, title, config.pauses.after_title_ms, NARRATOR))
    drafts += [(SegmentKind.BODY, *draft) for draft in _body_texts(chapter.blocks, config)]
    if drafts:
        kind, text, _, role = drafts[-1]
        drafts[-1] = (kind, text, 0, role)
    own = chapter.index in config.chapter_voices
    segments = []
    for i, (kind, text, pause, role) in enumerate(drafts):
        if own and config.voice_of(role) == config.voice:
            role = chapter_role(chapter.index)
        key = voices.get(role) or voices[NARRATOR]
        settings = key.settings
        fix = config.segment_fixes.get(f"{chapter.index}:{i}")
        if fix is not None and fix.original == text:
            text = fix.text.strip() or text
            settings = {**settings, "take": fix.take} if fix.take else settings
        segments.append(
            Segment(
                id=segment_id(text, key.voice, key.engine, settings),
                chapter_index=chapter.index,
                index=i,
                kind=kind,
                text=text,
                voice=role,
                engine=key.engine,
                pause_after_ms=pause,
            )
        )
    return ChapterPlan(
        index=chapter.index, title=chapter.title, words=chapter.words, segments=tuple(segments)
    )
