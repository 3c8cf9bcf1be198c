"""Benchmark: assemble a long synthetic book (default 20 h, ~30 min chapters) to M4B + MP3.

    .venv/bin/python bench/assemble_20h.py [--hours 20] [--work DIR] [--keep]

Stores 200 distinct speech-like clips (5-15 s, 22050 Hz, like Piper) in a SegmentStore,
references them repeatedly to build the chapters, then times ``assemble_book``. Prints
a human summary and one JSON line: wall time, audio hours, real-time factor (audio
seconds per wall second), and peak RSS (self + children, MiB). Target: peak RSS < 1 GiB
whatever the book length, because assembly streams everything.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.assemble import assemble_book  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.models import BookMetadata, ChapterPlan, Segment, SegmentKind  # noqa: E402
from pipeline.store import SegmentStore  # noqa: E402
from tests.synthetic import speech_like  # noqa: E402

RATE = 22050
CLIPS = 200
CHAPTER_S = 30 * 60


def build_plans(store: SegmentStore, hours: float) -> list[ChapterPlan]:
    rng = np.random.default_rng(0)
    durations = {}
    for i in range(CLIPS):
        sid = f"clip{i:03d}"
        if not store.has(sid):
            store.put(sid, speech_like(rng.uniform(5, 15), seed=i), RATE)
        durations[sid] = store.duration_s(sid)
    ids = sorted(durations)
    total_s, chapters = hours * 3600, max(1, round(hours * 3600 / CHAPTER_S))
    plans = []
    for c in range(1, chapters + 1):
        segs: list[Segment] = []
        length = 0.0
        while length < total_s / chapters:
            sid = ids[int(rng.integers(len(ids)))]
            pause = int(rng.choice([250, 250, 700, 2000]))
            segs.append(Segment(sid, c, len(segs), SegmentKind.BODY, "", "joe", "piper", pause))
            length += durations[sid] + pause / 1000
        plans.append(ChapterPlan(c, f"Chapter {c}", int(length / 60 * 155), tuple(segs)))
    return plans


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the store and output")
    parser.add_argument("--keep", action="store_true", help="keep the output files")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="assemble-bench-"))
    store = SegmentStore(work / "segments")
    plans = build_plans(store, args.hours)
    rss_before = peak_rss_mib()
    config = PipelineConfig().with_overrides(output={"formats": ["m4b", "mp3"]})
    out = work / "out"
    start = time.perf_counter()
    book = assemble_book(
        plans,
        store,
        BookMetadata(title="Bench Book", author="Bench"),
        None,
        out,
        config,
        progress=lambda d, t: print(
            f"  chapter {d}/{t}  {time.perf_counter() - start:7.1f} s  "
            f"peak RSS {peak_rss_mib():6.0f} MiB",
            file=sys.stderr,
        ),
    )
    wall = time.perf_counter() - start
    audio_s = sum(book.durations_s)
    result = {
        "hours": round(audio_s / 3600, 3),
        "chapters": len(plans),
        "formats": ["m4b", "mp3"],
        "wall_s": round(wall, 1),
        "realtime_factor": round(audio_s / wall, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_before_assemble_mib": round(rss_before, 1),
        "m4b_mib": round(book.m4b.stat().st_size / 2**20, 1) if book.m4b else None,
    }
    print(
        f"assembled {audio_s / 3600:.2f} h in {len(plans)} chapters in {wall:.0f} s "
        f"({audio_s / wall:.1f}x real time); peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
