"""One book: what the parser found, chapter choices, Start/Cancel, live progress, the
player, downloads and the validation report.

Background events only watch: ``watch_inspection`` polls the book row until the
``inspect`` job has read the manuscript; ``watch_job`` follows the job's Redis stream
(:func:`audiobook_app.jobs.events.subscribe`, in a thread) and copies each event into
state, so progress shows without a refresh and survives a reload (on_load starts it again).
"""

from __future__ import annotations

import asyncio
import json

import reflex as rx

from audiobook_app import PRODUCT_NAME, book_output, library, tracks
from audiobook_app.db.models import BookStatus, FilePurpose
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import events
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import redis_conn, settings, storage
from pipeline.errors import InputError, InsufficientCreditsError, NotFoundError

INSPECTION_POLL_S = 1.0
SPEEDS = ["0.75", "1", "1.25", "1.5", "2"]


def book_view(user_id: int, book_id: int) -> dict:
    """Everything the page shows of a book and its latest job (blocking). Raises NotFoundError."""
    with session_scope(settings().database_url) as session:
        book = library.owned_book(session, user_id, book_id)
        job = library.latest_job(session, book_id)
        chosen = set(book.chosen_chapters or [c["index"] for c in book.chapters])
        view = {
            "title": book.title or book.source_filename,
            "author": book.author or "",
            "status": str(book.status),
            "error": book.error or "",
            "words": book.words,
            "minutes": round(book.estimated_duration_s / 60, 1),
            "has_cover": bool(book.cover_key),
            "job_id": job.id if job else "",
            "report": [],
            "downloads": [],
            "playback": dict(book.playback or {}),
            "layout": tracks.layout_view(book.outline, book.layout),
            "chapters": [
                {
                    **c,
                    "chosen": c["index"] in chosen,
                    "status": "",
                    "file_id": 0,
                    "subs": tracks.sub_headings(book.outline, c),
                }
                for c in book.chapters
            ],
        }
        if job is None:
            return view
        by_index = {c.index: c for c in library.job_chapters(session, user_id, job.id)}
        files = library.job_files(session, user_id, job.id)
        file_of = {f.key: f.id for f in files}
        for c in view["chapters"]:
            row = by_index.get(c["index"])
            if row is not None:
                c["status"], c["file_id"], c["title"] = (
                    str(row.status),
                    file_of.get(row.audio_key or "", 0),
                    row.title,
                )
        view["downloads"] = [
            {
                "label": book_output.download_label(f.key.rsplit("/", 1)[-1], f.purpose),
                "href": f"/files/{f.id}?download=1",
                "purpose": str(f.purpose),
            }
            for f in files
            if f.purpose != FilePurpose.REPORT
        ]
        chapter_files = {"mp3", "flac", "wav"}  # what /jobs/<id>/chapters.zip holds
        if job.status == "completed" and any(
            d["purpose"] in chapter_files for d in view["downloads"]
        ):
            view["downloads"].insert(
                1,
                {
                    "label": "All chapters (ZIP)",
                    "href": f"/jobs/{job.id}/chapters.zip",
                    "purpose": "zip",
                },
            )
        report = next((f for f in files if f.purpose == FilePurpose.REPORT), None)
        if report is not None:
            view["report"] = report_rows(json.loads(storage().get_bytes(report.key)))
        return view


async def fetch_view(user_id: int, book_id: int) -> dict | None:
    """:func:`book_view` read in a thread (hold no state lock while awaiting it); None
    when the book is not the user's."""
    try:
        return await asyncio.to_thread(book_view, user_id, book_id)
    except NotFoundError:
        return None


def report_rows(report: dict) -> list[dict]:
    """report.json -> one row per chapter: levels and pass/fail against the ACX targets."""
    rows = []
    for c in report.get("chapters", []):
        failed = [name for name, check in c["checks"].items() if not check["passed"]]
        rows.append(
            {
                "chapter": f"{c['index']}. {c['title']}",
                "rms": f"{c['rms_db']:.1f} dB",
                "peak": f"{c['true_peak_dbtp']:.1f} dBTP",
                "noise": f"{c['noise_floor_db']:.1f} dB",
                "duration": f"{c['duration_s'] / 60:.1f} min",
                "result": "pass" if not failed else "fail: " + ", ".join(failed),
            }
        )
    return rows


class BookState(AuthState):
    """The book page's state (see the module docstring)."""

    not_found: bool = False
    title: str = ""
    author: str = ""
    status: str = ""
    error: str = ""
    words: int = 0
    minutes: float = 0.0
    has_cover: bool = False
    chapters: list[dict] = []
    layout: tracks.LayoutView = tracks.LayoutView()  # the layout controls' view
    preview_title: str = ""
    preview_text: str = ""
    speed: str = "1"
    job_id: str = ""
    job_status: str = ""
    stage: str = ""
    chapter_label: str = ""  # the chapter being synthesized ("chapter 3")
    percent: int = 0
    eta: str = ""
    job_message: str = ""
    event_ts: float = (
        0.0  # when the worker published the event shown (Unix s; the delay probe reads it)
    )
    downloads: list[dict] = []
    report: list[dict] = []
    player_src: str = ""
    player_title: str = ""
    player_index: int = 0
    resume_s: float = 0.0  # where the player starts the loaded chapter (the saved position)
    action_error: str = ""
    credits_short: bool = False  # the last Start was refused for credits (link to billing)
    _watching: str = ""  # the job a watch_job loop follows (backend only)

    def _id(self) -> int:
        try:
            return int(self.book_id)  # the route's [book_id]
        except (TypeError, ValueError):
            return 0

    async def _fetch(self) -> dict | None:
        return await fetch_view(self.user_id, self._id())

    def _apply(self, view: dict | None) -> bool:
        """Copy a :func:`book_view` into state; False when the book is not the user's."""
        self.not_found = view is None
        if view is None:
            return False
        for name in (
            "title",
            "author",
            "status",
            "error",
            "words",
            "minutes",
            "has_cover",
            "job_id",
            "downloads",
            "report",
            "chapters",
            "layout",
        ):
            setattr(self, name, view[name])
        saved = view["playback"]
        if not self.player_src and saved:  # reopen the player where this author left the book
            chapter = next(
                (
                    c
                    for c in self.chapters
                    if c["index"] == saved.get("chapter_index") and c["file_id"]
                ),
                None,
            )
            if chapter is not None:
                self.player_src, self.player_title = (
                    f"/files/{chapter['file_id']}",
                    chapter["title"],
                )
                self.player_index, self.resume_s = (
                    chapter["index"],
                    float(saved.get("position_s", 0.0)),
                )
        return True

    @rx.event
    async def load(self):
        """on_load: read the book; start watching the inspection or the job."""
        if not self.user_id or not self._apply(await self._fetch()):
            return None
        if self.status == BookStatus.UPLOADED:
            return BookState.watch_inspection
        if self.job_id:
            return BookState.watch_job
        return None

    @rx.event(background=True)
    async def watch_inspection(self):
        """Poll the book row until the inspect job has read the manuscript."""
        async with self:
            user_id, book_id = self.user_id, self._id()
        while True:
            await asyncio.sleep(INSPECTION_POLL_S)
            view = await fetch_view(user_id, book_id)  # outside the state lock: a database read
            async with self:
                if not self._apply(view) or self.status != BookStatus.UPLOADED:
                    return

    @rx.event
    def toggle_chapter(self, index: int):
        """Tick or untick a chapter."""
        self.chapters = [
            {**c, "chosen": not c["chosen"]} if c["index"] == index else c for c in self.chapters
        ]

    @rx.event
    def set_all(self, chosen: bool):
        """Tick or untick every chapter."""
        self.chapters = [{**c, "chosen": chosen} for c in self.chapters]

    @rx.event
    def rename_chapter(self, index: int, title: str):
        """The author's title for a chapter (spoken, in file names and chapter markers)."""
        self.chapters = [{**c, "title": title} if c["index"] == index else c for c in self.chapters]

    @rx.event
    def set_speed(self, speed: str):
        """Narration speed for the next Start (1 = the voice's own pace)."""
        self.speed = speed

    @rx.event
    async def preview(self, index: int):
        """Show one chapter's text."""
        self.preview_title = next((c["title"] for c in self.chapters if c["index"] == index), "")
        self.preview_text = await asyncio.to_thread(
            library.chapter_text, settings(), storage(), self.user_id, self._id(), index
        )

    @rx.event
    async def start(self):
        """Queue the conversion of the ticked chapters with the book's cast and lexicon
        (:mod:`.cast_controls`, :mod:`.lexicon_controls`), then follow it."""
        self.action_error = ""
        chosen = [c["index"] for c in self.chapters if c["chosen"]]
        titles = {c["index"]: c["title"] for c in self.chapters}
        user_id, book_id = self.user_id, self._id()
        try:
            job_id = await asyncio.to_thread(
                library.start,
                redis_conn(),
                settings(),
                user_id,
                book_id,
                chosen=chosen,
                titles=titles,
                speed=float(self.speed),
            )
        except InputError as exc:
            self.action_error = str(exc)
            self.credits_short = isinstance(exc, InsufficientCreditsError)
            return None
        return self._follow(job_id)

    def _follow(self, job_id: str):
        """Show a job just queued and return the event that follows it."""
        self.job_id, self.job_status, self.stage, self.percent = job_id, "queued", "queued", 0
        self.downloads, self.report = [], []
        return BookState.watch_job

    @rx.event
    async def cancel(self):
        """Cancel the running job."""
        if self.job_id:
            await asyncio.to_thread(
                library.cancel, redis_conn(), settings(), self.user_id, self.job_id
            )

    @rx.event
    async def retry(self):
        """Run the failed or cancelled job again (:func:`library.retry`: the segments it
        stored are reused), then follow the new job."""
        self.action_error = ""
        try:
            job_id = await asyncio.to_thread(
                library.retry, redis_conn(), settings(), self.user_id, self.job_id
            )
        except InputError as exc:
            self.action_error = str(exc)
            self.credits_short = isinstance(exc, InsufficientCreditsError)
            return None
        return self._follow(job_id)

    @rx.event
    def play(self, file_id: int, title: str, index: int):
        """Load a finished chapter into the player (from the start)."""
        self.player_src, self.player_title, self.player_index, self.resume_s = (
            f"/files/{file_id}",
            title,
            index,
            0.0,
        )

    @rx.event
    async def save_position(self, position_s: float):
        """Remember the player's place (called when playback pauses)."""
        if self.player_index and position_s is not None:
            self.resume_s = float(position_s)
            await asyncio.to_thread(
                library.save_playback,
                settings(),
                self.user_id,
                self._id(),
                self.player_index,
                float(position_s),
            )

    @rx.event(background=True)
    async def watch_job(self):
        """Copy the job's progress events into state until it ends or the page goes away."""
        async with self:
            job_id, user_id, book_id = self.job_id, self.user_id, self._id()
            if not job_id or self._watching == job_id:
                return
            self._watching = job_id
        stream = events.subscribe(redis_conn(), settings(), job_id, owner_id=user_id, block_ms=1000)
        last_chapter_status: tuple = ()
        try:
            while (event := await asyncio.to_thread(next, stream, None)) is not None:
                view = None
                if (
                    event.chapter_index,
                    event.segments_done,
                    event.is_final,
                ) != last_chapter_status:
                    last_chapter_status = (event.chapter_index, event.segments_done, event.is_final)
                    view = await fetch_view(
                        user_id, book_id
                    )  # playable chapters; downloads at the end
                async with self:
                    if self.job_id != job_id:
                        return
                    self.job_status, self.stage, self.percent = (
                        event.status,
                        event.stage,
                        round(100 * event.progress),
                    )
                    self.eta = f"{event.eta_s / 60:.1f} min left" if event.eta_s else ""
                    self.chapter_label = (
                        f"chapter {event.chapter_index}" if event.chapter_index else ""
                    )
                    self.job_message, self.event_ts = event.message or "", event.ts
                    if view is not None:
                        self._apply(view)
        finally:
            async with self:
                if self._watching == job_id:
                    self._watching = ""


def _scrolls(table: rx.Component) -> rx.Component:
    """A wide table that scrolls sideways on a phone instead of squeezing its columns."""
    return rx.box(table, overflow_x="auto", width="100%")


def _chapter_row(c: dict) -> rx.Component:
    from audiobook_app.pages import layout_controls  # it imports this module (BookState)

    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=c["chosen"],
                on_change=lambda _v: BookState.toggle_chapter(c["index"]),
                id=f"chapter-{c['index']}-chosen",
            )
        ),
        rx.table.cell(
            rx.input(
                value=c["title"],
                on_change=lambda t: BookState.rename_chapter(c["index"], t),
                size="1",
                min_width="12em",
            )
        ),
        rx.table.cell(c["words"]),
        rx.table.cell(
            rx.button("Text", size="1", variant="ghost", on_click=BookState.preview(c["index"]))
        ),
        rx.table.cell(layout_controls.row_controls(c)),
        rx.table.cell(c["status"], id=f"chapter-{c['index']}-status"),
        rx.table.cell(
            rx.cond(
                c["file_id"] != 0,
                rx.button(
                    "Play",
                    size="1",
                    id=f"chapter-{c['index']}-play",
                    on_click=BookState.play(c["file_id"], c["title"], c["index"]),
                ),
            )
        ),
    )


# Space: play/pause; ←/→: 15 s back/forward (not while typing in a field). On pause the
# hidden #save-position button sends the position to the server; on load the player
# seeks to #resume-at. Media events do not bubble: the listeners capture them.
PLAYER_SCRIPT = """if (!window.__abPlayer) {
  window.__abPlayer = true;
  document.addEventListener('keydown', (e) => {
    const a = document.getElementById('player');
    if (!a || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(e.target.tagName)) return;
    if (e.key === ' ') { e.preventDefault(); a.paused ? a.play() : a.pause(); }
    else if (e.key === 'ArrowLeft') { a.currentTime = Math.max(0, a.currentTime - 15); }
    else if (e.key === 'ArrowRight') { a.currentTime += 15; }
  });
  document.addEventListener('pause', (e) => {
    if (e.target.id === 'player') document.getElementById('save-position').click();
  }, true);
  document.addEventListener('loadedmetadata', (e) => {
    if (e.target.id !== 'player') return;
    const at = parseFloat(document.getElementById('resume-at').textContent || '0');
    if (at > 0 && at < e.target.duration) e.target.currentTime = at;
  }, true);
}"""


def _player() -> rx.Component:
    seek = "document.getElementById('player').currentTime += {}"
    return rx.cond(
        BookState.player_src != "",
        rx.card(
            rx.vstack(
                rx.script(PLAYER_SCRIPT),
                rx.el.span(BookState.resume_s, id="resume-at", hidden=True),
                rx.el.button(
                    id="save-position",
                    hidden=True,
                    on_click=rx.call_script(
                        "document.getElementById('player').currentTime",
                        callback=BookState.save_position,
                    ),
                ),
                rx.text(BookState.player_title, weight="bold"),
                rx.el.audio(
                    src=BookState.player_src,
                    controls=True,
                    id="player",
                    preload="metadata",
                    width="100%",
                ),
                rx.hstack(
                    rx.button("−15 s", size="1", on_click=rx.call_script(seek.format(-15))),
                    rx.button("+15 s", size="1", on_click=rx.call_script(seek.format(15))),
                    rx.select(
                        SPEEDS,
                        default_value="1",
                        size="1",
                        on_change=lambda v: rx.call_script(
                            "document.getElementById('player').playbackRate = " + v
                        ),
                    ),
                    rx.text("Space play/pause · ← → 15 s", size="1", color_scheme="gray"),
                    spacing="2",
                ),
                width="100%",
            ),
            width="100%",
        ),
    )


def _progress() -> rx.Component:
    return rx.cond(
        BookState.job_id != "",
        rx.vstack(
            rx.hstack(
                rx.badge(BookState.job_status, id="job-status"),
                rx.text(BookState.stage, id="job-stage"),
                rx.text(BookState.chapter_label, id="job-chapter"),
                rx.text(BookState.percent.to_string() + " %", id="job-percent"),
                rx.text(BookState.eta),
                rx.spacer(),
                rx.cond(
                    (BookState.job_status == "queued") | (BookState.job_status == "processing"),
                    rx.button(
                        "Cancel",
                        color_scheme="red",
                        variant="soft",
                        size="1",
                        on_click=BookState.cancel,
                        id="cancel",
                    ),
                ),
                rx.cond(
                    (BookState.job_status == "failed") | (BookState.job_status == "cancelled"),
                    rx.button(
                        "Retry",
                        variant="soft",
                        size="1",
                        on_click=BookState.retry,
                        id="retry",
                    ),
                ),
            ),
            rx.progress(value=BookState.percent, width="100%"),
            rx.el.span(BookState.event_ts, id="job-event-ts", hidden=True),
            rx.cond(
                BookState.job_message != "", rx.callout(BookState.job_message, color_scheme="red")
            ),
            width="100%",
        ),
    )


def _downloads() -> rx.Component:
    return rx.cond(
        BookState.downloads.length() > 0,
        rx.vstack(
            rx.heading("Downloads", size="3"),
            rx.foreach(
                BookState.downloads,
                lambda d: rx.link(
                    d["label"],
                    href=d["href"],
                    is_external=True,
                    class_name=f"download-{d['purpose']}",
                ),
            ),
            width="100%",
        ),
    )


def _report() -> rx.Component:
    head = (
        "Chapter",
        "RMS (−23..−18 dB)",
        "True peak (≤ −3 dBTP)",
        "Noise floor (≤ −60 dB)",
        "Duration",
        "ACX",
    )
    return rx.cond(
        BookState.report.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.heading("Validation report", size="3"),
                rx.cond(  # what speech verification heard: pages/review.py
                    BookState.job_status == "completed",
                    rx.link(
                        "Review narration",
                        href=f"/jobs/{BookState.job_id}/review",
                        id="review-link",
                    ),
                ),
                align="center",
                spacing="3",
            ),
            _scrolls(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                    rx.table.body(
                        rx.foreach(
                            BookState.report,
                            lambda r: rx.table.row(
                                *[
                                    rx.table.cell(r[k])
                                    for k in (
                                        "chapter",
                                        "rms",
                                        "peak",
                                        "noise",
                                        "duration",
                                        "result",
                                    )
                                ]
                            ),
                        )
                    ),
                    id="report",
                    width="100%",
                )
            ),
            width="100%",
        ),
    )


def _book() -> rx.Component:
    # these import this module (BookState)
    from audiobook_app.pages import (
        cast_controls,
        layout_controls,
        lexicon_controls,
        output_controls,
        quote_controls,
    )

    return rx.vstack(
        rx.hstack(
            rx.cond(
                BookState.has_cover, rx.image(src=f"/covers/{BookState.book_id}", height="160px")
            ),
            rx.vstack(
                rx.heading(BookState.title, size="6", id="book-title"),
                rx.text(BookState.author),
                rx.text(
                    BookState.words.to_string()
                    + " words · about "
                    + BookState.minutes.to_string()
                    + " min of audio"
                ),
                rx.badge(BookState.status, id="book-status"),
            ),
            spacing="4",
        ),
        rx.cond(
            BookState.error != "", rx.callout(BookState.error, color_scheme="red", id="book-error")
        ),
        rx.cond(BookState.status == "uploaded", rx.text("Reading the manuscript…")),
        rx.cond(
            BookState.chapters.length() > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading("Chapters", size="4"),
                    rx.spacer(),
                    rx.button("All", size="1", variant="soft", on_click=BookState.set_all(True)),
                    rx.button(
                        "None",
                        size="1",
                        variant="soft",
                        on_click=BookState.set_all(False),
                        id="untick-all",
                    ),
                ),
                layout_controls.level_bar(),
                _scrolls(
                    rx.table.root(
                        rx.table.body(rx.foreach(BookState.chapters, _chapter_row)),
                        width="100%",
                        id="chapters",
                    )
                ),
                cast_controls.cast_panel(),
                lexicon_controls.lexicon_panel(),
                output_controls.output_panel(),
                rx.hstack(
                    rx.text("Speed"),
                    rx.select(
                        SPEEDS, value=BookState.speed, on_change=BookState.set_speed, size="1"
                    ),
                    rx.button("Start", on_click=BookState.start, id="start"),
                    align="center",
                    spacing="3",
                ),
                quote_controls.quote_panel(),
                quote_controls.start_error(),
                width="100%",
            ),
        ),
        _progress(),
        _player(),
        _downloads(),
        _report(),
        rx.cond(
            BookState.preview_text != "",
            rx.card(
                rx.vstack(
                    rx.heading(BookState.preview_title, size="3"),
                    rx.text(BookState.preview_text, white_space="pre-wrap", size="2"),
                    width="100%",
                )
            ),
        ),
        spacing="4",
        width="100%",
    )


@rx.page(
    route="/books/[book_id]",
    title=f"Book · {PRODUCT_NAME}",
    on_load=[AuthState.require_user, BookState.load],
)
def book() -> rx.Component:
    """A book's page (the author's own books only)."""
    return rx.container(
        rx.vstack(
            header(),
            rx.cond(
                BookState.not_found,
                rx.callout("No such book among yours.", color_scheme="red", id="not-found"),
                _book(),
            ),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
