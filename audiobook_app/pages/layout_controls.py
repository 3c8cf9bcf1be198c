"""The book page's track layout controls, shown before Start: "Split at level" (every
level of the book's outline, an example title each, the default marked), "Merge with
next" on each chapter row, each sub-heading a chapter holds with "Split here", and
"Reset". Handlers call :mod:`audiobook_app.book_layout` in a thread and re-read the
page's view; the chapter list keeps the author's ticks and unsaved titles of chapters
made of the same sections as before (:func:`audiobook_app.tracks.carry_choices`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import reflex as rx

from audiobook_app import book_layout, tracks
from audiobook_app.db.session import session_scope
from audiobook_app.pages.book import BookState, fetch_view
from audiobook_app.state.clients import settings
from pipeline.errors import InputError


def run_edit(edit: Callable, user_id: int, book_id: int, *args: int) -> None:
    """Run one :mod:`audiobook_app.book_layout` edit in its own transaction (blocking).
    Raises what the edit raises."""
    with session_scope(settings().database_url) as session:
        edit(session, user_id, book_id, *args)


class LayoutState(BookState):
    """The layout controls' events; what they show lives in :class:`BookState`
    (``chapters`` with their ``subs``, and ``layout``)."""

    layout_error: str = ""

    async def _edit(self, edit: Callable, *args: int) -> None:
        self.layout_error = ""
        user_id, book_id = self.user_id, self._id()
        try:
            await asyncio.to_thread(run_edit, edit, user_id, book_id, *args)
        except InputError as exc:
            self.layout_error = str(exc)
            return
        before = self.chapters
        if self._apply(await fetch_view(user_id, book_id)):
            self.chapters = tracks.carry_choices(before, self.chapters)

    @rx.event
    async def set_level(self, level: str):
        """Split the book at another level of its outline."""
        await self._edit(book_layout.set_split_level, int(level))

    @rx.event
    async def merge(self, index: int):
        """Join chapter ``index`` and the one after it."""
        await self._edit(book_layout.merge_with_next, index)

    @rx.event
    async def split(self, section: int):
        """Start a new chapter at sub-heading ``section`` (its index in the outline)."""
        await self._edit(book_layout.split_at, section)

    @rx.event
    async def reset_layout(self):
        """Back to the default level, without merges or splits."""
        await self._edit(book_layout.reset_layout)


def _editable() -> rx.Var:
    return BookState.layout.editable & (BookState.job_id == "") & (BookState.status == "ready")


def level_bar() -> rx.Component:
    """The "Split at level" select (books with more than one level) and "Reset"."""
    choices = BookState.layout.levels
    return rx.cond(
        _editable(),
        rx.vstack(
            rx.hstack(
                rx.cond(
                    choices.length() > 0,
                    rx.hstack(
                        rx.text("Split at"),
                        rx.select.root(
                            rx.select.trigger(id="split-level"),
                            rx.select.content(
                                rx.foreach(
                                    choices,
                                    lambda c: rx.select.item(c.label, value=c.value),
                                )
                            ),
                            value=BookState.layout.level,
                            on_change=LayoutState.set_level,
                            size="1",
                        ),
                        align="center",
                        spacing="2",
                    ),
                ),
                rx.cond(BookState.layout.edited, rx.badge("merged / split by hand")),
                rx.button(
                    "Reset",
                    size="1",
                    variant="soft",
                    on_click=LayoutState.reset_layout,
                    id="layout-reset",
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                LayoutState.layout_error != "",
                rx.callout(LayoutState.layout_error, color_scheme="red", id="layout-error"),
            ),
            width="100%",
        ),
    )


def row_controls(c: rx.Var) -> rx.Component:
    """A chapter row's "Merge with next" and its sub-headings with "Split here"."""
    subs = c["subs"].to(list[dict])
    return rx.cond(
        _editable(),
        rx.vstack(
            rx.cond(
                c["index"].to(int) < BookState.chapters.length(),
                rx.button(
                    "Merge with next",
                    size="1",
                    variant="soft",
                    on_click=LayoutState.merge(c["index"]),
                    id=f"chapter-{c['index']}-merge",
                ),
            ),
            rx.foreach(
                subs,
                lambda s: rx.hstack(
                    rx.text(s["title"], size="1", padding_left=s["depth"].to(str) + "em"),
                    rx.button(
                        "Split here",
                        size="1",
                        variant="ghost",
                        on_click=LayoutState.split(s["section"]),
                        id=f"split-at-{s['section']}",
                    ),
                    align="center",
                    spacing="2",
                ),
            ),
            spacing="1",
        ),
    )
