"""``pipeline.convert.convert``, with assembly after synthesis (jobs=1) and in the synthesis
pool (jobs=2): an assembly failure leaves no file under a final name
and keeps the synthesis checkpoint, so the rerun after fixing the cause synthesizes
nothing again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import PipelineConfig
from pipeline.convert import ProgressEvent, convert
from pipeline.store import SegmentStore

PARAGRAPH = (
    "On day {day} the keeper climbed the steps at dusk and trimmed the wick. He wrote "
    "the weather for day {day} in his book, and {day} gulls watched him from the rail. "
)


def write_book(path: Path, chapters: int) -> Path:
    """A TXT book whose chapters each hold three distinct paragraphs (no shared segments)."""
    body = "\n\n".join(
        f"Chapter {n}\n\n" + "\n\n".join(PARAGRAPH.format(day=10 * n + k) for k in range(3))
        for n in range(1, chapters + 1)
    )
    path.write_text(f"The Keeper\n\n{body}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("jobs", [1, 2], ids=["after-synthesis", "in-the-synthesis-pool"])
def test_assembly_failure_leaves_no_final_file_and_keeps_the_checkpoint(tmp_path, jobs):
    book = write_book(tmp_path / "keeper.txt", chapters=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mp3").write_text("a file where the chapter folder should go")

    with pytest.raises(OSError):
        convert(book, out, PipelineConfig(), jobs=jobs)
    stored = SegmentStore(out / ".work" / "segments").stored_ids()
    assert stored, "the synthesized segments stay"
    assert not list(out.glob("*.m4b")) and not (out / "report.json").exists()
    assert not [p for p in out.rglob("*.part")] and not (out / ".work" / "assemble").exists()

    (out / "mp3").unlink()
    events: list[ProgressEvent] = []
    result = convert(book, out, PipelineConfig(), jobs=jobs, on_progress=events.append)
    assert result.report.passed, result.report.failures()
    assert result.generation.segments_synthesized == 0 and result.generation.segments_reused == len(
        stored
    )
    assert [e.done for e in events if e.stage == "assemble"] == [0, 1, 2]
    assert [c.file for c in result.report.chapters] == [str(p) for p in result.outputs.files["mp3"]]
    assert sorted(p.name for p in out.iterdir()) == [
        ".work",
        "abs",
        "keeper.m4b",
        "mp3",
        "report.json",
        "subtitles",
    ]
    shelf = out / "abs" / "Unknown" / "Keeper"
    assert sorted(p.name for p in shelf.iterdir()) == ["Keeper.m4b", "reader.txt"]
    # the checkpoint (segments, takes and verification records) stays; no scratch is left
    assert sorted(p.name for p in (out / ".work").iterdir()) == ["segments", "takes", "verify"]
    heard = result.report.to_dict()["summary"]["speech"]
    assert heard["segments"] == len(stored) and heard["flagged"] == 0
