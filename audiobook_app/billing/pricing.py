"""The quote an author sees before Start: minutes of audio and the credits they cost.

Minutes come from the chosen chapters' words at the measured narration pace
(:func:`pipeline.analyze.estimate_duration_s`: 191 words per minute with titles,
pauses and room tone, measured on Piper), divided by the chosen speed. Start reserves
the estimate plus ``settings.reservation_margin`` (default 25 %): completion charges the
real minutes, never more than that reservation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from audiobook_app.billing.ledger import credits_for_seconds
from audiobook_app.db.models import Book
from audiobook_app.settings import Settings
from pipeline.analyze import estimate_duration_s


@dataclass(frozen=True)
class Quote:
    """``audio_s``: estimated seconds of audio; ``credits``: their cost; ``reserve``:
    the credits Start holds (the most the job can be charged)."""

    audio_s: float
    credits: int
    reserve: int


def quote(settings: Settings, book: Book, chosen: list[int], speed: float = 1.0) -> Quote:
    """The quote for converting chapters ``chosen`` (1-based indices) of ``book`` at
    ``speed`` (1 = the voice's own pace). Unknown indices count no words."""
    picked = [c for c in book.chapters if c["index"] in set(chosen)]
    words = sum(int(c.get("words", 0)) for c in picked)
    audio_s = estimate_duration_s(words, length_scale=1.0 / speed, chapters=len(picked))
    credits = credits_for_seconds(settings, audio_s) if picked else 0
    reserve = math.ceil(credits * (1.0 + settings.reservation_margin))
    return Quote(round(audio_s, 1), credits, reserve)
