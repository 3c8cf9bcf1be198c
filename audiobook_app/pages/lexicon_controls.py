"""The book page's pronunciation lexicon: the book's entries (term, respelling, "Hear
it", "Delete") and a form to add one. "Hear it" speaks a short line with the respelling in
the narrator's voice through the voice library's try-a-voice
(:func:`audiobook_app.book_fixes.hear_respelling`); ``watch_hearing`` polls the trial until
its audio is ready, and the page plays it. After a change, when the book has a finished
conversion, the panel says how many segments in how many chapters a new conversion
re-synthesizes (:func:`audiobook_app.book_fixes.pending_fix`, in a thread: it parses the
manuscript) and "Apply fix" starts it (:func:`audiobook_app.book_fixes.apply_fix`, the
last conversion's chapters), followed like a Start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import reflex as rx

from audiobook_app import book_fixes
from audiobook_app.book_fixes import LexiconEntry
from audiobook_app.pages.book import BookState
from audiobook_app.state.clients import in_session, redis_conn, settings, spoken_trial, storage
from pipeline.errors import AudiobookError, InputError, NotFoundError

log = logging.getLogger(__name__)
HEAR_POLL_S = 0.5
HEAR_WATCH_S = 5 * 60  # stop watching a "hear it" no worker picked up by then


def impact(user_id: int, book_id: int, speed: float) -> tuple[str, bool]:
    """What a new conversion would re-synthesize, in words ("" before a finished one),
    and whether it would change anything (blocking). Raises what
    :func:`book_fixes.pending_fix` raises."""
    revision = in_session(book_fixes.pending_fix, settings(), storage(), user_id, book_id, speed)
    if revision is None:
        return "", False
    return book_fixes.describe(revision), bool(revision.segments or revision.chapters)


class LexiconState(BookState):
    """The lexicon panel's entries, form, "hear it" and fix."""

    entries: list[LexiconEntry] = []
    new_term: str = ""
    new_respelling: str = ""
    lexicon_error: str = ""
    hearing_id: int = 0  # the "hear it" trial being spoken or played (0: none)
    hearing_status: str = ""  # queued, done, failed
    hearing_audio: str = ""
    fix_impact: str = ""  # "N segments in M chapters will be re-synthesized"
    fix_needed: bool = False  # the fix changes something: "Apply fix" is offered

    async def _read(self) -> None:
        try:
            self.entries = await asyncio.to_thread(
                in_session, book_fixes.lexicon_entries, self.user_id, self._id()
            )
        except NotFoundError:
            self.entries = []

    @rx.event
    async def load_lexicon(self):
        """Read the book's lexicon (when the panel mounts)."""
        await self._read()

    @rx.event
    def set_new_term(self, term: str):
        """The add form's term."""
        self.new_term = term

    @rx.event
    def set_new_respelling(self, respelling: str):
        """The add form's respelling."""
        self.new_respelling = respelling

    async def _change(self, fn: Callable, *args: str):
        self.lexicon_error = ""
        try:
            await asyncio.to_thread(in_session, fn, self.user_id, self._id(), *args)
        except InputError as exc:
            self.lexicon_error = str(exc)
            return None
        await self._read()
        return LexiconState.check_impact

    @rx.event
    async def add_entry(self):
        """Save the form's entry (a term already there gets the new respelling)."""
        event = await self._change(
            book_fixes.save_lexicon_entry, self.new_term, self.new_respelling
        )
        if event is not None:
            self.new_term, self.new_respelling = "", ""
        return event

    @rx.event
    async def delete_entry(self, term: str):
        """Remove an entry."""
        return await self._change(book_fixes.delete_lexicon_entry, term)

    @rx.event
    async def check_impact(self):
        """Say what a new conversion would re-synthesize (after a finished one)."""
        try:
            self.fix_impact, self.fix_needed = await asyncio.to_thread(
                impact, self.user_id, self._id(), float(self.speed)
            )
        except AudiobookError as exc:
            log.info("no fix impact for book %s: %s", self._id(), exc)
            self.fix_impact, self.fix_needed, self.lexicon_error = "", False, str(exc)

    @rx.event
    async def apply_fix(self):
        """Convert the last conversion's chapters again with the lexicon, then follow it."""
        self.lexicon_error = ""
        try:
            job_id = await asyncio.to_thread(
                book_fixes.apply_fix,
                redis_conn(),
                settings(),
                self.user_id,
                self._id(),
                float(self.speed),
            )
        except InputError as exc:
            self.lexicon_error = str(exc)
            return None
        self.fix_impact, self.fix_needed = "", False
        return self._follow(job_id)

    @rx.event
    async def hear(self, respelling: str):
        """Speak a line with ``respelling`` in the narrator's voice, then play it."""
        self.lexicon_error, self.hearing_audio = "", ""
        user_id, book_id = self.user_id, self._id()
        try:
            self.hearing_id = await asyncio.to_thread(
                in_session,
                book_fixes.hear_respelling,
                redis_conn(),
                settings(),
                user_id,
                book_id,
                respelling,
            )
        except AudiobookError as exc:
            log.info("hear it refused for book %s: %s", book_id, exc)
            self.lexicon_error = str(exc)
            return None
        self.hearing_status = "queued"
        return LexiconState.watch_hearing

    @rx.event(background=True)
    async def watch_hearing(self):
        """Poll the "hear it" trial until it is spoken (or failed)."""
        async with self:
            user_id, trial_id = self.user_id, self.hearing_id
        trial = await spoken_trial(user_id, trial_id, poll_s=HEAR_POLL_S, watch_s=HEAR_WATCH_S)
        if trial is None:
            return
        async with self:
            if self.hearing_id == trial_id:
                self.hearing_status, self.hearing_audio = trial.status, trial.audio_url
                self.lexicon_error = trial.error


def _entry_row(e: LexiconEntry, i: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(e.term, class_name="lexicon-term"),
        rx.table.cell(e.respelling, class_name="lexicon-respelling"),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Hear it",
                    size="1",
                    variant="soft",
                    on_click=LexiconState.hear(e.respelling),
                    id=f"lexicon-{i}-hear",
                ),
                rx.button(
                    "Delete",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=LexiconState.delete_entry(e.term),
                    id=f"lexicon-{i}-delete",
                ),
                spacing="2",
            )
        ),
        class_name="lexicon-row",
    )


def _add_form() -> rx.Component:
    return rx.hstack(
        rx.input(
            placeholder="Term (Inishmore)",
            value=LexiconState.new_term,
            on_change=LexiconState.set_new_term,
            size="1",
            id="lexicon-term",
        ),
        rx.input(
            placeholder="Say it as (Inish-more)",
            value=LexiconState.new_respelling,
            on_change=LexiconState.set_new_respelling,
            size="1",
            id="lexicon-respelling",
        ),
        rx.button(
            "Hear it",
            size="1",
            variant="soft",
            on_click=LexiconState.hear(LexiconState.new_respelling),
            id="lexicon-new-hear",
        ),
        rx.button("Add", size="1", on_click=LexiconState.add_entry, id="lexicon-add"),
        spacing="2",
        wrap="wrap",
    )


def _hearing() -> rx.Component:
    return rx.match(
        LexiconState.hearing_status,
        ("queued", rx.text("Speaking…", size="1", id="lexicon-hear-pending")),
        (
            "done",
            rx.el.audio(
                src=LexiconState.hearing_audio,
                controls=True,
                auto_play=True,
                id="lexicon-audio",
                style={"height": "32px"},
            ),
        ),
        rx.fragment(),
    )


def _fix() -> rx.Component:
    return rx.cond(
        LexiconState.fix_impact != "",
        rx.hstack(
            rx.text(LexiconState.fix_impact, size="2", id="fix-impact"),
            rx.cond(
                LexiconState.fix_needed,
                rx.button("Apply fix", size="1", on_click=LexiconState.apply_fix, id="apply-fix"),
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
    )


def lexicon_panel() -> rx.Component:
    """The lexicon panel (see the module docstring)."""
    return rx.card(
        rx.vstack(
            rx.heading("Pronunciation", size="3"),
            rx.cond(
                LexiconState.entries.length() > 0,
                rx.table.root(
                    rx.table.body(rx.foreach(LexiconState.entries, _entry_row)),
                    size="1",
                    id="lexicon",
                ),
            ),
            _add_form(),
            _hearing(),
            _fix(),
            rx.cond(
                LexiconState.lexicon_error != "",
                rx.callout(LexiconState.lexicon_error, color_scheme="red", id="lexicon-error"),
            ),
            width="100%",
        ),
        on_mount=LexiconState.load_lexicon,
        width="100%",
        id="lexicon-panel",
    )
