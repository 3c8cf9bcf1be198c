"""The book page's cast controls: who reads the book. The mode (one voice, narrator +
dialogue voice, full cast), the narrator with a small button that plays its sample line
(the page's one player stays the chapter player), the voice of all dialogue, and the
characters the inspect job found (the top :data:`~audiobook_app.book_cast.TOP_CHARACTERS`,
with their line counts), each read by the narrator or a voice of the author's library
(full cast).

Every change is saved at once through :func:`audiobook_app.book_cast.save_cast_view` (in
a thread) and applies from the next Start; a choice the service refuses (narrator +
dialogue without a dialogue voice yet) stays on screen with the reason until it is
completed. The panel reads its view when it mounts (once the book has been read).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import reflex as rx

from audiobook_app import book_cast
from audiobook_app.book_cast import NARRATOR_PICK, CastView, CharacterRow
from audiobook_app.pages.book import BookState
from audiobook_app.state.clients import in_session, settings
from pipeline.errors import InputError, NotFoundError

MODES = (
    ("single", "One voice"),
    ("dual", "Narrator + dialogue voice"),
    ("full", "Full cast"),
)


def read_view(user_id: int, book_id: int) -> CastView | None:
    """The cast controls' view (blocking); None when the book is not the user's."""
    try:
        return in_session(book_cast.cast_view, settings(), user_id, book_id)
    except NotFoundError:
        return None


def save_view(user_id: int, book_id: int, view: CastView) -> CastView:
    """Store the cast ``view`` shows; the stored cast's view (blocking). Raises
    CastError and NotFoundError."""
    return in_session(book_cast.save_cast_view, settings(), user_id, book_id, view)


class CastState(BookState):
    """The cast controls' view and events."""

    cast: CastView = CastView()
    cast_error: str = ""

    @rx.event
    async def load_cast(self):
        """Read the book's cast and the author's voices (when the panel mounts)."""
        view = await asyncio.to_thread(read_view, self.user_id, self._id())
        if view is not None:
            self.cast, self.cast_error = view, ""

    async def _save(self, draft: CastView) -> None:
        self.cast, self.cast_error = draft, ""
        try:
            self.cast = await asyncio.to_thread(save_view, self.user_id, self._id(), draft)
        except InputError as exc:
            self.cast_error = str(exc)

    @rx.event
    async def set_mode(self, mode: str):
        """One voice, narrator + dialogue voice, or full cast."""
        await self._save(replace(self.cast, mode=mode))

    @rx.event
    async def set_narrator(self, voice_id: str):
        """The voice that reads the narration (and everything, with one voice)."""
        await self._save(replace(self.cast, narrator=voice_id))

    @rx.event
    async def set_dialogue(self, voice_id: str):
        """The voice of the dialogue no cast character claims ("narrator": none)."""
        await self._save(replace(self.cast, dialogue=voice_id))

    @rx.event
    async def set_character(self, name: str, voice_id: str):
        """The voice of one character ("narrator": the narrator reads them)."""
        rows = [replace(c, voice=voice_id) if c.name == name else c for c in self.cast.characters]
        await self._save(replace(self.cast, characters=rows))


def _voice_items(with_narrator: bool) -> list[rx.Component]:
    items = [rx.select.item("The narrator", value=NARRATOR_PICK)] if with_narrator else []
    return [
        *items,
        rx.foreach(CastState.cast.voices, lambda v: rx.select.item(v.label, value=v.id)),
    ]


def _picker(value: rx.Var, on_change, element_id, with_narrator: bool = True) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=element_id, min_width="14em"),
        rx.select.content(*_voice_items(with_narrator)),
        value=value,
        on_change=on_change,
        size="1",
    )


def _mode_radio() -> rx.Component:
    return rx.radio_group.root(
        rx.hstack(
            *[
                rx.el.label(
                    rx.hstack(
                        rx.radio_group.item(value=mode, id=f"cast-mode-{mode}"),
                        rx.text(label, size="2"),
                        align="center",
                        spacing="1",
                    )
                )
                for mode, label in MODES
            ],
            spacing="4",
            wrap="wrap",
        ),
        value=CastState.cast.mode,
        on_change=CastState.set_mode,
    )


def _character_row(c: CharacterRow, i: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(c.name, class_name="character-name"),
        rx.table.cell(c.lines, class_name="character-lines"),
        rx.table.cell(
            rx.cond(
                CastState.cast.mode == "full",
                _picker(
                    c.voice,
                    lambda v: CastState.set_character(c.name, v),
                    f"character-{i}-voice",
                ),
                rx.text("the narrator", size="1", color_scheme="gray"),
            )
        ),
        class_name="character-row",
    )


def _characters() -> rx.Component:
    return rx.cond(
        CastState.cast.characters.length() > 0,
        rx.vstack(
            rx.text("Characters (lines of dialogue)", weight="medium", size="2"),
            rx.table.root(
                rx.table.body(rx.foreach(CastState.cast.characters, _character_row)),
                size="1",
                id="characters",
            ),
            rx.cond(
                CastState.cast.more_characters > 0,
                rx.text(
                    CastState.cast.more_characters.to_string() + " more speak less often",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        rx.text(
            "Nobody speaks in quotations here: the narrator reads the whole book.",
            size="1",
            color_scheme="gray",
        ),
    )


# Play the narrator's sample line from its start, or stop it (no second player on the page).
TOGGLE_SAMPLE = """(() => { const a = document.getElementById('voice-sample');
  if (a.paused) { a.currentTime = 0; a.play(); } else { a.pause(); } })()"""


def _sample_button() -> rx.Component:
    """A small "Sample" button that plays the narrator's sample line: a controls-less
    audio element (``#voice-sample``) next to it does the playing."""
    return rx.fragment(
        rx.el.audio(src=CastState.cast.narrator_sample, preload="none", id="voice-sample"),
        rx.button(
            rx.icon("play", size=14),
            "Sample",
            size="1",
            variant="soft",
            on_click=rx.call_script(TOGGLE_SAMPLE),
            id="voice-sample-play",
            title="Hear the narrator's sample line (again: stop)",
        ),
    )


def cast_panel() -> rx.Component:
    """The cast controls (see the module docstring)."""
    return rx.card(
        rx.vstack(
            rx.heading("Voices", size="3"),
            _mode_radio(),
            rx.hstack(
                rx.text("Narrator"),
                _picker(CastState.cast.narrator, CastState.set_narrator, "narrator", False),
                _sample_button(),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                CastState.cast.mode != "single",
                rx.hstack(
                    rx.text("Dialogue"),
                    _picker(CastState.cast.dialogue, CastState.set_dialogue, "dialogue-voice"),
                    align="center",
                    spacing="3",
                ),
            ),
            _characters(),
            rx.cond(
                CastState.cast_error != "",
                rx.callout(CastState.cast_error, color_scheme="red", id="cast-error"),
            ),
            width="100%",
        ),
        on_mount=CastState.load_cast,
        width="100%",
        id="cast",
    )
