"""The book page's output block: which files a conversion of the book writes.

The audio formats (M4B, MP3, WAV, FLAC; at least one), the MP3 bitrate (128, 192 or 320
kbps), the M4B's AAC bitrate, ACX mode (ACX's targets: an MP3 below 192 kbps is refused,
so 128 is greyed out while it is on), and switches for the opening and closing credits,
the retail sample, subtitles, the read-along EPUB (made from an EPUB manuscript only: the
block says so for other books) and the Audiobookshelf export (abs.zip).

Every change is saved at once through :func:`audiobook_app.book_output.save_output_view`
(in a thread) and applies from the next Start; a choice the service refuses (ACX on with
a 128 kbps MP3, no format left, a retail sample without chapter files) leaves the stored
choices on screen with the service's message. The block reads its view when it mounts.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app import book_output
from audiobook_app.book_output import AAC_BITRATES_KBPS, OutputView
from audiobook_app.pages.book import BookState
from audiobook_app.state.clients import in_session
from pipeline.config import ACX_MIN_MP3_KBPS, MP3_BITRATES_KBPS
from pipeline.errors import InputError, NotFoundError

FORMAT_LABELS = (("m4b", "M4B"), ("mp3", "MP3"), ("wav", "WAV"), ("flac", "FLAC"))
SWITCHES = (  # (choice, label, hint)
    ("credits", "Opening and closing credits", "two extra tracks read by the narrator (ACX)"),
    ("retail_sample", "Retail sample", "sample.mp3: the first 5 minutes after the credits"),
    ("subtitles", "Subtitles", "WebVTT and SRT for each chapter"),
    ("readalong", "Read-along EPUB", "highlights each sentence as it is read (EPUB only)"),
    ("audiobookshelf", "Audiobookshelf export", "abs.zip (needs M4B or MP3)"),
)


def read_view(user_id: int, book_id: int) -> OutputView | None:
    """The output block's view (blocking); None when the book is not the user's."""
    try:
        return in_session(book_output.output_view, user_id, book_id)
    except NotFoundError:
        return None


def save_view(user_id: int, book_id: int, choices: dict) -> OutputView:
    """Store ``choices``; the stored choices' view (blocking). Raises ConfigError and
    NotFoundError."""
    return in_session(book_output.save_output_view, user_id, book_id, choices)


class OutputState(BookState):
    """The output block's view and events."""

    output: OutputView = OutputView()
    output_error: str = ""

    @rx.event
    async def load_output(self):
        """Read the book's output choices (when the block mounts)."""
        view = await asyncio.to_thread(read_view, self.user_id, self._id())
        if view is not None:
            self.output, self.output_error = view, ""

    async def _save(self, choices: dict) -> None:
        self.output_error = ""
        try:
            self.output = await asyncio.to_thread(save_view, self.user_id, self._id(), choices)
        except InputError as exc:
            self.output_error = str(exc)

    @rx.event
    async def set_format(self, fmt: str, on: bool):
        """Tick or untick an audio format."""
        formats = book_output.toggled_formats(self.output.formats, fmt, bool(on))
        await self._save({"formats": formats})

    @rx.event
    async def set_mp3_bitrate(self, kbps: str):
        """The MP3 bitrate, in kbps ("128", "192", "320")."""
        try:
            await self._save({"mp3_bitrate_kbps": book_output.bitrate(kbps)})
        except InputError as exc:
            self.output_error = str(exc)

    @rx.event
    async def set_aac_bitrate(self, kbps: str):
        """The M4B's AAC bitrate, in kbps."""
        try:
            await self._save({"aac_bitrate_kbps": book_output.bitrate(kbps)})
        except InputError as exc:
            self.output_error = str(exc)

    @rx.event
    async def set_switch(self, name: str, on: bool):
        """Turn one of the on/off choices (acx, credits, ...) on or off."""
        await self._save({name: bool(on)})


def _formats() -> rx.Component:
    return rx.hstack(
        rx.text("Formats", weight="medium", size="2"),
        *[
            rx.el.label(
                rx.hstack(
                    rx.checkbox(
                        checked=OutputState.output.formats.contains(fmt),
                        on_change=lambda on, fmt=fmt: OutputState.set_format(fmt, on),
                        id=f"output-format-{fmt}",
                    ),
                    rx.text(label, size="2"),
                    align="center",
                    spacing="1",
                )
            )
            for fmt, label in FORMAT_LABELS
        ],
        align="center",
        spacing="4",
        wrap="wrap",
    )


def _mp3_bitrate() -> rx.Component:
    return rx.hstack(
        rx.text("MP3", size="2"),
        rx.select.root(
            rx.select.trigger(id="output-mp3-bitrate"),
            rx.select.content(
                *[
                    rx.select.item(
                        f"{kbps} kbps",
                        value=str(kbps),
                        disabled=OutputState.output.acx if kbps < ACX_MIN_MP3_KBPS else False,
                    )
                    for kbps in MP3_BITRATES_KBPS
                ]
            ),
            value=OutputState.output.mp3_bitrate,
            on_change=OutputState.set_mp3_bitrate,
            size="1",
        ),
        rx.text("M4B (AAC)", size="2"),
        rx.select.root(
            rx.select.trigger(id="output-aac-bitrate"),
            rx.select.content(
                *[rx.select.item(f"{kbps} kbps", value=str(kbps)) for kbps in AAC_BITRATES_KBPS]
            ),
            value=OutputState.output.aac_bitrate,
            on_change=OutputState.set_aac_bitrate,
            size="1",
        ),
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _switch(name: str, label: str, hint: str | rx.Var, checked: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.switch(
                checked=checked,
                on_change=lambda on: OutputState.set_switch(name, on),
                id=f"output-{name}",
                size="1",
            ),
            rx.text(label, size="2"),
            rx.text(hint, size="1", color_scheme="gray"),
            align="center",
            spacing="2",
            wrap="wrap",
        )
    )


def _switches() -> rx.Component:
    acx = _switch(
        "acx",
        "ACX mode",
        f"ACX's audio requirements: MP3 at {ACX_MIN_MP3_KBPS} kbps or more",
        OutputState.output.acx,
    )
    rows = []
    for name, label, hint in SWITCHES:
        if name == "readalong":  # only meaningful for an EPUB manuscript: say so for others
            hint = rx.cond(
                OutputState.output.epub,
                hint,
                "made from an EPUB manuscript only: this book is not one",
            )
        rows.append(_switch(name, label, hint, getattr(OutputState.output, name)))
    return rx.vstack(acx, *rows, spacing="1", width="100%")


def output_panel() -> rx.Component:
    """The output block (see the module docstring)."""
    return rx.card(
        rx.vstack(
            rx.heading("Output", size="3"),
            _formats(),
            _mp3_bitrate(),
            _switches(),
            rx.cond(
                OutputState.output_error != "",
                rx.callout(OutputState.output_error, color_scheme="red", id="output-error"),
            ),
            width="100%",
        ),
        on_mount=OutputState.load_output,
        width="100%",
        id="output",
    )
