"""validate_book passes on assembled output and fails on deliberately bad files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.assemble import AssembledBook, assemble_book
from pipeline.models import ChapterPlan
from pipeline.validate import validate_book
from tests.pipeline.test_assemble import META, NARRATOR, config, jpeg_cover, make_book

CONFIG = config("m4b", "mp3", "flac")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[AssembledBook, list[ChapterPlan], Path]:
    root = tmp_path_factory.mktemp("validate")
    plans, store = make_book(root, chapters=2, seg_s=(4.0, 7.0, 6.0))
    plans = [dataclasses.replace(p, words=60) for p in plans]  # ~22 s each: ~165 wpm
    book = assemble_book(plans, store, META, jpeg_cover(), root / "out", CONFIG, narrator=NARRATOR)
    return book, plans, root


def failed(report) -> set[tuple[int | str, str]]:
    out = {(c.index, k.name) for c in report.chapters for k in c.checks if not k.passed}
    return out | {("m4b", k.name) for k in report.m4b_checks if not k.passed}


def write_mp3(path: Path, audio: np.ndarray, *, rate: int = 44100, kbps_level: float = 0.4) -> Path:
    with sf.SoundFile(
        path,
        "w",
        rate,
        1 if audio.ndim == 1 else audio.shape[1],
        format="MP3",
        bitrate_mode="CONSTANT",
        compression_level=kbps_level,
    ) as f:
        f.write(audio)
    return path


def with_chapter1(book: AssembledBook, path: Path) -> AssembledBook:
    return dataclasses.replace(book, files={**book.files, "mp3": (path,) + book.files["mp3"][1:]})


def test_good_book_passes_with_readable_json(built) -> None:
    book, plans, _ = built
    report = validate_book(book, plans, CONFIG)
    assert failed(report) == set()
    assert report.passed
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True
    assert data["summary"]["chapters"] == 2 and data["summary"]["checks_failed"] == 0
    ch = data["chapters"][0]
    assert -20 <= ch["rms_db"] <= -18 and ch["true_peak_dbtp"] <= -3 and ch["noise_floor_db"] <= -60
    assert ch["lufs"] < 0 and 0.5 <= ch["head_tone_s"] <= 1 and 1 <= ch["tail_tone_s"] <= 5
    assert set(ch["checks"]) >= {
        "rms",
        "true_peak",
        "noise_floor",
        "head_room_tone",
        "tail_room_tone",
        "words_per_minute",
        "mp3_cbr_bitrate",
        "mp3_sample_rate",
        "mp3_mono",
    }
    assert set(data["m4b"]["checks"]) == {
        "chapter_count",
        "chapter_titles",
        "chapter_starts",
        "duration",
        "cover",
        "tags",
        "aac_true_peak",
    }


def test_too_loud_mp3_fails(built, tmp_path) -> None:
    book, plans, _ = built
    audio, _ = sf.read(book.files["flac"][0], dtype="float32")
    loud = write_mp3(tmp_path / "loud.mp3", np.clip(audio * 10 ** (6 / 20), -1, 1))
    report = validate_book(with_chapter1(book, loud), plans, CONFIG)
    assert not report.passed
    assert failed(report) == {(1, "rms"), (1, "true_peak")}
    assert "chapter 1: rms" in report.to_dict()["summary"]["failures"][0]


def test_wrong_bitrate_rate_and_channels_fail(built, tmp_path) -> None:
    book, plans, _ = built
    audio, _ = sf.read(book.files["flac"][0], dtype="float32")
    low = write_mp3(tmp_path / "128k.mp3", audio, kbps_level=(320 - 128) / 288)
    assert failed(validate_book(with_chapter1(book, low), plans, CONFIG)) == {
        (1, "mp3_cbr_bitrate")
    }
    stereo = write_mp3(
        tmp_path / "stereo48k.mp3",
        np.stack([audio, audio], axis=1)[: len(audio) * 48 // 441 * 10],
        rate=48000,
    )
    bad = failed(validate_book(with_chapter1(book, stereo), plans, CONFIG))
    assert {(1, "mp3_sample_rate"), (1, "mp3_mono")} <= bad


def test_missing_room_tone_and_noise_fail(built, tmp_path) -> None:
    book, plans, _ = built
    audio, _ = sf.read(book.files["flac"][0], dtype="float32")
    trimmed = audio[int(0.7 * 44100) : len(audio) - int(1.95 * 44100)]  # no head, ~0 tail
    noisy = trimmed + (
        10 ** (-50 / 20) * np.random.default_rng(1).standard_normal(len(trimmed))
    ).astype(np.float32)
    bad = failed(
        validate_book(with_chapter1(book, write_mp3(tmp_path / "t.mp3", noisy)), plans, CONFIG)
    )
    assert {(1, "head_room_tone"), (1, "tail_room_tone"), (1, "noise_floor")} <= bad


def test_pace_and_m4b_mismatches_fail(built) -> None:
    book, plans, _ = built
    wordy = [dataclasses.replace(plans[0], words=5000), plans[1]]
    assert failed(validate_book(book, wordy, CONFIG)) == {(1, "words_per_minute")}
    renamed = dataclasses.replace(
        book,
        titles=("Other", book.titles[1]),
        durations_s=(book.durations_s[0] + 2.0, book.durations_s[1]),
    )
    assert failed(validate_book(renamed, plans, CONFIG)) == {
        ("m4b", "chapter_titles"),
        ("m4b", "duration"),
    }
    with pytest.raises(ValueError):
        validate_book(book, plans[:1], CONFIG)


def test_flac_and_m4b_only_books_are_measured(built) -> None:
    book, plans, _ = built
    flac_only = dataclasses.replace(book, files={"flac": book.files["flac"]})
    report = validate_book(flac_only, plans, CONFIG)
    assert report.passed and report.chapters[0].file.endswith(".flac")
    assert "mp3_cbr_bitrate" not in {k.name for k in report.chapters[0].checks}
    m4b_only = validate_book(dataclasses.replace(book, files={}), plans, CONFIG)
    assert m4b_only.passed, m4b_only.failures()
    assert [round(c.measurement.duration_s, 1) for c in m4b_only.chapters] == [
        round(d, 1) for d in book.durations_s
    ]
