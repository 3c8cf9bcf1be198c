"""``/api/v1/books/{book_id}/output``: a book's output choices, which files a conversion
of it writes (audio formats, MP3 and M4B bitrates, ACX mode, credits, retail sample,
subtitles, read-along EPUB, Audiobookshelf export). ``GET`` reads them, ``PUT`` stores
the choices sent (those left out keep their stored value); jobs started afterwards run
with them. A body with an unknown field or a value of the wrong type is 422; a choice
the service refuses (128 kbps in ACX mode, an unknown format, a retail sample without
chapter files) is 400 with its message. Service: :mod:`audiobook_app.book_output` (what
the book page's output block calls). Routes run in FastAPI's thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from audiobook_app import book_output
from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import AUTHED, MAX_ID, errors
from audiobook_app.db.session import session_scope
from audiobook_app.settings import get_settings
from pipeline.config import OutputConfig

router = APIRouter(tags=["books"], responses=AUTHED)
BookId = Annotated[int, Path(ge=1, le=MAX_ID, description="a book id")]


class OutputOut(BaseModel):
    """A book's output choices (see :class:`pipeline.config.OutputConfig`): ``formats``
    (some of m4b, mp3, wav, flac), ``mp3_bitrate_kbps`` (128, 192 or 320),
    ``aac_bitrate_kbps`` (the M4B's AAC, mono 22050 Hz), ``acx`` (ACX's targets: MP3 at
    192 kbps or more), ``credits`` (opening and closing credits tracks),
    ``retail_sample`` (sample.mp3, up to 5 minutes), ``subtitles`` (WebVTT and SRT per
    chapter), ``readalong`` (an EPUB 3 with Media Overlays, for EPUB manuscripts only),
    ``audiobookshelf`` (abs.zip, the book as Audiobookshelf scans it)."""

    formats: list[str]
    mp3_bitrate_kbps: int
    aac_bitrate_kbps: int
    acx: bool
    credits: bool
    retail_sample: bool
    subtitles: bool
    readalong: bool
    audiobookshelf: bool


class OutputIn(BaseModel):
    """Some of a book's output choices (:class:`OutputOut`'s fields); those left out keep
    their stored value. An unknown field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    formats: list[str] | None = Field(default=None, max_length=8)
    mp3_bitrate_kbps: int | None = None
    aac_bitrate_kbps: int | None = None
    acx: bool | None = None
    credits: bool | None = None
    retail_sample: bool | None = None
    subtitles: bool | None = None
    readalong: bool | None = None
    audiobookshelf: bool | None = None


def output_out(config: OutputConfig) -> OutputOut:
    """The API's view of a book's output choices."""
    return OutputOut(**{**config.model_dump(), "formats": list(config.formats)})


@router.get("/books/{book_id}/output", response_model=OutputOut, responses=errors(404))
def get_output(caller: CallerDep, book_id: BookId) -> OutputOut:
    """The book's output choices: those stored over the defaults."""
    with session_scope(get_settings().database_url) as session:
        return output_out(book_output.output_choices(session, caller.user_id, book_id))


@router.put("/books/{book_id}/output", response_model=OutputOut, responses=errors(400, 404))
def put_output(caller: CallerDep, book_id: BookId, body: OutputIn) -> OutputOut:
    """Store the choices sent (fields left out, or null, keep their stored value) and
    return all of them; they apply from the book's next conversion."""
    choices = body.model_dump(exclude_none=True)
    with session_scope(get_settings().database_url) as session:
        saved = book_output.save_output_choices(session, caller.user_id, book_id, choices)
        return output_out(saved)
