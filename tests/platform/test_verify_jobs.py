"""Speech verification in platform jobs: the cpu queue's master task hears each chapter
before mastering it, retakes a misread segment with Piper, and stores the takes and the
records; assemble reports them. Real workers, Redis, SQLite, Piper and Whisper."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import soundfile as sf
from sqlmodel import select

from audiobook_app.db.models import File, FilePurpose, Job
from pipeline.config import PipelineConfig
from pipeline.convert import plan_book
from pipeline.parse import parse_file
from pipeline.tts import load_engine
from pipeline.verify import take_id
from tests.platform.harness import Platform, wait_for


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(tmp_path, sqlite_url)
    yield plat
    plat.stop()


def test_a_misread_segment_is_retaken_on_the_cpu_queue(
    platform: Platform, story: Path, tmp_path: Path
):
    job_id = platform.submit(story)
    job = platform.read(lambda s: s.get(Job, job_id))
    config = PipelineConfig.model_validate(job.config)
    _, plans = plan_book(parse_file(story), config)
    chapter = next(p for p in plans if p.index == 2)
    bad = chapter.segments[3]
    # the "model" read only the first of the segment's two sentences
    piper = load_engine(config.voice)
    first_sentence = bad.text.split(". ")[0] + "."
    dropped = piper.synthesize(first_sentence)
    buf = io.BytesIO()
    sf.write(buf, dropped, piper.sample_rate_hz, format="FLAC", subtype="PCM_24")
    books = platform.root / "storage" / "users" / str(job.owner_id) / "books" / str(job.book_id)
    (books / "segments").mkdir(parents=True, exist_ok=True)
    (books / "segments" / f"{bad.id}.flac").write_bytes(buf.getvalue())

    platform.start_worker("cpu,tts")
    wait_for(
        lambda: platform.read(lambda s: s.get(Job, job_id)).status in ("completed", "failed"),
        600,
        "the job to end",
    )
    job = platform.read(lambda s: s.get(Job, job_id))
    assert job.status == "completed", (job.error, platform.logs())

    files = platform.read(lambda s: list(s.exec(select(File).where(File.job_id == job_id)).all()))
    report_key = next(f.key for f in files if f.purpose == FilePurpose.REPORT)
    report = json.loads((platform.root / "storage" / report_key).read_text())
    segments = {s["segment_id"]: s for c in report["chapters"] for s in c["segments"]}
    assert set(segments) == {s.id for p in plans for s in p.segments}
    retaken = segments[bad.id]
    assert len(retaken["takes"]) >= 2 and not retaken["takes"][0]["passed"]
    assert retaken["chosen"] >= 1 and not retaken["flagged"], retaken
    assert report["summary"]["speech"]["retakes"] >= 1
    # only a failed take is retaken (tiny.en may mishear a short segment now and then)
    assert all(len(s["takes"]) == 1 for s in segments.values() if s["takes"][0]["passed"])
    # the kept take replaced the segment in storage; every take and the record are kept
    kept = sf.info(str(books / "segments" / f"{bad.id}.flac"))
    assert kept.duration > 1.5 * len(dropped) / piper.sample_rate_hz
    assert (books / "takes" / f"{take_id(bad.id, 0)}.flac").is_file()
    assert (books / "takes" / f"{take_id(bad.id, 1)}.flac").is_file()
    record = json.loads((books / "verify" / f"{bad.id}.json").read_text())
    assert record["chosen"] == retaken["chosen"]
