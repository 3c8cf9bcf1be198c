"""The author decides the granularity: a book with parts, chapters and sub-headings is
uploaded and inspected (its outline stored), re-divided with the service functions of
``audiobook_app.book_layout`` (split level, merge, split, reset), and the job's prepared
plan has exactly the author's tracks. Real worker, Redis, PostgreSQL (the layout edits)
and SQLite (a stored layout made on another outline), Piper.

The manuscript is a small EPUB 3 built here: its nav nests ``Part One`` > ``The Quay``,
``The Boat`` > (``The Storm``, ``The Calm``), ``Part Two`` > ``The Light``, ``The
Return``. Sections, by index: 0 Part One, 1 The Quay, 2 The Boat, 3 The Storm, 4 The
Calm, 5 Part Two, 6 The Light, 7 The Return. The default level is 2 (chapters); each
part's short text is read before its first chapter. ``The Boat`` has more than
``FOLD_MAX_WORDS`` words of its own, so it stays a track when split at its sub-headings
(a shorter one would be read as their heading, like a part).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app import book_layout, library
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.migrate import ensure_schema, upgrade
from audiobook_app.db.models import Book, Chapter, Job
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import queue
from audiobook_app.storage import build_storage, user_key
from pipeline.errors import ChapterSelectionError, LayoutError, NotFoundError
from tests.platform.harness import Platform, wait_for

PASSWORD = "correct horse battery"
LINE = "The keeper climbed the steps of the tower at dusk and trimmed the wick."
CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
    'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
    "</container>"
)
OPF = (
    '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
    'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>The Harbour</dc:title><dc:language>en</dc:language></metadata><manifest>"
    '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    '<item id="t" href="text.xhtml" media-type="application/xhtml+xml"/></manifest>'
    '<spine><itemref idref="t"/></spine></package>'
)
# (id, title, heading level, children)
TOC = [
    ("p1", "Part One", 1, [("c1", "The Quay", 2, []), ("c2", "The Boat", 2, [
        ("s1", "The Storm", 3, []), ("s2", "The Calm", 3, [])])]),
    ("p2", "Part Two", 1, [("c3", "The Light", 2, []), ("c4", "The Return", 2, [])]),
]  # fmt: skip
DEFAULT_TITLES = ["The Quay", "The Boat", "The Light", "The Return"]
LINES = {"The Boat": 16}  # sentences of a section's own text (default 1)


def _xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>x</title></head>'
        f"<body>{body}</body></html>"
    )


def _nav(entries) -> str:
    items = "".join(
        f'<li><a href="text.xhtml#{i}">{t}</a>{_nav(kids) if kids else ""}</li>'
        for i, t, _, kids in entries
    )
    return f"<ol>{items}</ol>"


def _text(entries) -> str:
    return "".join(
        f'<section id="{i}"><h{lvl}>{t}</h{lvl}><p>{" ".join([LINE] * LINES.get(t, 1))} This is {t}.</p>'
        "</section>" + _text(kids)
        for i, t, lvl, kids in entries
    )


def harbour_epub() -> bytes:
    """The nested EPUB of the module docstring (one sentence per section)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        zf.writestr("META-INF/container.xml", CONTAINER)
        zf.writestr("OEBPS/content.opf", OPF)
        zf.writestr("OEBPS/nav.xhtml", _xhtml(f'<nav epub:type="toc">{_nav(TOC)}</nav>'))
        zf.writestr("OEBPS/text.xhtml", _xhtml(_text(TOC)))
    return buf.getvalue()


def _platform(tmp_path: Path, url: str):
    plat = Platform(tmp_path, url)
    settings = plat.settings()
    (upgrade if url.startswith("postgresql") else ensure_schema)(settings.database_url)
    with session_scope(settings.database_url) as session:
        alice = sign_up(session, settings, "alice@example.com", PASSWORD).id
        bob = sign_up(session, settings, "bob@example.com", PASSWORD).id
    return plat, settings, alice, bob


@pytest.fixture
def pg_platform(tmp_path: Path, pg_url: str):
    plat, *rest = _platform(tmp_path, pg_url)
    yield plat, *rest
    plat.stop()


@pytest.fixture
def sqlite_platform(tmp_path: Path, sqlite_url: str):
    plat, *rest = _platform(tmp_path, sqlite_url)
    yield plat, *rest
    plat.stop()


def _book(plat: Platform, book_id: int) -> Book:
    return plat.read(lambda s: s.get(Book, book_id))


def _titles(plat: Platform, book_id: int) -> list[str]:
    return [c["title"] for c in _book(plat, book_id).chapters]


def _inspected(plat: Platform, settings, alice: int) -> int:
    storage = build_storage(settings)
    conn = queue.connect(settings)
    book_id = library.add_manuscript(conn, settings, storage, alice, "harbour.epub", harbour_epub())
    plat.start_worker("cpu,tts")
    book = wait_for(lambda: (b := _book(plat, book_id)).status != "uploaded" and b, 120, "inspect")
    assert book.status == "ready", book.error
    return book_id


def _prepared(plat: Platform, settings, job_id: str) -> tuple[list[dict], list[Chapter]]:
    """The job's plan chapters (index, title) once ``prepare`` has run, and its rows."""
    rows = wait_for(
        lambda: plat.read(
            lambda s: list(
                s.exec(select(Chapter).where(Chapter.job_id == job_id).order_by(Chapter.index))
            )
        ),
        120,
        "the prepare task",
    )
    job = plat.read(lambda s: s.get(Job, job_id))
    plan = json.loads(
        build_storage(settings).get_bytes(user_key(job.owner_id, "jobs", job_id, "plan.json"))
    )
    return [{"index": c["index"], "title": c["title"]} for c in plan["chapters"]], rows


def _edit(settings, fn, user: int, book_id: int, *args: int) -> list[str]:
    with session_scope(settings.database_url) as session:
        return [c["title"] for c in fn(session, user, book_id, *args).chapters]


def test_the_author_divides_the_book_and_the_job_makes_those_tracks(pg_platform):
    plat, settings, alice, bob = pg_platform
    book_id = _inspected(plat, settings, alice)
    book = _book(plat, book_id)
    assert [(s["level"], s["title"]) for s in book.outline] == [
        (1, "Part One"), (2, "The Quay"), (2, "The Boat"), (3, "The Storm"), (3, "The Calm"),
        (1, "Part Two"), (2, "The Light"), (2, "The Return"),
    ]  # fmt: skip
    assert [s["words"] for s in book.outline] == [18, 18, 14 * 16 + 4, 18, 18, 18, 18, 18]
    assert book.layout == {}
    assert [(c["index"], c["title"], c["first"], c["last"]) for c in book.chapters] == [
        (1, "The Quay", 1, 1),
        (2, "The Boat", 2, 4),
        (3, "The Light", 6, 6),
        (4, "The Return", 7, 7),
    ]
    storage = build_storage(settings)
    boat = library.chapter_texts(storage, book)[2]
    assert boat.split("\n\n") == [
        " ".join([LINE] * 16) + " This is The Boat.",
        "The Storm",
        f"{LINE} This is The Storm.",
        "The Calm",
        f"{LINE} This is The Calm.",
    ]

    assert _edit(settings, book_layout.set_split_level, alice, book_id, 1) == [
        "Part One",
        "Part Two",
    ]
    assert _edit(settings, book_layout.set_split_level, alice, book_id, 3) == [
        "The Quay", "The Boat", "The Storm", "The Calm", "The Light", "The Return",
    ]  # fmt: skip
    assert _edit(settings, book_layout.reset_layout, alice, book_id) == DEFAULT_TITLES
    assert _book(plat, book_id).layout == {"split_level": None, "starts": None, "sections": 0}
    assert _edit(settings, book_layout.merge_with_next, alice, book_id, 3) == [
        "The Quay",
        "The Boat",
        "The Light",
    ]
    assert _edit(settings, book_layout.split_at, alice, book_id, 3) == [
        "The Quay",
        "The Boat",
        "The Storm",
        "The Light",
    ]
    book = _book(plat, book_id)
    assert book.layout == {"split_level": None, "starts": [0, 1, 2, 3, 5, 6], "sections": 8}
    assert [(c["first"], c["last"]) for c in book.chapters] == [(1, 1), (2, 2), (3, 4), (6, 7)]
    texts = library.chapter_texts(storage, book)
    assert texts[3].split("\n\n")[1:] == ["The Calm", f"{LINE} This is The Calm."]
    assert texts[4].split("\n\n")[-2:] == ["The Return", f"{LINE} This is The Return."]

    with pytest.raises(LayoutError, match="chapter 4 cannot be merged"):
        _edit(settings, book_layout.merge_with_next, alice, book_id, 4)  # the last track
    with pytest.raises(LayoutError, match="no sub-heading"):
        _edit(settings, book_layout.split_at, alice, book_id, 1)  # starts a track already
    with pytest.raises(LayoutError, match=r"has 3 levels; choose a split level of 1..3 \(got 4\)"):
        _edit(settings, book_layout.set_split_level, alice, book_id, 4)
    for edit, args in (
        (book_layout.merge_with_next, (1,)),
        (book_layout.split_at, (4,)),
        (book_layout.set_split_level, (1,)),
        (book_layout.reset_layout, ()),
    ):
        with pytest.raises(NotFoundError):
            _edit(settings, edit, bob, book_id, *args)
    assert _book(plat, book_id).layout["starts"] == [0, 1, 2, 3, 5, 6], "refusals change nothing"

    conn = queue.connect(settings)
    job_id = library.start(
        conn, settings, alice, book_id, chosen=[2, 3, 4], titles={3: "Storm and Calm"}
    )
    plan, rows = _prepared(plat, settings, job_id)
    assert plan == [
        {"index": 2, "title": "The Boat"},
        {"index": 3, "title": "Storm and Calm"},
        {"index": 4, "title": "The Light"},
    ]
    assert [(r.index, r.title) for r in rows] == [(p["index"], p["title"]) for p in plan]
    assert _titles(plat, book_id) == ["The Quay", "The Boat", "Storm and Calm", "The Light"]
    library.cancel(conn, settings, alice, job_id)
    with pytest.raises(ChapterSelectionError, match="fixed once the book has been started"):
        _edit(settings, book_layout.merge_with_next, alice, book_id, 1)


def test_a_layout_made_on_another_outline_is_ignored(sqlite_platform):
    plat, settings, alice, _ = sqlite_platform
    book_id = _inspected(plat, settings, alice)
    stale = {"split_level": None, "starts": [0, 2], "sections": 5}  # another parse's count
    renamed = [{**c, "title": f"Old {c['index']}"} for c in _book(plat, book_id).chapters]
    with session_scope(settings.database_url) as session:
        row = session.get(Book, book_id)
        row.layout, row.chapters, row.outline = stale, renamed, row.outline[:5]
        session.add(row)
    with session_scope(settings.database_url) as session:
        book = library.owned_book(session, alice, book_id)
        _, task = library.queue_job(session, settings, book, None, library.PipelineConfig())
    conn = queue.connect(settings)
    queue.enqueue(conn, settings, task)
    plan, _ = _prepared(plat, settings, task.job_id)
    assert [p["title"] for p in plan] == DEFAULT_TITLES, "default tracks, book titles"
    book = _book(plat, book_id)
    assert [c["title"] for c in book.chapters] == DEFAULT_TITLES
    assert len(book.outline) == 8, "the job stores the outline it parsed"
    library.cancel(conn, settings, alice, task.job_id)
