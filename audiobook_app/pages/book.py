"""One book: what the parser found, chapter choices, Start/Cancel, live progress, the
player, downloads and the validation report. The chapter table is
:mod:`.chapter_table`, the player :mod:`.player`.

The badge next to the title says where the book stands: the book's own state before
any job (uploaded, ready, rejected), then its latest job's (queued, processing,
completed, failed, cancelled). Start and each chapter's Preview are enabled only while
the book is ready and no job of it runs.

Background events only watch: ``watch_inspection`` polls the book row until the
``inspect`` job has read the manuscript; ``watch_job`` follows the job's Redis stream
(:func:`audiobook_app.jobs.events.subscribe`, in a thread) and copies each event into
state, so progress shows without a refresh and survives a reload (on_load starts it again).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable

import reflex as rx

from audiobook_app import PRODUCT_NAME, book_output, library, tracks
from audiobook_app.db.models import BookStatus, FilePurpose, JobStatus
from audiobook_app.db.session import session_scope
from audiobook_app.jobs import events, inspections
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import redis_conn, settings, storage
from pipeline.errors import InputError, InsufficientCreditsError, NotFoundError

INSPECTION_POLL_S = 1.0
SPEEDS = ["0.75", "1", "1.25", "1.5", "2"]
RUNNING = frozenset(str(s) for s in JobStatus if not s.is_final)  # a job still at work
BADGE_COLORS = {
    "completed": "green",
    "failed": "red",
    "rejected": "red",
    "cancelled": "gray",
    "queued": "blue",
    "processing": "blue",
}
_ARTICLES = {"the", "a", "an"}


def initials(title: str) -> str:
    """Up to two capital letters standing for a book without a cover: the first letters
    of its first two words, a leading article skipped ("The Night Ferry" -> "NF"); "?"
    for a title with no letters or digits."""
    words = re.findall(r"[^\W_]+", title)
    if len(words) > 1 and words[0].lower() in _ARTICLES:
        words = words[1:]
    return "".join(w[0] for w in words[:2]).upper() or "?"


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
            "reading": (
                inspections.progress_text(redis_conn(), settings(), book.id)
                if book.status == BookStatus.UPLOADED
                else ""
            ),
            "job_id": job.id if job else "",
            "job_status": str(job.status) if job else "",
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


def keep_choices(before: list[dict], after: list[dict]) -> list[dict]:
    """``after``'s chapter rows with the ticks and titles the author has on screen
    (``before``, same chapter indices): a job's progress re-reads the rows, and a
    preview must not undo ticks or titles not saved yet."""
    kept = {c["index"]: c for c in before}
    return [
        {**c, "chosen": kept[c["index"]]["chosen"], "title": kept[c["index"]]["title"]}
        if c["index"] in kept
        else c
        for c in after
    ]


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
    reading: str = ""  # where the inspect job stands while status is uploaded
    chapters: list[dict] = []
    layout: tracks.LayoutView = tracks.LayoutView()  # the layout controls' view
    text_title: str = ""  # the chapter whose text is shown (Text)
    text_body: str = ""
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
    player_autoplay: bool = False  # Play starts the chapter; a reopened one waits
    action_error: str = ""
    credits_short: bool = False  # the last Start was refused for credits (link to billing)
    _watching: str = ""  # the job a watch_job loop follows (backend only)

    @rx.var
    def badge(self) -> str:
        """The badge's word: the latest job's state once there is one, else the book's."""
        return self.job_status if self.job_id and self.job_status else self.status

    @rx.var
    def badge_color(self) -> str:
        """The badge's colour (green completed, red failed or rejected, blue at work)."""
        return BADGE_COLORS.get(self.badge, "gray")

    @rx.var
    def can_start(self) -> bool:
        """Start and Preview are enabled: the book is ready and no job of it runs."""
        running = bool(self.job_id) and self.job_status in RUNNING
        return self.status == BookStatus.READY and not running

    @rx.var
    def cover_initials(self) -> str:
        """What the placeholder of a book without a cover shows (:func:`initials`)."""
        return initials(self.title)

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
            "reading",
            "job_id",
            "job_status",
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
        self.player_autoplay = False  # a reload reopens the player paused
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
    async def show_text(self, index: int):
        """Show one chapter's text."""
        self.text_title = next((c["title"] for c in self.chapters if c["index"] == index), "")
        self.text_body = await asyncio.to_thread(
            library.chapter_text, settings(), storage(), self.user_id, self._id(), index
        )

    async def _queue(self, service: Callable[..., str], *args, **kwargs):
        """Run a service that queues a job of this book (``service(conn, settings,
        user_id, *args, **kwargs) -> job id``, in a thread), then follow the job; a
        refusal (InputError) is shown under Start instead."""
        self.action_error = ""
        try:
            job_id = await asyncio.to_thread(
                service, redis_conn(), settings(), self.user_id, *args, **kwargs
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
    async def start(self):
        """Queue the conversion of the ticked chapters with the book's cast and lexicon
        (:mod:`.cast_controls`, :mod:`.lexicon_controls`), then follow it."""
        return await self._queue(
            library.start,
            self._id(),
            chosen=[c["index"] for c in self.chapters if c["chosen"]],
            titles={c["index"]: c["title"] for c in self.chapters},
            speed=float(self.speed),
        )

    @rx.event
    async def preview_chapter(self, index: int):
        """Convert just chapter ``index`` to hear it (:func:`library.preview`); the
        book's ticked chapters stay as they are. Refused and followed like Start."""
        return await self._queue(library.preview, self._id(), index)

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
        return await self._queue(library.retry, self.job_id)

    @rx.event
    def play(self, file_id: int, title: str, index: int):
        """Load a finished chapter into the player and play it from the start."""
        self.player_src, self.player_title, self.player_index, self.resume_s = (
            f"/files/{file_id}",
            title,
            index,
            0.0,
        )
        self.player_autoplay = True

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
                        before = self.chapters
                        self._apply(view)
                        self.chapters = keep_choices(before, self.chapters)
        finally:
            async with self:
                if self._watching == job_id:
                    self._watching = ""


def _scrolls(table: rx.Component) -> rx.Component:
    """A wide table that scrolls sideways on a phone instead of squeezing its columns."""
    return rx.box(table, overflow_x="auto", width="100%")


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
        chapter_table,
        layout_controls,
        lexicon_controls,
        output_controls,
        player,
        quote_controls,
    )

    return rx.vstack(
        rx.hstack(
            rx.cond(
                BookState.has_cover,
                rx.image(src=f"/covers/{BookState.book_id}", height="160px", id="cover"),
                rx.center(  # no cover: the title's initials in a neutral box
                    rx.text(BookState.cover_initials, size="7", weight="bold", color_scheme="gray"),
                    width="110px",
                    height="160px",
                    background="var(--gray-a3)",
                    border="1px solid var(--gray-a5)",
                    border_radius="var(--radius-3)",
                    flex_shrink="0",
                    id="cover-placeholder",
                ),
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
                rx.badge(BookState.badge, color_scheme=BookState.badge_color, id="book-status"),
            ),
            spacing="4",
        ),
        rx.cond(
            BookState.error != "", rx.callout(BookState.error, color_scheme="red", id="book-error")
        ),
        rx.cond(
            BookState.status == "uploaded",
            rx.text("Reading the manuscript… ", BookState.reading, id="reading"),
        ),
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
                chapter_table.chapter_table(),
                cast_controls.cast_panel(),
                lexicon_controls.lexicon_panel(),
                output_controls.output_panel(),
                rx.hstack(
                    rx.text("Speed"),
                    rx.select(
                        SPEEDS, value=BookState.speed, on_change=BookState.set_speed, size="1"
                    ),
                    rx.button(
                        "Start", on_click=BookState.start, disabled=~BookState.can_start, id="start"
                    ),
                    align="center",
                    spacing="3",
                ),
                quote_controls.quote_panel(),
                quote_controls.start_error(),
                width="100%",
            ),
        ),
        _progress(),
        player.player(),
        _downloads(),
        _report(),
        rx.cond(
            BookState.text_body != "",
            rx.card(
                rx.vstack(
                    rx.heading(BookState.text_title, size="3"),
                    rx.text(BookState.text_body, white_space="pre-wrap", size="2"),
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
