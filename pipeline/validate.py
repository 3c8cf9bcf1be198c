"""Validate stage: measure the ENCODED files against ACX's requirements.

Per chapter (from the MP3 when one was written, else the FLAC or WAV, else the
chapter's span of the decoded M4B): RMS -23..-18 dB, true peak <= -3 dBTP, noise floor
<= -60 dB, room tone 0.5-1 s at the head and 1-5 s at the tail, MP3 CBR 192 kbps 44.1 kHz
mono read from every frame header, and a plausible pace (100-250 words per minute when
the chapter has at least 50 words). For the M4B (read back with PyAV): chapter count,
titles and starts, duration within 0.5 s of the chapters' sum, cover, tags, and the
decoded AAC's true peak <= -3 dBTP (measured by the M4B writer from the very packets it
muxed, decoded as any reader decodes them; decoded again from the file only when the
M4B is the sole output and its chapters are measured from it). Measurements are
streamed (see :mod:`pipeline.audio`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from pipeline.assemble import AssembledBook
from pipeline.audio import ChapterMeter, Measurement, TruePeakMeter, iter_blocks, measure_file
from pipeline.config import PipelineConfig
from pipeline.models import ChapterPlan
from pipeline.verify import ChapterSpeech, summarize

RMS_RANGE_DB = (-23.0, -18.0)  # ACX
TRUE_PEAK_MAX_DBTP = -3.0  # ACX
NOISE_FLOOR_MAX_DB = -60.0  # ACX
HEAD_TONE_RANGE_S = (0.5, 1.0)  # ACX
TAIL_TONE_RANGE_S = (1.0, 5.0)  # ACX
WPM_RANGE = (100.0, 250.0)  # plausible narration pace
MIN_WORDS_FOR_PACE = 50
M4B_DURATION_TOLERANCE_S = 0.5
M4B_START_TOLERANCE_S = 0.05
M4B_REQUIRED_TAGS = ("title", "album", "artist", "album_artist", "composer", "genre")
_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)  # MPEG-1 L3
_MP3_RATES = (44100, 48000, 32000, 0)  # MPEG-1


@dataclass(frozen=True)
class Check:
    """One pass/fail check: the measured ``value`` against ``target`` (human-readable)."""

    name: str
    passed: bool
    value: float | int | str | None
    target: str


@dataclass(frozen=True)
class ChapterReport:
    """Measurements of one chapter's file; ``None`` words-per-minute when not computable."""

    index: int
    title: str
    file: str
    measurement: Measurement
    words: int
    words_per_minute: float | None
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate_book`; ``passed`` is True when every check passed."""

    passed: bool
    chapters: tuple[ChapterReport, ...]
    m4b_checks: tuple[Check, ...]
    m4b_file: str | None = None
    # speech verification of each chapter (pipeline.verify), when it ran
    speech: tuple[ChapterSpeech, ...] = ()

    def failures(self) -> list[str]:
        """Every failed check as "chapter N: name (value, target)" lines."""
        out = [
            f"chapter {c.index}: {k.name} ({k.value}, want {k.target})"
            for c in self.chapters
            for k in c.checks
            if not k.passed
        ]
        return out + [
            f"m4b: {k.name} ({k.value}, want {k.target})" for k in self.m4b_checks if not k.passed
        ]

    def to_dict(self) -> dict:
        """JSON-ready: ``{"passed", "summary", "chapters": [...], "m4b": {...}}``. With
        speech verification, ``summary.speech`` is the book's WER distribution, retakes and
        flagged segments, and each chapter has ``speech`` (the same for the chapter) and
        ``segments`` (each with ``wer``, ``takes`` and ``flagged``)."""
        checks = [k for c in self.chapters for k in c.checks] + list(self.m4b_checks)
        speech = {s.index: s for s in self.speech}
        chapters = []
        for c in self.chapters:
            heard = speech.get(c.index)
            extra = (
                {"speech": heard.summary(), "segments": [s.to_dict() for s in heard.segments]}
                if heard
                else {}
            )
            levels = {k: _round(v) for k, v in asdict(c.measurement).items()}
            levels["short_term_lufs"] = list(c.measurement.short_term_lufs)
            chapters.append(
                {
                    "index": c.index,
                    "title": c.title,
                    "file": c.file,
                    "passed": c.passed,
                    **levels,
                    "words": c.words,
                    "words_per_minute": _round(c.words_per_minute),
                    "checks": {
                        k.name: {"passed": k.passed, "value": _round(k.value), "target": k.target}
                        for k in c.checks
                    },
                    **extra,
                }
            )
        return {
            "passed": self.passed,
            "summary": {
                "chapters": len(self.chapters),
                "chapters_passed": sum(c.passed for c in self.chapters),
                "checks": len(checks),
                "checks_failed": sum(not k.passed for k in checks),
                "failures": self.failures(),
                "speech": summarize(self.speech) if self.speech else None,
            },
            "chapters": chapters,
            "m4b": None
            if self.m4b_file is None
            else {
                "file": self.m4b_file,
                "passed": all(k.passed for k in self.m4b_checks),
                "checks": {
                    k.name: {"passed": k.passed, "value": _round(k.value), "target": k.target}
                    for k in self.m4b_checks
                },
            },
        }


def _round(value: object) -> object:
    return round(value, 2) if isinstance(value, float) else value


def _in(name: str, value: float, low: float, high: float, unit: str) -> Check:
    return Check(name, low <= value <= high, value, f"{low:g}..{high:g} {unit}")


def _at_most(name: str, value: float, high: float, unit: str) -> Check:
    return Check(name, value <= high, value, f"<= {high:g} {unit}")


def level_checks(m: Measurement, words: int) -> list[Check]:
    """ACX level, room-tone and pace checks for one chapter's measurement."""
    checks = [
        _in("rms", m.rms_db, *RMS_RANGE_DB, "dB"),
        _at_most("true_peak", m.true_peak_dbtp, TRUE_PEAK_MAX_DBTP, "dBTP"),
        _at_most("noise_floor", m.noise_floor_db, NOISE_FLOOR_MAX_DB, "dB"),
        _in("head_room_tone", m.head_tone_s, *HEAD_TONE_RANGE_S, "s"),
        _in("tail_room_tone", m.tail_tone_s, *TAIL_TONE_RANGE_S, "s"),
    ]
    if words >= MIN_WORDS_FOR_PACE and m.duration_s > 0:
        checks.append(_in("words_per_minute", words / (m.duration_s / 60), *WPM_RANGE, "wpm"))
    return checks


def mp3_format_checks(path: Path, kbps: int, rate_hz: int) -> list[Check]:
    """Read every MPEG frame header: CBR at ``kbps``, ``rate_hz``, mono (ACX MP3 rules)."""
    rates, bitrates, modes = set(), set(), set()
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.audio[0]):
            head = bytes(packet)[:4]
            if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
                continue
            bitrates.add(_MP3_KBPS[head[2] >> 4] if (head[1] >> 3) & 3 == 3 else -1)
            rates.add(_MP3_RATES[(head[2] >> 2) & 3] if (head[1] >> 3) & 3 == 3 else -1)
            modes.add("mono" if head[3] >> 6 == 3 else "stereo")
    return [
        Check(
            "mp3_cbr_bitrate",
            bitrates == {kbps},
            ",".join(map(str, sorted(bitrates))),
            f"CBR {kbps} kbps",
        ),
        Check(
            "mp3_sample_rate",
            rates == {rate_hz},
            ",".join(map(str, sorted(rates))),
            f"{rate_hz} Hz",
        ),
        Check("mp3_mono", modes == {"mono"}, ",".join(sorted(modes)), "mono"),
    ]


def _m4b_chapter_blocks(
    path: Path, starts_s: Sequence[float]
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(chapter position, rate, block)`` from the decoded M4B, split at the starts."""
    rate, blocks = iter_blocks(path)
    bounds = [round(s * rate) for s in starts_s[1:]] + [np.iinfo(np.int64).max]
    pos, chapter = 0, 0
    for block in blocks:
        while len(block):
            take = min(len(block), bounds[chapter] - pos)
            yield chapter, rate, block[:take]
            pos, block = pos + take, block[take:]
            if pos >= bounds[chapter]:
                chapter += 1


def _m4b_checks(book: AssembledBook, per_chapter: bool) -> tuple[list[Check], list[Measurement]]:
    path = book.m4b
    assert path is not None
    with av.open(str(path)) as c:
        chapters, tags, duration = c.chapters(), dict(c.metadata), (c.duration or 0) / 1e6
        cover = any(s.disposition & av.stream.Disposition.attached_pic for s in c.streams)
    titles = [ch["metadata"].get("title", "") for ch in chapters]
    starts = [float(ch["start"] * (ch["time_base"] or 1)) for ch in chapters]
    expected = sum(book.durations_s)
    checks = [
        Check(
            "chapter_count", len(chapters) == len(book.titles), len(chapters), str(len(book.titles))
        ),
        Check(
            "chapter_titles", titles == list(book.titles), " | ".join(titles), "the plan's titles"
        ),
        Check(
            "chapter_starts",
            len(starts) == len(book.starts_s)
            and all(abs(a - b) <= M4B_START_TOLERANCE_S for a, b in zip(starts, book.starts_s)),
            ",".join(f"{s:.2f}" for s in starts),
            f"cumulative within {M4B_START_TOLERANCE_S} s",
        ),
        Check(
            "duration",
            abs(duration - expected) <= M4B_DURATION_TOLERANCE_S,
            duration,
            f"{expected:.2f} +- {M4B_DURATION_TOLERANCE_S} s",
        ),
        Check(
            "cover",
            cover or not book.has_cover,
            "present" if cover else "absent",
            "attached picture",
        ),
        Check(
            "tags",
            all(tags.get(k) for k in M4B_REQUIRED_TAGS),
            ",".join(k for k in M4B_REQUIRED_TAGS if tags.get(k)),
            ",".join(M4B_REQUIRED_TAGS),
        ),
    ]
    true_peak, meters = book.m4b_true_peak_dbtp, dict[int, Any]()
    if per_chapter or true_peak is None:
        tp = TruePeakMeter()
        for chapter, rate, block in _m4b_chapter_blocks(path, book.starts_s):
            tp.push(block)
            if per_chapter:
                meters.setdefault(chapter, ChapterMeter(rate)).push(block)
        tp.finish()
        true_peak = tp.dbtp()
    checks.append(_at_most("aac_true_peak", true_peak, TRUE_PEAK_MAX_DBTP, "dBTP"))
    return checks, [meters[i].result() for i in sorted(meters)]


CHAPTER_FILE_PREFERENCE = ("mp3", "flac", "wav")  # which chapter file validation measures


def validate_chapter(path: Path, plan: ChapterPlan, config: PipelineConfig) -> ChapterReport:
    """Measure one encoded chapter file (MP3, FLAC or WAV) and check it against ACX; an
    MP3 also gets its frame headers checked. Raises ValueError when the file cannot be
    decoded."""
    m = measure_file(path)
    return _chapter_report(plan, path, m, config)


def _chapter_report(
    plan: ChapterPlan, path: Path, m: Measurement, config: PipelineConfig
) -> ChapterReport:
    checks = level_checks(m, plan.words)
    if path.suffix == ".mp3":
        checks += mp3_format_checks(
            path, config.output.mp3_bitrate_kbps, config.mastering.sample_rate_hz
        )
    wpm = plan.words / (m.duration_s / 60) if m.duration_s > 0 else None
    return ChapterReport(plan.index, plan.title, str(path), m, plan.words, wpm, tuple(checks))


def validate_book(
    assembled: AssembledBook,
    plans: Sequence[ChapterPlan],
    config: PipelineConfig,
    chapter_reports: Sequence[ChapterReport] | None = None,
    speech: Sequence[ChapterSpeech] = (),
) -> ValidationReport:
    """Measure every encoded chapter file (and the M4B) and check them against ACX.

    ``plans`` give each chapter's word count (matched by position with ``assembled``).
    ``chapter_reports`` may hold :func:`validate_chapter` results already computed for
    the first chapters (as chapters were assembled); only the rest are measured here.
    ``speech`` is the chapters' speech verification (:mod:`pipeline.verify`), reported as is.
    Raises ValueError when ``plans`` and ``assembled`` disagree on the chapter count.
    """
    if len(plans) != len(assembled.titles):
        raise ValueError(f"{len(plans)} plans for {len(assembled.titles)} assembled chapters")
    fmt = next((f for f in CHAPTER_FILE_PREFERENCE if assembled.files.get(f)), None)
    m4b_checks: list[Check] = []
    m4b_levels: list[Measurement] = []
    if assembled.m4b is not None:
        m4b_checks, m4b_levels = _m4b_checks(assembled, per_chapter=fmt is None)
    reports = list(chapter_reports or ())
    for i, plan in enumerate(plans[len(reports) :], start=len(reports)):
        if fmt:
            reports.append(validate_chapter(assembled.files[fmt][i], plan, config))
        else:
            assert assembled.m4b is not None
            reports.append(_chapter_report(plan, assembled.m4b, m4b_levels[i], config))
    passed = all(r.passed for r in reports) and all(k.passed for k in m4b_checks)
    return ValidationReport(
        passed,
        tuple(reports),
        tuple(m4b_checks),
        str(assembled.m4b) if assembled.m4b else None,
        tuple(speech),
    )
