"""The narration review page (``/jobs/[job_id]/review``): what speech verification heard
in a finished job, and regeneration of a segment.

The author sees the WER of every segment (a bar chart, flagged ones in red), the loudness
over time of a chapter (short-term LUFS, one point per 3 s), and a row per flagged segment
(or every segment, with "Show all"): its text, the audio kept, every earlier take with
what the recognizer heard. Editing the text (or leaving it) and pressing Regenerate starts
a job of the same chapters in which only that segment is synthesized again and only its
chapter mastered again (:func:`audiobook_app.segment_review.regenerate_segment`), and
goes back to the book page, where its progress shows. "Regenerate this chapter" does the
same for every segment of the chapter whose loudness is shown: another take of each, or,
with a voice chosen beside it, the chapter read by that voice wherever the narrator's
voice read it (:func:`audiobook_app.segment_review.regenerate_chapter`).

The view is read by :func:`review_view` in a thread; handlers only call the service.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field

import reflex as rx

from audiobook_app import PRODUCT_NAME, segment_review, voice_library
from audiobook_app.book_cast import VoiceOption
from audiobook_app.downloads import signed_url
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import in_session, redis_conn, settings, storage
from pipeline.errors import AudiobookError, NotFoundError

CHART_HEIGHT_PX = 220


@dataclass
class TakeItem:
    """One take as the page lists it."""

    label: str  # "Take 2 · WER 12.5 % · passed"
    heard: str
    audio_url: str  # "" when the take is the segment's only audio


@dataclass
class ReviewRow:
    """One segment as the page lists it; ``key`` is "<chapter>-<position>"."""

    key: str
    chapter: int
    position: int
    text: str
    wer: str
    flagged: bool
    audio_url: str
    takes: list[TakeItem] = field(default_factory=list)


@dataclass
class ReviewView:
    """Everything the page shows of one job."""

    book_id: int = 0
    title: str = ""
    summary: str = ""
    rows: list[ReviewRow] = field(default_factory=list)
    wer_points: list[dict] = field(default_factory=list)
    chapters: list[str] = field(default_factory=list)  # chapter indices, as select options
    loudness: dict[str, list[dict]] = field(default_factory=dict)  # chapter index -> points
    voices: list[VoiceOption] = field(default_factory=list)  # to read a chapter again


def review_view(user_id: int, job_id: str, show_all: bool) -> ReviewView:
    """The page's view of a finished job of the user's (:func:`segment_review.review`,
    blocking: call it in a thread). Raises NotFoundError."""
    conf, store = settings(), storage()
    found = in_session(segment_review.review, store, user_id, job_id, not show_all)
    report = found.report
    points = segment_review.wer_points(report)
    heard = (report.get("summary") or {}).get("speech") or {}
    summary = (
        f"{len(points)} segments heard · "
        f"median WER {statistics.median(p['wer'] for p in points):.1f} % · "
        f"{heard.get('retakes', 0)} retakes · {sum(p['flagged'] for p in points)} flagged"
        if points
        else "This conversion ran without speech verification."
    )
    indices = [str(c["index"]) for c in report.get("chapters", [])]
    voices = in_session(voice_library.list_voices, conf, user_id)
    return ReviewView(
        book_id=found.book_id,
        title=found.title,
        summary=summary,
        rows=[
            ReviewRow(
                key=f"{r.chapter_index}-{r.position}",
                chapter=r.chapter_index,
                position=r.position,
                text=r.text,
                wer=f"{100 * r.wer:.1f} %",
                flagged=r.flagged,
                audio_url=signed_url(conf, store, r.audio_key),
                takes=[
                    TakeItem(
                        label=f"Take {t.take + 1} · WER {100 * t.wer:.1f} % · "
                        + ("passed" if t.passed else "failed"),
                        heard=t.heard,
                        audio_url=signed_url(conf, store, t.audio_key) if t.audio_key else "",
                    )
                    for t in r.takes
                ],
            )
            for r in found.rows
        ],
        wer_points=points,
        chapters=indices,
        loudness={i: segment_review.loudness_points(report, int(i)) for i in indices},
        voices=[VoiceOption(v.id, v.name) for v in voices],
    )


SAME_VOICES = "same"  # the chapter-voice choice "its own voices": another take of each


class ReviewState(AuthState):
    """The review page's state (see the module docstring)."""

    view: ReviewView = ReviewView()
    loaded: bool = False
    not_found: bool = False
    show_all: bool = False
    chapter: str = ""  # the chapter whose loudness is plotted
    fixes: dict[str, str] = {}  # row key -> the text the author typed
    error: str = ""
    busy: str = ""  # the row key being regenerated
    chapter_voice: str = SAME_VOICES  # the voice "Regenerate this chapter" reads it with

    def _job_id(self) -> str:
        return str(self.router.page.params.get("job_id", ""))

    async def _read(self) -> None:
        try:
            self.view = await asyncio.to_thread(
                review_view, self.user_id, self._job_id(), self.show_all
            )
        except NotFoundError:
            self.not_found = True
        self.loaded = True
        if self.view.chapters and self.chapter not in self.view.chapters:
            self.chapter = self.view.chapters[0]

    @rx.event
    async def load(self):
        """on_load: the job's review (flagged segments first)."""
        if not self.user_id:
            return
        self.not_found, self.error, self.busy, self.fixes = False, "", "", {}
        await self._read()

    @rx.event
    async def set_show_all(self, value: bool):
        """Show every segment, or only the flagged ones."""
        self.show_all = value
        await self._read()

    @rx.event
    def set_chapter(self, value: str):
        """Plot another chapter's loudness."""
        self.chapter = value

    @rx.event
    def set_chapter_voice(self, value: str):
        """Choose the voice the chapter is regenerated with (or its own voices)."""
        self.chapter_voice = value

    @rx.event
    def set_fix(self, key: str, text: str):
        """Remember the text typed for a segment (sent by Regenerate)."""
        self.fixes = {**self.fixes, key: text}

    async def _start(self, regenerate, *args) -> bool:
        """Run ``regenerate(redis, settings, storage, user, job, *args)`` (a
        :mod:`segment_review` function) in a thread; False, with its message shown, when
        it is refused."""
        try:
            await asyncio.to_thread(
                regenerate,
                redis_conn(),
                settings(),
                storage(),
                self.user_id,
                self._job_id(),
                *args,
            )
        except AudiobookError as exc:
            self.error, self.busy = str(exc), ""
            return False
        return True

    @rx.event
    async def regenerate(self, key: str):
        """Regenerate one segment with the text typed (or as another take) and go to the
        book page, where the new job's progress shows."""
        row = next((r for r in self.view.rows if r.key == key), None)
        if row is None:
            return
        self.error, self.busy = "", key
        yield
        fix = (row.chapter, row.position, self.fixes.get(key))
        if await self._start(segment_review.regenerate_segment, *fix):
            yield rx.redirect(f"/books/{self.view.book_id}")

    @rx.event
    async def regenerate_chapter(self):
        """Regenerate the chapter whose loudness is shown, with the voice chosen (or
        another take of every segment) and go to the book page."""
        if not self.chapter:
            return
        self.error, self.busy = "", "chapter"
        yield
        voice = None if self.chapter_voice == SAME_VOICES else self.chapter_voice
        if await self._start(segment_review.regenerate_chapter, int(self.chapter), voice):
            yield rx.redirect(f"/books/{self.view.book_id}")

    @rx.var
    def loudness(self) -> list[dict]:
        """The plotted chapter's loudness points."""
        return self.view.loudness.get(self.chapter, [])


def _take(take: TakeItem) -> rx.Component:
    return rx.hstack(
        rx.text(take.label, size="1", weight="medium"),
        rx.text("heard: “", take.heard, "”", size="1", color_scheme="gray"),
        rx.cond(take.audio_url != "", rx.el.audio(src=take.audio_url, controls=True)),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _row(row: ReviewRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(f"Chapter {row.chapter} · segment {row.position}"),
                rx.cond(
                    row.flagged,
                    rx.badge("WER ", row.wer, " · flagged", color_scheme="red"),
                    rx.badge("WER ", row.wer, color_scheme="green"),
                ),
                spacing="2",
            ),
            rx.text(row.text, id=f"text-{row.key}"),
            rx.text_area(
                default_value=row.text,
                on_change=lambda text: ReviewState.set_fix(row.key, text),
                id=f"fix-{row.key}",
                width="100%",
            ),
            rx.el.audio(src=row.audio_url, controls=True, id=f"audio-{row.key}"),
            rx.foreach(row.takes, _take),
            rx.button(
                "Regenerate",
                on_click=ReviewState.regenerate(row.key),
                loading=ReviewState.busy == row.key,
                id=f"regenerate-{row.key}",
            ),
            spacing="2",
            width="100%",
        ),
        id=f"segment-{row.key}",
        width="100%",
    )


def _charts() -> rx.Component:
    return rx.vstack(
        rx.heading("WER per segment (%)", size="3"),
        rx.recharts.bar_chart(
            rx.recharts.bar(
                data_key="wer", name="WER %", fill="#e5484d", is_animation_active=False
            ),
            rx.recharts.x_axis(data_key="segment"),
            rx.recharts.y_axis(),
            rx.recharts.graphing_tooltip(),
            data=ReviewState.view.wer_points,
            width="100%",
            height=CHART_HEIGHT_PX,
        ),
        rx.hstack(
            rx.heading("Loudness over time (short-term LUFS)", size="3"),
            rx.select(
                ReviewState.view.chapters,
                value=ReviewState.chapter,
                on_change=ReviewState.set_chapter,
                id="loudness-chapter",
            ),
            rx.select.root(
                rx.select.trigger(id="chapter-voice", min_width="12em"),
                rx.select.content(
                    rx.select.item("Its own voices (new takes)", value=SAME_VOICES),
                    rx.foreach(
                        ReviewState.view.voices, lambda v: rx.select.item(v.label, value=v.id)
                    ),
                ),
                value=ReviewState.chapter_voice,
                on_change=ReviewState.set_chapter_voice,
                size="1",
            ),
            rx.button(
                "Regenerate this chapter",
                variant="soft",
                size="1",
                on_click=ReviewState.regenerate_chapter,
                loading=ReviewState.busy == "chapter",
                id="regenerate-chapter",
            ),
            align="center",
        ),
        rx.recharts.line_chart(
            rx.recharts.line(
                data_key="lufs",
                name="LUFS",
                dot=False,
                stroke="#3e63dd",
                is_animation_active=False,
            ),
            rx.recharts.x_axis(data_key="minute", unit=" min"),
            rx.recharts.y_axis(domain=[-70, 0]),
            rx.recharts.graphing_tooltip(),
            data=ReviewState.loudness,
            width="100%",
            height=CHART_HEIGHT_PX,
        ),
        width="100%",
        id="review-charts",
    )


def _review() -> rx.Component:
    return rx.vstack(
        rx.link("← back to the book", href=f"/books/{ReviewState.view.book_id}"),
        rx.heading("Narration review: ", ReviewState.view.title, size="5"),
        rx.text(ReviewState.view.summary, id="review-summary"),
        _charts(),
        rx.hstack(
            rx.switch(
                checked=ReviewState.show_all, on_change=ReviewState.set_show_all, id="show-all"
            ),
            rx.text("Show every segment, not only the flagged ones", size="2"),
            align="center",
        ),
        rx.cond(
            ReviewState.error != "",
            rx.callout(ReviewState.error, color_scheme="red", id="review-error"),
        ),
        rx.cond(
            ReviewState.view.rows.length() > 0,
            rx.vstack(rx.foreach(ReviewState.view.rows, _row), width="100%", id="review-rows"),
            rx.text("No segment is flagged.", id="no-flagged"),
        ),
        spacing="4",
        width="100%",
    )


@rx.page(
    route="/jobs/[job_id]/review",
    title=f"Narration review · {PRODUCT_NAME}",
    on_load=[AuthState.require_user, ReviewState.load],
)
def review() -> rx.Component:
    """A finished job's narration review (the author's own jobs only)."""
    return rx.container(
        rx.vstack(
            header(),
            rx.cond(
                ReviewState.not_found,
                rx.callout("No such conversion among yours.", color_scheme="red", id="not-found"),
                rx.cond(ReviewState.loaded, _review(), rx.spinner()),
            ),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
