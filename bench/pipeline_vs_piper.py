"""Benchmark: the whole pipeline (`audiobook convert`) vs raw Piper on the same text.

In one run, on the same chapters of a real book (default: all of Alice, 9.7k words; a
couple of chapters exaggerate the fixed costs, such as loading the voice):
  1. raw Piper, one process, onnxruntime's default threading (what `piper` does);
  2. raw Piper, N processes x 1 thread (the best raw layout on N cores, STACK.md);
  3. `audiobook convert --jobs N` from a fresh output folder (parse, annotate, segment,
     synthesize, master, encode M4B + MP3, validate).
Throughput is book words per wall-clock second; the ratio pipeline / best raw Piper is
the number to watch (target >= 0.85). Also: real-time factor and peak RSS.

    .venv/bin/python bench/pipeline_vs_piper.py [--book FILE] [--chapters 1-10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.config import VoiceConfig  # noqa: E402
from pipeline.convert import select_chapters  # noqa: E402
from pipeline.models import BlockKind  # noqa: E402
from pipeline.parse import parse_file  # noqa: E402
from pipeline.tts import load_engine  # noqa: E402

DEFAULT_BOOK = REPO.parent / "shared" / "corpus" / "epub" / "alice-in-wonderland_epubjs-epub3.epub"
_engine = None


def _init(threads: int) -> None:
    global _engine
    _engine = load_engine(VoiceConfig(), threads=threads)


def _speak(text: str) -> float:
    audio = _engine.synthesize(text)
    return len(audio) / _engine.sample_rate_hz


def raw_piper(paragraphs: list[str], processes: int, threads: int) -> dict:
    """Synthesize every paragraph with bare Piper; the model load is not timed."""
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(threads,)) as pool:
        list(pool.map(_speak, ["Warm up."] * processes))
        start = time.monotonic()
        audio_s = sum(pool.map(_speak, paragraphs, chunksize=1))
        wall = time.monotonic() - start
    return {"wall_s": round(wall, 2), "audio_s": round(audio_s, 1), "rtf": round(audio_s / wall, 2)}


def pipeline(book: Path, chapters: str, jobs: int) -> dict:
    """Run the real console script from a fresh folder; wall includes everything."""
    with tempfile.TemporaryDirectory() as out:
        start = time.monotonic()
        cmd = [str(REPO / ".venv" / "bin" / "audiobook"), "convert", str(book), "-o", out,
               "--chapters", chapters, "--jobs", str(jobs)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.monotonic() - start
        report = json.loads((Path(out) / "report.json").read_text())
    audio_s = sum(c["duration_s"] for c in report["chapters"])
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": round(wall, 2), "audio_s": round(audio_s, 1), "rtf": round(audio_s / wall, 2),
            "stages_s": report["timings"],
            "peak_rss_mb_largest_process_in_tree": round(peak_rss_mb), "acx_passed": report["passed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--chapters", default="1-10", help="default: the whole book (Alice has 10)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    book = select_chapters(parse_file(args.book), args.chapters)
    paragraphs = [b.text for c in book.chapters for b in c.blocks if b.kind is not BlockKind.SECTION_BREAK and b.text]
    words = book.words
    # The pipeline runs first so that RUSAGE_CHILDREN's peak is its own process tree's.
    results = {"book": args.book.name, "chapters": args.chapters, "words": words, "cores": os.cpu_count()}
    results["pipeline"] = pipeline(args.book, args.chapters, args.jobs)
    results["raw_piper_1proc_default_threads"] = raw_piper(paragraphs, 1, 0)
    results[f"raw_piper_{args.jobs}proc_1thread"] = raw_piper(paragraphs, args.jobs, 1)
    best_raw = min(results["raw_piper_1proc_default_threads"]["wall_s"], results[f"raw_piper_{args.jobs}proc_1thread"]["wall_s"])
    ratio = (words / results["pipeline"]["wall_s"]) / (words / best_raw)
    results["throughput_ratio_pipeline_vs_best_raw"] = round(ratio, 3)
    results["target_ratio"] = 0.85
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
