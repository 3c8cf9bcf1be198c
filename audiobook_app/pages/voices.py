"""The Voices page (``/voices``): the voice library with a play button per voice,
"try a voice" and its history, the clone form (:mod:`.voice_clone`) and the design form
(:mod:`.voice_design`), each with its own substate.

Handlers call :mod:`audiobook_app.voice_library` in a thread. Background events only
watch: ``watch_trial`` polls the trial row until the ``try_voice`` job has spoken it
(a Piper trial takes a second or two), then its audio appears above the history.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from audiobook_app import PRODUCT_NAME, voice_library
from audiobook_app.db.session import session_scope
from audiobook_app.pages.index import header
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import in_session, redis_conn, settings, spoken_trial, storage
from audiobook_app.voice_library import MAX_TRIAL_CHARS, TrialEntry, VoiceEntry
from pipeline.errors import AudiobookError, InputError

log = logging.getLogger(__name__)
TRIAL_POLL_S = 0.5
TRIAL_WATCH_S = 15 * 60  # stop watching a trial no worker picked up by then


def library_view(user_id: int) -> tuple[list[VoiceEntry], list[TrialEntry]]:
    """The author's voices and trial history (blocking)."""
    with session_scope(settings().database_url) as session:
        voices = voice_library.list_voices(session, settings(), user_id)
        return voices, voice_library.list_trials(session, user_id)


class VoicesState(AuthState):
    """The voice list, the try-a-voice form and the history."""

    voices: list[VoiceEntry] = []
    trials: list[TrialEntry] = []
    try_voice_id: str = ""
    try_text: str = ""
    try_error: str = ""
    latest_id: int = 0  # the trial generated last on this page (0: none yet)
    latest_status: str = ""
    latest_audio: str = ""
    latest_error: str = ""

    async def _refresh(self) -> None:
        self.voices, self.trials = await asyncio.to_thread(library_view, self.user_id)
        if not any(v.id == self.try_voice_id for v in self.voices) and self.voices:
            self.try_voice_id = self.voices[0].id

    @rx.event
    async def load(self):
        """on_load: the voices and the history."""
        if self.user_id:
            await self._refresh()

    @rx.event
    def set_try_voice(self, voice_id: str):
        """The voice to try."""
        self.try_voice_id = voice_id

    @rx.event
    def set_try_text(self, text: str):
        """The text to try (the counter shows its length against the limit)."""
        self.try_text = text

    @rx.event
    async def delete_voice(self, voice_id: str):
        """Delete one of the author's voices (one deleted already: just refresh)."""
        try:
            await asyncio.to_thread(
                in_session, voice_library.delete_voice, storage(), self.user_id, voice_id
            )
        except InputError as exc:
            log.info("voice %s not deleted: %s", voice_id, exc)
        await self._refresh()

    @rx.event
    async def generate(self):
        """Queue the try-a-voice trial, then watch it."""
        self.try_error = ""
        user_id, voice_id, text = self.user_id, self.try_voice_id, self.try_text
        try:
            trial_id = await asyncio.to_thread(
                in_session,
                voice_library.start_trial,
                redis_conn(),
                settings(),
                user_id,
                voice_id,
                text,
            )
        except AudiobookError as exc:
            log.info("trial refused for user %s: %s", user_id, exc)
            self.try_error = str(exc)
            return None
        trial = await asyncio.to_thread(in_session, voice_library.get_trial, user_id, trial_id)
        self._show_latest(trial)
        self.trials = [trial, *self.trials]
        return VoicesState.watch_trial

    def _show_latest(self, trial: TrialEntry) -> None:
        self.latest_id, self.latest_status = trial.id, trial.status
        self.latest_audio, self.latest_error = trial.audio_url, trial.error

    @rx.event(background=True)
    async def watch_trial(self):
        """Poll the latest trial until its job has spoken it (or failed)."""
        async with self:
            user_id, trial_id = self.user_id, self.latest_id
        if not trial_id:
            return
        trial = await spoken_trial(user_id, trial_id, poll_s=TRIAL_POLL_S, watch_s=TRIAL_WATCH_S)
        if trial is None:
            return
        async with self:
            if self.latest_id == trial_id:
                self._show_latest(trial)
            self.trials = [trial if t.id == trial_id else t for t in self.trials]

    @rx.var
    def try_count(self) -> str:
        """The try text's length against the limit ("12 / 500")."""
        return f"{len(self.try_text)} / {MAX_TRIAL_CHARS}"


def _voice_row(v: VoiceEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(v.name, weight="medium"), rx.text(v.description, size="1")),
        rx.table.cell(rx.badge(v.kind), rx.text(v.engine, size="1", color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                v.sample_url != "",
                rx.el.audio(
                    src=v.sample_url,
                    controls=True,
                    preload="none",
                    class_name="voice-sample",
                    style={"height": "32px"},
                ),
                rx.text("no sample: try it below", size="1", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                v.owned,
                rx.button(
                    "Delete",
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=VoicesState.delete_voice(v.id),
                ),
            )
        ),
        id="voice-" + v.id,
    )


def _voice_list() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.body(rx.foreach(VoicesState.voices, _voice_row)), id="voices", width="100%"
        ),
        overflow_x="auto",
        width="100%",
    )


def _try_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Try a voice", size="3"),
            rx.select.root(
                rx.select.trigger(id="try-voice"),
                rx.select.content(
                    rx.foreach(VoicesState.voices, lambda v: rx.select.item(v.name, value=v.id))
                ),
                value=VoicesState.try_voice_id,
                on_change=VoicesState.set_try_voice,
            ),
            rx.text_area(
                placeholder="Up to 500 characters",
                value=VoicesState.try_text,
                on_change=VoicesState.set_try_text,
                max_length=MAX_TRIAL_CHARS,
                id="try-text",
                width="100%",
            ),
            rx.hstack(
                rx.button("Generate", on_click=VoicesState.generate, id="generate"),
                rx.text(VoicesState.try_count, size="1", id="try-count"),
                align="center",
            ),
            rx.cond(
                VoicesState.try_error != "",
                rx.callout(VoicesState.try_error, color_scheme="red", id="try-error"),
            ),
            rx.cond(VoicesState.latest_id != 0, _latest()),
            width="100%",
        ),
        width="100%",
    )


def _latest() -> rx.Component:
    return rx.match(
        VoicesState.latest_status,
        ("queued", rx.text("Speaking…", id="trial-pending")),
        ("failed", rx.callout(VoicesState.latest_error, color_scheme="red", id="trial-error")),
        rx.el.audio(src=VoicesState.latest_audio, controls=True, id="trial-audio"),
    )


def _trial_row(t: TrialEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(t.text, size="2", max_width="24em")),
        rx.table.cell(t.voice_name),
        rx.table.cell(t.created),
        rx.table.cell(
            rx.match(
                t.status,
                ("queued", rx.text("queued")),
                ("failed", rx.text(t.error, size="1", color_scheme="red")),
                rx.el.audio(
                    src=t.audio_url,
                    controls=True,
                    preload="none",
                    class_name="trial-play",
                    style={"height": "32px"},
                ),
            )
        ),
        rx.table.cell(
            rx.cond(
                t.download_url != "",
                rx.link(
                    "Download", href=t.download_url, is_external=True, class_name="trial-download"
                ),
            )
        ),
        class_name="trial-row",
    )


def _history() -> rx.Component:
    head = ("Text", "Voice", "Date", "Play", "")
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
            rx.table.body(rx.foreach(VoicesState.trials, _trial_row)),
            id="trials",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )


@rx.page(
    route="/voices",
    title=f"Voices · {PRODUCT_NAME}",
    on_load=[AuthState.require_user, VoicesState.load],
)
def voices() -> rx.Component:
    """The voice library page (signed-in authors)."""
    from audiobook_app.pages import voice_clone, voice_design  # they import VoicesState

    return rx.container(
        rx.vstack(
            header(),
            rx.heading("Voices", size="5"),
            _voice_list(),
            _try_form(),
            rx.heading("Generated", size="4"),
            _history(),
            rx.grid(
                voice_clone.clone_form(),
                voice_design.design_form(),
                columns="2",
                spacing="4",
                width="100%",
            ),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
