"""Benchmark: Qwen3-TTS real-time factor and peak GPU memory against the batch size.

The same narration segments (sentences of 6 to 36 words, from Alice's first chapter) go
through ``QwenEngine.synthesize_batch`` once per batch size (default 1, 2, 4, 8, 16),
after one warm-up batch. Per batch size: seconds of audio, wall seconds, the real-time
factor (RTF = wall / audio; under 1 is faster than real time), generate calls (more
than the plan means retries) and peak GPU memory (``torch.cuda.max_memory_allocated``).

The model folder: the argument, or ``AUDIOBOOK_QWEN_MODEL_DIR`` (a CustomVoice model;
``--speaker`` picks the speaker, default its first). Without weights, ``--random 1.7b``
builds a random model of the released 1.7B shape (as slow and as large as the real one;
its takes run to the length cap, see tests/qwen_tiny.py) and ``--tiny`` a tiny one that
runs on a CPU in seconds (a smoke run: its numbers measure nothing). Random models
speak no words, so their takes are not checked (OutputGuard off).

    .venv/bin/python bench/qwen_throughput.py [MODEL_DIR] [--batch-sizes 1,2,4,8,16]
    .venv/bin/python bench/qwen_throughput.py --tiny
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.config import VoiceConfig  # noqa: E402
from pipeline.tts.qwen import NATIVE_RATE_HZ, OutputGuard, QwenEngine, plan_batches  # noqa: E402

SEGMENTS = [
    "Alice was beginning to get very tired of sitting by her sister on the bank.",
    "And of having nothing to do.",
    "Once or twice she had peeped into the book her sister was reading, but it had no "
    "pictures or conversations in it.",
    "And what is the use of a book, thought Alice, without pictures or conversations?",
    "So she was considering in her own mind, as well as she could, for the hot day made her "
    "feel very sleepy and stupid, whether the pleasure of making a daisy-chain would be worth "
    "the trouble of getting up and picking the daisies.",
    "Suddenly a White Rabbit with pink eyes ran close by her.",
    "There was nothing so very remarkable in that.",
    "Nor did Alice think it so very much out of the way to hear the Rabbit say to itself, "
    "Oh dear! Oh dear! I shall be late!",
    "Burning with curiosity, she ran across the field after it.",
    "She was just in time to see it pop down a large rabbit-hole under the hedge.",
    "In another moment down went Alice after it.",
    "She never once considered how in the world she was to get out again.",
    "The rabbit-hole went straight on like a tunnel for some way, and then dipped suddenly down.",
    "Either the well was very deep, or she fell very slowly.",
    "She had plenty of time as she went down to look about her and to wonder what was going "
    "to happen next.",
    "First, she tried to look down and make out what she was coming to, but it was too dark "
    "to see anything.",
]


def _model_dir(args: argparse.Namespace, scratch: Path) -> str:
    if args.tiny or args.random:
        from pipeline.tts.qwen_model import import_qwen_tts
        from tests.qwen_tiny import build_tiny_qwen

        import_qwen_tts()
        size = "tiny" if args.tiny else args.random
        print(f"building a random {size} CustomVoice model in {scratch} ...", file=sys.stderr)
        return str(build_tiny_qwen(scratch / f"random-{size}", "custom_voice", size=size))
    folder = args.model_dir or os.environ.get("AUDIOBOOK_QWEN_MODEL_DIR", "")
    if not folder:
        sys.exit("give a CustomVoice model folder, set AUDIOBOOK_QWEN_MODEL_DIR, or use --tiny")
    return folder


def run(engine: QwenEngine, texts: list[str], batch: int) -> dict:
    """One pass of ``texts`` at batch size ``batch``: audio s, wall s, RTF, memory."""
    import torch

    cuda = torch.cuda.is_available() and str(engine.model.device).startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    engine.max_batch, calls_before = batch, engine.batches_run
    start = time.perf_counter()
    audios = engine.synthesize_batch(texts)
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    audio_s = sum(a.size for a in audios) / engine.sample_rate_hz
    return {
        "batch": batch,
        "batches_planned": len(plan_batches(texts, batch)),
        "generate_calls": engine.batches_run - calls_before,
        "audio_s": round(audio_s, 1),
        "wall_s": round(wall, 1),
        "rtf": round(wall / audio_s, 3),
        "x_real_time": round(audio_s / wall, 2),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", help="default: $AUDIOBOOK_QWEN_MODEL_DIR")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model on the CPU")
    parser.add_argument("--random", choices=["tiny", "1.7b"], help="a random model of this shape")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16")
    parser.add_argument("--segments", type=int, default=len(SEGMENTS))
    parser.add_argument("--speaker", default="", help="default: the model's first speaker")
    parser.add_argument("--device", default=None, help="default: cuda:0 if there is a GPU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    texts = (SEGMENTS * (args.segments // len(SEGMENTS) + 1))[: args.segments]
    if args.tiny:  # a smoke run on a CPU: the 6 shortest segments
        args.device = args.device or "cpu"
        texts = sorted(texts, key=len)[:6]

    with tempfile.TemporaryDirectory() as scratch:
        folder = _model_dir(args, Path(scratch))
        probe = json.loads((Path(folder) / "config.json").read_text())
        speaker = args.speaker or next(iter(probe["talker_config"].get("spk_id") or [""]))
        voice = VoiceConfig(engine="qwen3-tts", narrator=speaker, model_dir=folder)
        guard = OutputGuard(enabled=not (args.tiny or args.random))
        threads = 1 if args.tiny else 0  # two threads on two busy cores spin-wait ~10x
        start = time.perf_counter()
        engine = QwenEngine.load(voice, device=args.device, guard=guard, threads=threads)
        load_s = time.perf_counter() - start
        engine.synthesize_batch(texts[:2])  # warm-up: kernels, allocator, caches
        rows = [run(engine, texts, b) for b in sizes]

    device = str(engine.model.device)
    print(
        f"Qwen3-TTS {Path(folder).name} ({speaker}) on {device}, {engine.model.model.dtype}, "
        f"loaded in {load_s:.1f} s; {len(texts)} segments, {NATIVE_RATE_HZ} Hz"
    )
    print(
        f"{'batch':>5} {'calls':>5} {'audio s':>8} {'wall s':>7} {'RTF':>6} {'x RT':>6} {'GPU GiB':>8}"
    )
    for r in rows:
        gib = "-" if r["peak_gpu_gib"] is None else f"{r['peak_gpu_gib']:.2f}"
        print(
            f"{r['batch']:>5} {r['generate_calls']:>5} {r['audio_s']:>8.1f} {r['wall_s']:>7.1f} "
            f"{r['rtf']:>6.3f} {r['x_real_time']:>6.2f} {gib:>8}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"device": device, "load_s": load_s, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
