"""What a change to a finished book touches: new segments to synthesize, chapters to master.

A fix (a lexicon entry, a recast character, a new voice) changes the text or the voice
of some segments, hence their ids (``segment_id`` hashes text, voice, engine and
settings). Comparing the plans before and after the change tells exactly which segments
need synthesis (ids the old plan did not have) and which chapters need mastering again
(any chapter whose segment ids, pauses or title changed); every other chapter's audio is
the same bit for bit (mastering is per chapter and deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.models import ChapterPlan


@dataclass(frozen=True)
class Revision:
    """The work a change causes: ``segments`` (ids to synthesize, reading order) and
    ``chapters`` (indices to master again, ascending)."""

    segments: tuple[str, ...]
    chapters: tuple[int, ...]


def chapter_fingerprint(plan: ChapterPlan) -> tuple:
    """Everything about a chapter that its mastered audio depends on besides the config:
    its title and each segment's id and following pause."""
    return (plan.title, tuple((s.id, s.pause_after_ms) for s in plan.segments))


def revise(before: Sequence[ChapterPlan], after: Sequence[ChapterPlan]) -> Revision:
    """The :class:`Revision` from the plans ``before`` a change to those ``after`` it (the
    same mastering config assumed). A chapter absent before counts as touched."""
    old_ids = {s.id for plan in before for s in plan.segments}
    old = {plan.index: chapter_fingerprint(plan) for plan in before}
    new_ids = (s.id for plan in after for s in plan.segments if s.id not in old_ids)
    segments = tuple(dict.fromkeys(new_ids))  # first occurrences, reading order
    chapters = tuple(sorted(p.index for p in after if old.get(p.index) != chapter_fingerprint(p)))
    return Revision(segments, chapters)
