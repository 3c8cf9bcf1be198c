"""Benchmark: speech verification (ASR + retakes) against synthesis, on one real book.

In one run, on the same chapters of a real book (default: all of Alice, 9.7k words), in
one process with the runtimes' default threading (the CLI's ``--jobs 1`` path):
  1. synthesize every segment with the default Piper voice into a fresh segment store;
  2. verify every segment (:func:`pipeline.convert.verify_book`: Whisper tiny.en, greedy,
     WER against the speakable text, retakes of failed segments).
Prints one JSON object: synthesis and verification wall seconds and their ratio
(``verify_over_synthesis``: the time validation adds, as a share of synthesis time), the
audio duration, the WER distribution over every segment kept (mean, median, p90, max),
the retake rate (segments retaken / segments) and the segments still flagged, with the
text and what was heard for the worst ones.

    .venv/bin/python bench/verify_overhead.py [--book FILE] [--chapters 1-3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.convert import (  # noqa: E402
    book_quotes,
    parse_at_level,
    plan_book,
    select_chapters,
    verify_book,
)
from pipeline.generate import generate  # noqa: E402
from pipeline.store import SegmentStore  # noqa: E402
from pipeline.verify import summarize  # noqa: E402

DEFAULT_BOOK = REPO.parent / "shared" / "corpus" / "epub" / "alice-in-wonderland_epubjs-epub3.epub"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--chapters", default=None, help="e.g. 1-3 (default: all)")
    args = parser.parse_args()
    config = PipelineConfig()
    whole = parse_at_level(args.book)
    book = select_chapters(whole, args.chapters)
    analysis, plans = plan_book(book, config, quotes=book_quotes(whole, config))
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        out = Path(tmp)
        store = SegmentStore(out / ".work" / "segments")
        segments = [s for p in plans for s in p.segments]
        started = time.monotonic()
        stats = generate(segments, store, config.voices())
        synth_s = time.monotonic() - started
        started = time.monotonic()
        speech = verify_book(plans, store, out, config, analysis.language)
        verify_s = time.monotonic() - started
    checks = sorted((s for c in speech for s in c.segments), key=lambda s: -s.wer)
    summary = summarize(speech)
    print(
        json.dumps(
            {
                "book": args.book.name,
                "chapters": len(plans),
                "words": sum(p.words for p in plans),
                "audio_s": round(stats.audio_s, 1),
                "synthesis_s": round(synth_s, 1),
                "verify_s": round(verify_s, 1),
                "verify_over_synthesis": round(verify_s / synth_s, 3),
                "speech": summary,
                "retake_rate": round(summary["segments_retaken"] / max(summary["segments"], 1), 4),
                "worst": [
                    {
                        "wer": round(s.wer, 3),
                        "text": s.text,
                        "heard": s.takes[s.chosen].heard,
                        "takes": len(s.takes),
                        "flagged": s.flagged,
                    }
                    for s in checks[:8]
                ],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
