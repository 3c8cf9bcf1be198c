"""The book page's chapter table (``#chapters``): one row per chapter with its tick, its
title (editable; the layout controls' merge/split under it), word count, the status of
the latest job's work on it, and the buttons Text (show it), Preview (convert just this
chapter: :meth:`BookState.preview_chapter`) and Play (once it is playable).

Only drawing here: what the rows hold and what the buttons do is
:class:`~audiobook_app.pages.book.BookState`'s.
"""

from __future__ import annotations

import reflex as rx

from audiobook_app.pages import layout_controls
from audiobook_app.pages.book import BookState

HEADERS = ("", "Chapter", "Words", "Status", "")


def _row(c: rx.Var) -> rx.Component:
    i = c["index"]
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=c["chosen"],
                on_change=lambda _v: BookState.toggle_chapter(i),
                id=f"chapter-{i}-chosen",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.input(
                    value=c["title"],
                    on_change=lambda t: BookState.rename_chapter(i, t),
                    size="1",
                    min_width="12em",
                ),
                layout_controls.row_controls(c),
                spacing="1",
            )
        ),
        rx.table.cell(c["words"], class_name="chapter-words"),
        rx.table.cell(c["status"], id=f"chapter-{i}-status"),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Text",
                    size="1",
                    variant="ghost",
                    on_click=BookState.show_text(i),
                    id=f"chapter-{i}-text",
                ),
                rx.button(
                    "Preview",
                    size="1",
                    variant="soft",
                    disabled=~BookState.can_start,
                    on_click=BookState.preview_chapter(i),
                    id=f"chapter-{i}-preview",
                    title="Convert just this chapter to hear it; the chapters ticked for Start stay",
                ),
                rx.cond(
                    c["file_id"] != 0,
                    rx.button(
                        "Play",
                        size="1",
                        id=f"chapter-{i}-play",
                        on_click=BookState.play(c["file_id"], c["title"], i),
                    ),
                ),
                spacing="2",
                align="center",
            )
        ),
    )


def chapter_table() -> rx.Component:
    """The chapter table with its column headers, scrolling sideways on a phone."""
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in HEADERS]),
            ),
            rx.table.body(rx.foreach(BookState.chapters, _row)),
            width="100%",
            id="chapters",
        ),
        overflow_x="auto",
        width="100%",
    )
