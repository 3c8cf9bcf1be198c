"""The Voices page's clone form: a name, a recording (WAV, MP3, M4A or FLAC, 10 s to
5 min, at most 50 MB, uploaded with Reflex's upload) and its transcript, or none to have
it transcribed on the server. A refusal shows the library's own message (too short, too
long, silent, clipped, not audio, too big); a clone joins the list and the try-a-voice
picker.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from audiobook_app import voice_library
from audiobook_app.pages.voices import VoicesState, in_session
from audiobook_app.state.clients import settings, storage
from pipeline.errors import AudiobookError

log = logging.getLogger(__name__)
CLONE_UPLOAD_ID = "clone-upload"
ACCEPT_AUDIO = {
    "audio/wav": [".wav"],
    "audio/mpeg": [".mp3"],
    "audio/mp4": [".m4a"],
    "audio/flac": [".flac"],
}


class CloneState(VoicesState):
    """The clone form's fields, its refusal and whether a clone is being made."""

    clone_name: str = ""
    clone_transcript: str = ""
    clone_error: str = ""
    clone_busy: bool = False

    @rx.event
    def set_clone_name(self, name: str):
        """The clone form's name field."""
        self.clone_name = name

    @rx.event
    def set_clone_transcript(self, text: str):
        """The clone form's transcript (empty: transcribe the recording)."""
        self.clone_transcript = text

    @rx.event
    async def upload_clone(self, files: list[rx.UploadFile]):
        """Clone a voice from the chosen recording; the refusal, if any, says why."""
        self.clone_error = ""
        if not files:
            self.clone_error = "choose a recording first (WAV, MP3, M4A or FLAC, 10 s to 5 min)"
            return
        data, filename = await files[0].read(), files[0].name or "recording"
        user_id, name, transcript = self.user_id, self.clone_name, self.clone_transcript
        self.clone_busy = True
        yield
        try:
            entry = await asyncio.to_thread(
                in_session,
                voice_library.create_clone,
                settings(),
                storage(),
                user_id,
                name,
                data,
                filename,
                transcript,
            )
        except AudiobookError as exc:  # refusals, and a failed transcription or store
            log.info("clone refused for user %s: %s", user_id, exc)
            self.clone_error = str(exc)
            return
        finally:
            self.clone_busy = False
        self.clone_name, self.clone_transcript = "", ""
        await self._refresh()
        self.try_voice_id = entry.id
        yield rx.clear_selected_files(CLONE_UPLOAD_ID)


def clone_form() -> rx.Component:
    """The clone card."""
    return rx.card(
        rx.vstack(
            rx.heading("Clone a voice", size="3"),
            rx.text(
                "A recording of one speaker: WAV, MP3, M4A or FLAC, 10 s to 5 min, at most "
                "50 MB, and what they say (leave it empty to have it transcribed).",
                size="2",
            ),
            rx.input(
                placeholder="Name",
                value=CloneState.clone_name,
                on_change=CloneState.set_clone_name,
                id="clone-name",
            ),
            rx.upload(
                rx.text("Drop the recording here, or click to choose it"),
                id=CLONE_UPLOAD_ID,
                accept=ACCEPT_AUDIO,
                multiple=False,
                max_files=1,
                border="2px dashed var(--gray-7)",
                padding="1em",
                width="100%",
            ),
            rx.hstack(rx.foreach(rx.selected_files(CLONE_UPLOAD_ID), rx.text)),
            rx.text_area(
                placeholder="Transcript (empty: transcribe it for me)",
                value=CloneState.clone_transcript,
                on_change=CloneState.set_clone_transcript,
                id="clone-transcript",
                width="100%",
            ),
            rx.button(
                "Clone",
                id="clone-button",
                loading=CloneState.clone_busy,
                on_click=CloneState.upload_clone(rx.upload_files(upload_id=CLONE_UPLOAD_ID)),
            ),
            rx.cond(
                CloneState.clone_error != "",
                rx.callout(CloneState.clone_error, color_scheme="red", id="clone-error"),
            ),
            width="100%",
        ),
        width="100%",
    )
