"""``pipeline.convert.convert``: chapters are assembled while synthesis goes on, and an
assembly failure stops synthesis at once and leaves no file under a final name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.config import PipelineConfig
from pipeline.convert import ProgressEvent, convert
from pipeline.store import SegmentStore

PARAGRAPH = ("On day {day} the keeper climbed the steps at dusk and trimmed the wick. He wrote "
             "the weather for day {day} in his book, and {day} gulls watched him from the rail. ")


def write_book(path: Path, chapters: int) -> Path:
    """A TXT book whose chapters each hold three distinct paragraphs (no shared segments)."""
    body = "\n\n".join(f"Chapter {n}\n\n" + "\n\n".join(PARAGRAPH.format(day=10 * n + k) for k in range(3))
                       for n in range(1, chapters + 1))
    path.write_text(f"The Keeper\n\n{body}\n", encoding="utf-8")
    return path


def test_first_chapter_is_finished_while_later_chapters_are_synthesized(tmp_path):
    book = write_book(tmp_path / "keeper.txt", chapters=4)
    out = tmp_path / "out"
    seen: list[tuple[str, bool]] = []

    def on_progress(event: ProgressEvent) -> None:
        if event.stage == "generate" and event.done:
            seen.append((event.detail, any((out / "mp3").glob("01 - *.mp3"))))
            time.sleep(0.1)  # let the assembly thread run, as a slower engine would

    result = convert(book, out, PipelineConfig(), jobs=1, on_progress=on_progress)

    assert result.report.passed, result.report.failures()
    during = [detail for detail, chapter1_done in seen if chapter1_done]
    assert "chapter 4" in during  # chapter 1's MP3 was final before chapter 4's synthesis ended
    assert len(result.outputs.files["mp3"]) == 4 and result.outputs.m4b.is_file()
    assert len(result.report.chapters) == 4


def test_assembly_failure_stops_synthesis_and_leaves_no_final_file(tmp_path):
    book = write_book(tmp_path / "keeper.txt", chapters=5)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mp3").write_text("a file where the chapter folder should go")
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.stage == "generate":
            time.sleep(0.1)

    with pytest.raises(OSError):
        convert(book, out, PipelineConfig(), jobs=1, on_progress=on_progress)

    total = max(e.total for e in events if e.stage == "generate")
    synthesized = max(e.done for e in events if e.stage == "generate")
    assert synthesized < total / 2  # stopped soon after chapter 1 failed to assemble
    assert SegmentStore(out / ".work" / "segments").stored_ids()  # the checkpoint stays
    assert not list(out.glob("*.m4b")) and not (out / "report.json").exists()
    assert not [p for p in out.rglob("*.part")]
