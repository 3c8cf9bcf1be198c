"""A cast chapter of a real book, rendered end to end: who reads what, and how it sounds.

Converts one chapter with a cast (by default Pride and Prejudice, chapter 1, Mrs. Bennet
and Mr. Bennet given Piper variants, everyone else the narrator) and reports:

* the segments each role reads;
* the dialogue segments (those that open with a quotation mark) and the share of them a
  character voice reads (the rest: quotations nobody could attribute, which the narrator
  reads);
* the chapter's ACX checks and the run's real-time factor.

    .venv/bin/python bench/cast_chapter.py [BOOK] [--chapter N] [--cast NAME=PRESET ...]
        [--mode full|dual]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.config import NARRATOR, PipelineConfig  # noqa: E402
from pipeline.convert import convert  # noqa: E402

BOOK = REPO.parent / "shared/corpus/text/pride-and-prejudice_pg1342_utf8-bom-crlf.txt"
QUOTES = ("“", '"', "‘", "—")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", nargs="?", default=str(BOOK))
    parser.add_argument("--chapter", default="1")
    parser.add_argument("--mode", choices=("full", "dual"), default="full")
    parser.add_argument(
        "--cast", nargs="*", default=["Mrs. Bennet=joe-light", "Mr. Bennet=joe-deep"]
    )
    args = parser.parse_args()
    if args.mode == "dual":
        cast: dict = {"mode": "dual", "dialogue": "joe-bright"}
    else:
        characters = dict(item.split("=", 1) for item in args.cast)
        cast = {"mode": "full", "characters": characters}
    config = PipelineConfig.model_validate({"cast": cast, "output": {"formats": ["mp3"]}})
    with tempfile.TemporaryDirectory() as out:
        result = convert(args.book, out, config, chapters=args.chapter, jobs=2)
        report = json.loads(result.report_path.read_text())
    segments = [s for plan in result.plans for s in plan.segments]
    dialogue = [s for s in segments if s.text.lstrip().startswith(QUOTES)]
    voiced = [s for s in dialogue if s.voice != NARRATOR]
    print(f"{Path(args.book).name}, chapter {args.chapter}, cast {json.dumps(cast)}")
    for role, n in Counter(s.voice for s in segments).most_common():
        print(f"  {role:<20} {n:4d} segments")
    share = len(voiced) / len(dialogue) if dialogue else 0.0
    print(
        f"dialogue segments: {len(dialogue)}, read by a character voice: {len(voiced)} "
        f"({share:.0%})"
    )
    chapter = report["chapters"][0]
    print(
        f"chapter: {chapter['duration_s']:.1f} s, RMS {chapter['rms_db']:.1f} dB, true peak "
        f"{chapter['true_peak_dbtp']:.1f} dBTP; ACX checks: {'PASS' if report['passed'] else 'FAIL'}"
    )
    stats = result.generation
    print(
        f"{stats.audio_s:.1f} s of audio synthesized in {stats.wall_s:.1f} s "
        f"(x{stats.real_time_factor:.1f} real time); whole run {result.wall_s:.1f} s"
    )


if __name__ == "__main__":
    main()
