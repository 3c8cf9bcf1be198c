"""The Voices page's design form: a description and a sample text, "Design" queues the
takes (:func:`audiobook_app.voice_library.start_design`), ``watch_design`` polls until
they are ready, the author plays them and keeps one under a name ("Use this one").
Shown disabled, with the reason, where the server has no VoiceDesign model.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app import voice_library
from audiobook_app.pages.voices import VoicesState
from audiobook_app.state.clients import in_session, redis_conn, settings, storage
from audiobook_app.voice_library import DesignSample, DesignView
from pipeline.errors import AudiobookError, NotFoundError

DESIGN_POLL_S = 1.0
DESIGN_WATCH_S = 20 * 60


def design_view(user_id: int, design_id: str) -> DesignView:
    """Where a design request stands (blocking); failed when it is not the author's."""
    try:
        return in_session(voice_library.design_status, redis_conn(), storage(), user_id, design_id)
    except NotFoundError as exc:
        return DesignView(id=design_id, status="failed", error=str(exc))


class DesignState(VoicesState):
    """The design form's fields and the takes of the current request."""

    design_description: str = ""
    design_text: str = ""
    design_name: str = ""
    design_error: str = ""
    design: DesignView = DesignView()

    @rx.var
    def design_unavailable(self) -> str:
        """Why designing is off on this server ("" when it is on)."""
        return voice_library.design_unavailable(settings())

    @rx.event
    def set_design_description(self, text: str):
        """The description field."""
        self.design_description = text

    @rx.event
    def set_design_text(self, text: str):
        """The sample text field."""
        self.design_text = text

    @rx.event
    def set_design_name(self, name: str):
        """The name the kept take gets."""
        self.design_name = name

    @rx.event
    async def start(self):
        """Queue the takes, then watch them."""
        self.design_error = ""
        user_id, description, text = self.user_id, self.design_description, self.design_text
        try:
            design_id = await asyncio.to_thread(
                in_session,
                voice_library.start_design,
                redis_conn(),
                settings(),
                storage(),
                user_id,
                description,
                text,
            )
        except AudiobookError as exc:
            self.design_error = str(exc)
            return None
        self.design = DesignView(id=design_id, status="running")
        return DesignState.watch_design

    @rx.event(background=True)
    async def watch_design(self):
        """Poll the design request until its takes are ready or it failed."""
        async with self:
            user_id, design_id = self.user_id, self.design.id
        for _ in range(int(DESIGN_WATCH_S / DESIGN_POLL_S)):
            await asyncio.sleep(DESIGN_POLL_S)
            view = await asyncio.to_thread(design_view, user_id, design_id)
            if view.status == "running":
                continue
            async with self:
                if self.design.id == design_id:
                    self.design = view
            return

    @rx.event
    async def choose(self, index: int):
        """Keep take ``index`` as a designed voice named ``design_name``."""
        self.design_error = ""
        user_id, design_id, name = self.user_id, self.design.id, self.design_name
        try:
            entry = await asyncio.to_thread(
                in_session,
                voice_library.choose_design_sample,
                storage(),
                user_id,
                design_id,
                index,
                name,
            )
        except AudiobookError as exc:
            self.design_error = str(exc)
            return
        self.design, self.design_name = DesignView(), ""
        await self._refresh()
        self.try_voice_id = entry.id


def _take(sample: DesignSample) -> rx.Component:
    return rx.hstack(
        rx.el.audio(src=sample.url, controls=True, preload="none", style={"height": "32px"}),
        rx.button(
            "Use this one",
            size="1",
            on_click=DesignState.choose(sample.index),
            class_name="design-use",
        ),
        align="center",
        class_name="design-take",
    )


def _takes() -> rx.Component:
    return rx.match(
        DesignState.design.status,
        ("running", rx.text("Designing… (a GPU worker speaks three takes)", id="design-pending")),
        ("failed", rx.callout(DesignState.design.error, color_scheme="red")),
        (
            "ready",
            rx.vstack(
                rx.input(
                    placeholder="Name of the voice",
                    value=DesignState.design_name,
                    on_change=DesignState.set_design_name,
                    id="design-name",
                ),
                rx.foreach(DesignState.design.samples, _take),
                width="100%",
            ),
        ),
        rx.fragment(),
    )


def design_form() -> rx.Component:
    """The design card (disabled, with the reason, where designing is off)."""
    off = DesignState.design_unavailable != ""
    return rx.card(
        rx.vstack(
            rx.heading("Design a voice", size="3"),
            rx.cond(off, rx.callout(DesignState.design_unavailable, id="design-unavailable")),
            rx.text_area(
                placeholder="Describe the voice: warm baritone, fifties, slight Scottish accent",
                value=DesignState.design_description,
                on_change=DesignState.set_design_description,
                disabled=off,
                id="design-description",
                width="100%",
            ),
            rx.text_area(
                placeholder="A line for it to say (up to 500 characters)",
                value=DesignState.design_text,
                on_change=DesignState.set_design_text,
                disabled=off,
                max_length=voice_library.MAX_TRIAL_CHARS,
                id="design-text",
                width="100%",
            ),
            rx.button("Design", on_click=DesignState.start, disabled=off, id="design-button"),
            rx.cond(
                DesignState.design_error != "",
                rx.callout(DesignState.design_error, color_scheme="red", id="design-error"),
            ),
            _takes(),
            width="100%",
        ),
        width="100%",
    )
