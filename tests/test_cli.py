"""The ``audiobook`` console script, run as a user runs it (a real subprocess).

Covers the CLI contract: ``inspect --json`` shape, exit statuses (0 / 1 / 2 with one
clear line on stderr), ``convert`` options, and crash-resume after SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.test_parse_epub_structure import _collection

AUDIOBOOK = str(Path(sys.executable).with_name("audiobook"))

STORY = """The Lighthouse Keeper

Chapter 1

Mr. Abernathy kept the light on the northern rock for 23 years. Each evening he climbed
the 114 steps, trimmed the wick, and wrote the weather in his book.

“Nothing ever happens here,” he told the gulls. They did not answer.

Chapter 2

On the 3rd of March a boat came through the fog. It carried a letter, a sack of flour,
and a girl of about 12 who said her name was Wren.

She asked him whether the light had ever gone out. He said it had not, not once.

Chapter 3

By spring she could trim the wick herself. The book filled with her handwriting, and the
gulls, for their part, grew used to two voices on the rock.
"""


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed console script and capture its output."""
    return subprocess.run([AUDIOBOOK, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def story(tmp_path) -> Path:
    path = tmp_path / "lighthouse.txt"
    path.write_text(STORY, encoding="utf-8")
    return path


def test_console_script_is_installed():
    assert os.access(AUDIOBOOK, os.X_OK), f"{AUDIOBOOK} missing: run scripts/setup.sh"


def test_inspect_json_contract(story):
    proc = run_cli("inspect", str(story), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert set(info) == {
        "title", "author", "language", "words", "estimated_duration_s", "chapters", "toc",
        "split_level", "default_split_level", "levels", "characters",
    }  # fmt: skip
    assert info["characters"] == [{"name": "Mr. Abernathy", "lines": 1, "aliases": []}]
    assert [(n["title"], n["level"], n["children"]) for n in info["toc"]] == [
        ("Chapter 1", 1, []), ("Chapter 2", 1, []), ("Chapter 3", 1, []),
    ]  # fmt: skip
    assert [n["words"] for n in info["toc"]] == [c["words"] for c in info["chapters"]]
    assert info["language"] == "en"
    assert [c["index"] for c in info["chapters"]] == [1, 2, 3]
    assert [c["title"] for c in info["chapters"]] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert info["words"] == sum(c["words"] for c in info["chapters"])
    assert 100 < info["words"] < 160
    # Duration estimate follows the measured narrator pace (191 wpm plus 5 s a chapter).
    assert info["estimated_duration_s"] == pytest.approx(info["words"] / 191 * 60 + 3 * 5, abs=0.2)


def test_inspect_toc_tree_and_split_level(tmp_path):
    """A story collection whose first story has numbered parts (nested NCX): one track a
    story by default, the parts as tracks named after their story at level 2."""
    path = tmp_path / "stories.epub"
    path.write_bytes(_collection())
    info = json.loads(run_cli("inspect", str(path), "--json").stdout)
    assert (info["split_level"], info["default_split_level"], info["levels"]) == (1, 1, 2)
    assert [c["title"] for c in info["chapters"]] == [
        "The Monkey's Paw",
        "The Well",
        "Jerry Bundler",
    ]
    paw = info["toc"][0]
    assert [n["title"] for n in paw["children"]] == ["I", "II", "III"]
    assert paw["words"] == sum(n["words"] for n in paw["children"]) == 900
    proc = run_cli("inspect", str(path), "--json", "--split-level", "2")
    titles = [c["title"] for c in json.loads(proc.stdout)["chapters"]]
    assert titles[:2] == ["The Monkey's Paw — Part I", "The Monkey's Paw — Part II"]
    assert len(titles) == 5
    proc = run_cli("convert", str(path), "-o", str(tmp_path / "out"), "--split-level", "3")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "audiobook: error: the book's table of contents has 2 levels; "
        "choose a split level of 1..2 (got 3)"
    )


def test_inspect_real_book(corpus):
    proc = run_cli("inspect", str(corpus / "epub" / "frankenstein_pg84-epub2.epub"), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert len(info["chapters"]) == 28
    assert "Frankenstein" in info["title"] and "Shelley" in info["author"]


@pytest.mark.parametrize(
    "name, words",
    [
        ("empty.epub", "empty"),
        ("empty.txt", "empty"),
        ("moby-dick_truncated-half.epub", "corrupt"),
        ("not-an-epub_html-bundle.epub", "not an EPUB"),
        ("the-waste-land_missing-opf.epub", "EPUB/wasteland.opf"),
        ("binary-png-named-as.txt", "not a text file"),
        ("pride-and-prejudice_scanned-image-only_p1-6.pdf", "OCR"),
        ("pride-and-prejudice_truncated.pdf", "PDF"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(corpus, name, words):
    proc = run_cli("inspect", str(corpus / "bad" / name), "--json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("audiobook: error: ") and name in lines[0]
    assert words.lower() in lines[0].lower()
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chapters", "4"], "outside 1-3"),
        (["--chapters", "two"], "bad chapter selection"),
        (["--format", "ogg"], "formats must be some of"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--bitrate", "128"], "ACX mode needs MP3 at 192 kbps or more (got 128)"),
        (["--bitrate", "100", "--no-acx"], "mp3_bitrate_kbps must be one of 128, 192, 320"),
    ],
)
def test_bad_options_exit_2(story, tmp_path, extra, message):
    proc = run_cli("convert", str(story), "-o", str(tmp_path / "out"), *extra)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_output_that_is_a_file_exits_2(story, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    proc = run_cli("convert", str(story), "-o", str(taken))
    assert proc.returncode == 2 and "is not a folder" in proc.stderr
    assert taken.read_text() == "not a folder"


def test_engine_failure_exits_1_with_log(story, tmp_path):
    """A voice that cannot be loaded is our failure, not the user's input: exit 1,
    one line on stderr, the traceback in OUTDIR/.work/error.log."""
    config = tmp_path / "voice.yaml"
    config.write_text(f"voice:\n  narrator: {tmp_path / 'missing.onnx'}\n")
    out = tmp_path / "out"
    proc = run_cli("convert", str(story), "-o", str(out), "--config", str(config), "--jobs", "1")
    assert proc.returncode == 1, proc.stderr
    assert (
        proc.stderr.startswith("audiobook: failed: Piper voice")
        and len(proc.stderr.strip().splitlines()) == 1
    )
    assert "EngineError" in (out / ".work" / "error.log").read_text()


def test_missing_file_exits_2(tmp_path):
    proc = run_cli("inspect", str(tmp_path / "nope.epub"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_convert_selected_chapter_and_formats(story, tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        "convert",
        str(story),
        "-o",
        str(out),
        "--chapters",
        "2",
        "--format",
        "mp3,flac",
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in sorted((out / "mp3").iterdir())] == ["02 - Chapter 2.mp3"]
    assert [p.name for p in sorted((out / "flac").iterdir())] == ["02 - Chapter 2.flac"]
    assert not list(out.glob("*.m4b"))
    report = json.loads((out / "report.json").read_text())
    assert [c["index"] for c in report["chapters"]] == [2]
    assert report["generation"]["segments_reused"] == 0


def test_convert_output_choices_credits_sample_and_exports(story, tmp_path):
    """--no-acx --bitrate 128 --credits --sample: credits tracks around the chapters, MP3s
    at 128 kbps CBR, sample.mp3 without the opening credits, subtitles per chapter, the
    Audiobookshelf folder with the chapter MP3s, and report.json with every segment heard."""
    import av

    from pipeline.validate import mp3_format_checks

    out = tmp_path / "out"
    args = ["--format", "mp3", "--no-acx", "--bitrate", "128", "--credits", "--sample"]
    proc = run_cli("convert", str(story), "-o", str(out), "--jobs", "2", *args)
    assert proc.returncode == 0, proc.stderr
    names = [p.name for p in sorted((out / "mp3").iterdir())]
    assert names == [
        "00 - Opening Credits.mp3",
        "01 - Chapter 1.mp3",
        "02 - Chapter 2.mp3",
        "03 - Chapter 3.mp3",
        "04 - Closing Credits.mp3",
    ]
    for name in names:
        assert all(c.passed for c in mp3_format_checks(out / "mp3" / name, 128, 44100)), name
    subtitles = sorted(p.name for p in (out / "subtitles").iterdir())
    assert subtitles == sorted(f"{n[:-4]}.{ext}" for n in names for ext in ("vtt", "srt"))
    assert (
        "Narrated by Joe, a Piper voice."
        in (out / "subtitles" / "00 - Opening Credits.vtt").read_text()
    )
    with av.open(str(out / "sample.mp3")) as sample:
        sample_s = sample.duration / av.time_base
    narration_s = 0.0
    for name in names[1:]:
        with av.open(str(out / "mp3" / name)) as chapter:
            narration_s += chapter.duration / av.time_base
    assert sample_s == pytest.approx(min(300.0, narration_s), abs=0.2)
    shelf = out / "abs" / "Unknown" / "Lighthouse"  # no author; the title from the file name
    assert sorted(p.name for p in shelf.iterdir()) == sorted(names + ["reader.txt"])
    assert (shelf / "reader.txt").read_text().strip() == "Piper en_US-joe-medium"
    report = json.loads((out / "report.json").read_text())
    assert [c["index"] for c in report["chapters"]] == [0, 1, 2, 3, 4]
    heard = [s for c in report["chapters"] for s in c["segments"]]
    assert heard and all({"wer", "takes", "flagged"} <= set(s) for s in heard)
    assert "speech:" in proc.stdout and "sample:" in proc.stdout


def _stored(out: Path) -> set[str]:
    return {p.stem for p in (out / ".work" / "segments").glob("*.flac")}


def test_sigkill_mid_book_then_rerun_resumes_without_resynthesis(story, tmp_path):
    """Kill the whole process tree with SIGKILL once some segments are stored, rerun
    the same command: it completes, synthesizing exactly the segments not stored."""
    out = tmp_path / "out"
    args = [AUDIOBOOK, "convert", str(story), "-o", str(out), "--jobs", "2", "--format", "mp3"]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while len(_stored(out)) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = _stored(out)
    assert len(survived) >= 4, "the run ended before it could be killed mid-book"
    assert not (out / "report.json").exists()

    done = run_cli(*args[1:])
    assert done.returncode == 0, done.stderr
    generation = json.loads((out / "report.json").read_text())["generation"]
    assert generation["segments_reused"] == len(survived)
    assert generation["segments_synthesized"] == generation["segments_total"] - len(survived)
    assert generation["segments_synthesized"] > 0, "kill came after synthesis had finished"
    assert len(_stored(out)) == generation["segments_total"]
    assert len(list((out / "mp3").glob("*.mp3"))) == 3


DIALOGUE = """The Visit

Chapter 1

The rain had not stopped for three days when Mr. Hale knocked at the door of the cottage.
Mrs. Grey opened it herself.

“You are late,” said Mrs. Grey. “The kettle has boiled twice.”

“The road is flooded,” said Mr. Hale. “I came round by the mill.”

She stood aside to let him pass, and he hung his coat by the fire.

“Did you bring the letter?” asked Mrs. Grey.

“I did,” said Mr. Hale, and he laid it on the table between them.
"""


def test_convert_with_a_cast_then_recast_one_character(tmp_path):
    """A full cast from --config (presets by name): each speaker's lines are their own
    segments; giving one character another voice re-synthesizes only their lines."""
    book = tmp_path / "visit.txt"
    book.write_text(DIALOGUE, encoding="utf-8")
    info = json.loads(run_cli("inspect", str(book), "--json").stdout)
    # lines are quotations: "“You are late,” said Mrs. Grey. “The kettle…”" is two
    assert {(c["name"], c["lines"]) for c in info["characters"]} == {
        ("Mr. Hale", 3),
        ("Mrs. Grey", 3),
    }
    out = tmp_path / "out"
    runs = []
    for grey in ("joe-light", "joe-bright"):
        config = tmp_path / f"{grey}.yaml"
        config.write_text(
            f"cast:\n  mode: full\n  characters:\n    Mrs. Grey: {grey}\n    Mr. Hale: joe-deep\n",
            encoding="utf-8",
        )
        proc = run_cli(
            "convert", str(book), "-o", str(out), "--config", str(config), "--format", "mp3"
        )
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads((out / "report.json").read_text())["generation"])
    # title, 2 narration paragraphs, 6 quotations by 2 speakers, 4 speech tags: all new
    assert runs[0]["segments_synthesized"] == runs[0]["segments_total"] == 13
    # then only Mrs. Grey's three quotations
    assert (runs[1]["segments_synthesized"], runs[1]["segments_reused"]) == (3, 10)


def test_inspect_into_a_pipe_closed_early_is_quiet(tmp_path):
    """`audiobook inspect BOOK | head -1`: the reader stops early; no error, status 0."""
    book = tmp_path / "visit.txt"
    chapters = (f"Chapter {n}\n\nThe tide came in and went out again.\n\n" for n in range(1, 601))
    book.write_text("The Tides\n\n" + "".join(chapters), encoding="utf-8")  # > 64 KiB of JSON
    proc = subprocess.run(
        f"'{AUDIOBOOK}' inspect '{book}' --json | head -c 10; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", '{\n  "title')
