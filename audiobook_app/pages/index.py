"""The author's dashboard: add a manuscript (upload or paste) and the history of books."""

from __future__ import annotations

import asyncio

import reflex as rx

from audiobook_app import PRODUCT_NAME, library
from audiobook_app.db.session import session_scope
from audiobook_app.pages.api_keys import api_keys_section
from audiobook_app.state.auth import AuthState
from audiobook_app.state.clients import redis_conn, settings, storage
from pipeline.errors import InputError

UPLOAD_ID = "manuscript"
ACCEPT = {
    "application/epub+zip": [".epub"],
    "application/pdf": [".pdf"],
    "text/plain": [".txt"],
    "text/markdown": [".md", ".markdown"],
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": [".docx"],
}


def history_rows(user_id: int) -> list[dict]:
    """The history table's rows (blocking): one per book, newest first."""
    with session_scope(settings().database_url) as session:
        rows = []
        for item in library.history(session, user_id):
            book, job = item.book, item.job
            rows.append(
                {
                    "id": book.id,
                    "title": book.title or book.source_filename,
                    "status": str(book.status),
                    "job": str(job.status) if job else "not started",
                    "duration": f"{job.audio_s / 60:.1f} min" if job and job.audio_s else "",
                    "date": book.created_at.strftime("%Y-%m-%d %H:%M"),
                }
            )
        return rows


class DashboardState(AuthState):
    """Upload progress, the paste box, the last error and the history table."""

    books: list[dict] = []
    books_read: bool = False  # the history was read (an empty one says what to do first)
    upload_error: str = ""
    upload_percent: int = 0
    pasted: str = ""
    paste_title: str = ""  # the author's title for the pasted text ("": its first line)

    @rx.event
    async def load(self):
        """on_load: the history table."""
        if self.user_id:
            self.books = await asyncio.to_thread(history_rows, self.user_id)
            self.books_read = True

    @rx.event
    def set_pasted(self, text: str):
        """The paste box's text."""
        self.pasted = text

    @rx.event
    def set_paste_title(self, title: str):
        """The title field of the pasted text."""
        self.paste_title = title

    @rx.var
    def default_paste_title(self) -> str:
        """The title the pasted text gets when the field is left empty (its first line)."""
        return library.pasted_title(self.pasted) if self.pasted.strip() else ""

    @rx.event
    def upload_progress(self, progress: dict):
        """Browser-side upload progress ({"progress": 0..1})."""
        self.upload_percent = round(100 * float(progress.get("progress", 0)))

    async def _added(self, add):
        self.upload_error = ""
        try:
            book_id = await asyncio.to_thread(add)
        except InputError as exc:
            self.upload_error = str(exc)
            return None
        return rx.redirect(f"/books/{book_id}")

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        """Store the dropped or picked manuscript and open its page."""
        if not files:
            self.upload_error = "choose a manuscript first (EPUB, DOCX, PDF, TXT or Markdown)"
            return None
        file = files[0]
        data = await file.read()
        name = file.name or "manuscript"
        user_id = self.user_id
        return await self._added(
            lambda: library.add_manuscript(redis_conn(), settings(), storage(), user_id, name, data)
        )

    @rx.event
    async def add_pasted(self):
        """Store the pasted text as a manuscript titled as the author asked (default: its
        first line), empty the paste box and open the book's page."""
        text, title, user_id = self.pasted, self.paste_title, self.user_id
        opened = await self._added(
            lambda: library.add_pasted_text(
                redis_conn(), settings(), storage(), user_id, text, title=title
            )
        )
        if opened is not None:
            self.pasted, self.paste_title = "", ""
        return opened

    @rx.event
    async def delete(self, book_id: int):
        """Delete a book and its files, then refresh the table."""
        user_id = self.user_id
        await asyncio.to_thread(
            library.delete_book, redis_conn(), settings(), storage(), user_id, book_id
        )
        self.books = await asyncio.to_thread(history_rows, user_id)


def _upload_zone() -> rx.Component:
    return rx.vstack(
        rx.upload(
            rx.vstack(
                rx.text("Drop a manuscript here, or click to choose one"),
                rx.text("EPUB, DOCX, PDF, TXT or Markdown", size="1", color_scheme="gray"),
                align="center",
            ),
            id=UPLOAD_ID,
            accept=ACCEPT,
            multiple=False,
            max_files=1,
            border="2px dashed var(--gray-7)",
            padding="2em",
            width="100%",
        ),
        rx.hstack(rx.foreach(rx.selected_files(UPLOAD_ID), rx.text)),
        rx.button(
            "Upload",
            id="upload-button",
            on_click=DashboardState.upload(
                rx.upload_files(
                    upload_id=UPLOAD_ID, on_upload_progress=DashboardState.upload_progress
                )
            ),
        ),
        rx.cond(
            DashboardState.upload_percent > 0,
            rx.progress(value=DashboardState.upload_percent, width="100%"),
        ),
        rx.text_area(
            placeholder="…or paste the text here",
            value=DashboardState.pasted,
            on_change=DashboardState.set_pasted,
            id="paste",
            width="100%",
        ),
        rx.hstack(
            rx.input(
                placeholder=rx.cond(
                    DashboardState.default_paste_title != "",
                    "Title: " + DashboardState.default_paste_title,
                    "Title (default: the first line)",
                ),
                value=DashboardState.paste_title,
                on_change=DashboardState.set_paste_title,
                id="paste-title",
                flex_grow="1",
            ),
            rx.button(
                "Add pasted text",
                on_click=DashboardState.add_pasted,
                variant="soft",
                id="paste-add",
            ),
            width="100%",
        ),
        rx.cond(
            DashboardState.upload_error != "",
            rx.callout(DashboardState.upload_error, color_scheme="red", id="upload-error"),
        ),
        width="100%",
        spacing="3",
    )


def _history() -> rx.Component:
    return rx.cond(
        DashboardState.books_read & (DashboardState.books.length() == 0),
        rx.callout(
            "No books yet. Start by adding a manuscript above: upload an EPUB, DOCX, PDF, "
            "TXT or Markdown file, or paste its text. Its page then lets you choose "
            "chapters and voices and press Start.",
            icon="book-open",
            id="no-books",
        ),
        _history_table(),
    )


def _history_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("Book", "Manuscript", "Job", "Audio", "Added", "")
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                DashboardState.books,
                lambda b: rx.table.row(
                    rx.table.cell(rx.link(b["title"], href=f"/books/{b['id']}")),
                    rx.table.cell(b["status"]),
                    rx.table.cell(b["job"]),
                    rx.table.cell(b["duration"]),
                    rx.table.cell(b["date"]),
                    rx.table.cell(
                        rx.button(
                            "Delete",
                            size="1",
                            color_scheme="red",
                            variant="soft",
                            on_click=DashboardState.delete(b["id"]),
                        )
                    ),
                ),
            )
        ),
        width="100%",
        id="history",
    )


def header() -> rx.Component:
    """The top bar of signed-in pages: product name, links to the books (the dashboard),
    voices, billing, account (API keys, your data) and, for admins, the admin pages; the
    author's email, sign out."""
    return rx.hstack(
        rx.link(rx.heading(PRODUCT_NAME, size="5", id="product-name"), href="/"),
        rx.link("Books", href="/", size="2", id="nav-books"),
        rx.link("Voices", href="/voices", size="2", id="nav-voices"),
        rx.link("Billing", href="/billing", size="2", id="nav-billing"),
        rx.link("Account", href="/account", size="2", id="nav-account"),
        rx.cond(AuthState.is_admin, rx.link("Admin", href="/admin", size="2", id="nav-admin")),
        rx.spacer(),
        rx.text(AuthState.email, size="2", id="user-email"),
        rx.button("Sign out", size="1", variant="soft", on_click=AuthState.sign_out),
        width="100%",
        align="center",
    )


@rx.page(route="/", title=PRODUCT_NAME, on_load=[AuthState.require_user, DashboardState.load])
def index() -> rx.Component:
    """The dashboard."""
    return rx.container(
        rx.vstack(
            header(),
            rx.heading("New audiobook", size="4"),
            _upload_zone(),
            rx.heading("Your books", size="4"),
            _history(),
            api_keys_section(),
            spacing="4",
            padding_y="1.5em",
        ),
        size="3",
    )
