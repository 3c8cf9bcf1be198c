"""The ``audiobook`` command: the pipeline from a terminal, no server needed.

    audiobook inspect FILE [--json] [--split-level N]
    audiobook convert FILE -o OUTDIR [--split-level N] [--chapters 1-3,5] [--jobs N]
                                     [--config FILE.yaml] [--format m4b,mp3,wav,flac]

Exit status: 0 on success; 2 for bad input (one line on stderr saying what is wrong and
what to do); 1 for any other failure (one line, details in ``OUTDIR/.work/error.log``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from audiobook_app.platform_cli import add_platform_commands
from pipeline.config import WORK_DIR, PipelineConfig, load_config
from pipeline.errors import AudiobookError, InputError

if TYPE_CHECKING:
    from pipeline.convert import ConvertResult, ProgressEvent

# The pipeline's stages (numpy, scipy, PyAV, onnxruntime) are imported by the commands
# that use them, so `audiobook --help` or `status` starts in a fraction of a second.

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
log = logging.getLogger("audiobook")


def _inspect(args: argparse.Namespace) -> int:
    from pipeline import structure
    from pipeline.analyze import analyze
    from pipeline.convert import parse_at_level

    book = parse_at_level(args.file, args.split_level)
    info = analyze(book)
    outline = structure.outline(book.sections)
    if args.json:
        payload = {
            "title": info.title,
            "author": info.author,
            "language": info.language,
            "words": info.words,
            "estimated_duration_s": info.estimated_duration_s,
            "split_level": args.split_level or structure.default_split_level(outline),
            "default_split_level": structure.default_split_level(outline),
            "levels": structure.max_level(outline),
            "chapters": [
                {"index": c.index, "title": c.title, "words": c.words} for c in info.chapters
            ],
            "toc": structure.toc_tree(outline),
            "characters": [
                {"name": c.name, "lines": c.lines, "aliases": list(c.aliases)}
                for c in info.speakers
            ],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{info.title} by {info.author or 'unknown author'} [{info.language}]")
    print(f"{info.words:,} words, about {info.estimated_duration_s / 3600:.1f} h of audio")
    for c in info.chapters:
        print(f"{c.index:4d}  {c.title}  ({c.words:,} words)")
    if info.speakers:
        top = ", ".join(f"{c.name} ({c.lines})" for c in info.speakers[:8])
        print(f"characters (lines of dialogue): {top}")
    for warning in book.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


class _ProgressBars:
    """Renders :class:`ProgressEvent`s as tqdm bars (with ETA) on a terminal's stderr,
    and as one line per stage on stdout elsewhere (logs, CI), so stderr carries only
    the error line when a run fails."""

    def __init__(self) -> None:
        self.stage = ""
        self.bar: tqdm | None = None
        self.interactive = sys.stderr.isatty()

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage != self.stage:
            self.close()
            self.stage = event.stage
            if self.interactive and event.unit:
                unit_scale = event.unit == "chars"
                self.bar = tqdm(
                    total=event.total, desc=event.stage, unit=event.unit, unit_scale=unit_scale
                )
            else:
                print(f"[{event.stage}]", flush=True)
        if self.bar is not None:
            self.bar.n = event.done
            if event.detail:
                self.bar.set_postfix_str(event.detail, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The YAML config (or the defaults) with the command line's output choices on top.
    Raises ConfigError for a value the config refuses (e.g. 128 kbps in ACX mode)."""
    config = load_config(args.config)
    output: dict[str, object] = {}
    if args.format:
        output["formats"] = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    if args.bitrate is not None:
        output["mp3_bitrate_kbps"] = args.bitrate
    if args.aac_bitrate is not None:
        output["aac_bitrate_kbps"] = args.aac_bitrate
    for flag in ("acx", "credits", "retail_sample"):
        if getattr(args, flag) is not None:
            output[flag] = getattr(args, flag)
    if output:
        config = config.with_overrides(output=output)
    if args.verify is not None:
        config = config.with_overrides(verify={"enabled": args.verify})
    return config


def _summary(result: ConvertResult) -> str:
    out = result.outputs
    lines = [
        f"{result.analysis.title}: {len(result.plans)} chapters, "
        f"{sum(out.durations_s) / 60:.1f} min of audio in {result.wall_s:.0f} s",
        f"segments synthesized {result.generation.segments_synthesized}, "
        f"reused {result.generation.segments_reused}",
    ]
    if out.m4b:
        lines.append(f"M4B:    {out.m4b}")
    for fmt, paths in out.files.items():
        if paths:
            lines.append(f"{fmt.upper():<7} {paths[0].parent}/ ({len(paths)} files)")
    extras = result.extras
    if extras.subtitles:
        lines.append(
            f"{'VTT/SRT':<7} {extras.subtitles[0].parent}/ ({len(extras.subtitles)} files)"
        )
    for name, path in (
        ("EPUB", extras.readalong),
        ("ABS", extras.audiobookshelf),
        ("sample", extras.retail_sample),
    ):
        if path:
            lines.append(f"{name + ':':<7} {path}")
    verdict = "PASS" if result.report.passed else "FAIL (see report)"
    lines.append(f"report: {result.report_path}  ACX checks: {verdict}")
    if result.report.speech:
        from pipeline.verify import summarize  # loaded with the pipeline already

        speech = summarize(result.report.speech)
        lines.append(
            f"speech: {speech['segments']} segments heard, median WER {speech['wer_median']:.0%}, "
            f"{speech['retakes']} retakes, {speech['flagged']} flagged"
        )
    return "\n".join(lines)


def _ensure_output_folder(path: Path) -> None:
    """Create the output folder, or raise InputError saying why it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"output {path} exists and is not a folder; choose another -o") from None
    except OSError as exc:
        raise InputError(f"cannot create output folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise InputError(f"output folder {path} is not writable; choose another -o")


def _convert(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1 (got {args.jobs})")
    _ensure_output_folder(args.output)
    if args.jobs > 1:  # the workers' imports and voice load run beside this process's own imports
        from pipeline.generate import start_fork_server

        start_fork_server(preload=["pipeline.convert"], voice=config.voice)
    from pipeline.convert import convert

    bars = _ProgressBars()
    try:
        result = convert(
            args.file,
            args.output,
            config,
            chapters=args.chapters,
            split_level=args.split_level,
            jobs=args.jobs,
            on_progress=bars,
        )
    finally:
        bars.close()
    print(_summary(result))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The ``audiobook`` argument parser (subcommands ``inspect`` and ``convert``)."""
    parser = argparse.ArgumentParser(
        prog="audiobook", description="Turn a manuscript into an audiobook."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser(
        "inspect", help="list a manuscript's chapters, words and estimated duration"
    )
    inspect.add_argument("file", type=Path)
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    split_help = "table-of-contents level whose entries become tracks (default: the book's own)"
    inspect.add_argument("--split-level", type=int, help=split_help)
    inspect.set_defaults(run=_inspect)
    conv = sub.add_parser("convert", help="convert a manuscript into an M4B and chapter MP3s")
    conv.add_argument("file", type=Path)
    conv.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    conv.add_argument("--chapters", help="chapters to convert, e.g. 1-3,5 (default: all)")
    conv.add_argument("--split-level", type=int, help=split_help)
    conv.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="synthesis processes (default: cores)"
    )
    conv.add_argument(
        "--config", type=Path, help="YAML file overriding the defaults (voice, pauses, targets...)"
    )
    conv.add_argument(
        "--format", help="comma-separated outputs from m4b,mp3,wav,flac (default: m4b,mp3)"
    )
    conv.add_argument(
        "--bitrate",
        type=int,
        help="MP3 bitrate in kbps: 128, 192 or 320 (default 192; 128 needs --no-acx)",
    )
    conv.add_argument("--aac-bitrate", type=int, help="M4B AAC bitrate in kbps (default 64)")
    on_off = argparse.BooleanOptionalAction
    conv.add_argument(
        "--acx", action=on_off, default=None, help="keep ACX's fixed targets (default: on)"
    )
    conv.add_argument(
        "--credits", action=on_off, default=None, help="opening and closing credits tracks"
    )
    conv.add_argument(
        "--sample",
        dest="retail_sample",
        action=on_off,
        default=None,
        help="a retail sample: sample.mp3, the first 5 minutes",
    )
    conv.add_argument(
        "--verify",
        action=on_off,
        default=None,
        help="hear every segment with local ASR and retake misread ones (default: on)",
    )
    conv.set_defaults(run=_convert)
    add_platform_commands(sub)
    return parser


def _log_failure(args: argparse.Namespace) -> str:
    """Write the traceback next to the outputs (or to the temp dir) and return its path."""
    base = getattr(args, "output", None)
    folder = Path(base) / WORK_DIR if base else Path(tempfile.gettempdir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "error.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return str(path)
    except OSError:
        return "(could not write error.log)"


def _log_level() -> str | None:
    from audiobook_app.settings import get_settings

    try:
        return get_settings().log_level
    except AudiobookError:
        return None  # invalid settings: the command that needs them says why


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``audiobook`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = _log_level() or ("INFO" if args.command == "worker" else "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic logs INFO lines ("setup plugin ...", "Context impl SQLiteImpl.") at every
    # schema check (a worker's start, `db upgrade`): shown with LOG_LEVEL=DEBUG only
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return args.run(args)
    except InputError as exc:
        print(f"audiobook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AudiobookError as exc:
        print(f"audiobook: failed: {exc} (details: {_log_failure(args)})", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("audiobook: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `audiobook inspect BOOK | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return EXIT_OK
    except Exception as exc:  # last resort: one line for the user, the traceback on disk
        print(
            f"audiobook: internal error: {type(exc).__name__}: {exc} (details: {_log_failure(args)})",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
