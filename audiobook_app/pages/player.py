"""The book page's one audio player: the chapter the author chose with Play (it starts
playing at once) or the one they last listened to (it reopens, paused, where they left it).

The state lives in :class:`~audiobook_app.pages.book.BookState` (``player_src``,
``player_title``, ``player_index``, ``resume_s``, ``player_autoplay``); this module only
draws it. Keys: Space play/pause, ←/→ 15 s back/forward (not while typing in a field).
"""

from __future__ import annotations

import reflex as rx

from audiobook_app.pages.book import SPEEDS, BookState

# On pause the hidden #save-position button sends the position to the server; on load
# the player seeks to #resume-at. Media events do not bubble: the listeners capture them.
PLAYER_SCRIPT = """if (!window.__abPlayer) {
  window.__abPlayer = true;
  document.addEventListener('keydown', (e) => {
    const a = document.getElementById('player');
    if (!a || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(e.target.tagName)) return;
    if (e.key === ' ') { e.preventDefault(); a.paused ? a.play() : a.pause(); }
    else if (e.key === 'ArrowLeft') { a.currentTime = Math.max(0, a.currentTime - 15); }
    else if (e.key === 'ArrowRight') { a.currentTime += 15; }
  });
  document.addEventListener('pause', (e) => {
    if (e.target.id === 'player') document.getElementById('save-position').click();
  }, true);
  document.addEventListener('loadedmetadata', (e) => {
    if (e.target.id !== 'player') return;
    const at = parseFloat(document.getElementById('resume-at').textContent || '0');
    if (at > 0 && at < e.target.duration) e.target.currentTime = at;
  }, true);
}"""
SEEK = "document.getElementById('player').currentTime += {}"


def player() -> rx.Component:
    """The player card (``#player``), shown once a chapter is loaded."""
    return rx.cond(
        BookState.player_src != "",
        rx.card(
            rx.vstack(
                rx.script(PLAYER_SCRIPT),
                rx.el.span(BookState.resume_s, id="resume-at", hidden=True),
                rx.el.button(
                    id="save-position",
                    hidden=True,
                    on_click=rx.call_script(
                        "document.getElementById('player').currentTime",
                        callback=BookState.save_position,
                    ),
                ),
                rx.text(BookState.player_title, weight="bold", id="player-title"),
                rx.el.audio(
                    src=BookState.player_src,
                    controls=True,
                    auto_play=BookState.player_autoplay,
                    id="player",
                    preload="metadata",
                    width="100%",
                ),
                rx.hstack(
                    rx.button("−15 s", size="1", on_click=rx.call_script(SEEK.format(-15))),
                    rx.button("+15 s", size="1", on_click=rx.call_script(SEEK.format(15))),
                    rx.select(
                        SPEEDS,
                        default_value="1",
                        size="1",
                        on_change=lambda v: rx.call_script(
                            "document.getElementById('player').playbackRate = " + v
                        ),
                    ),
                    rx.text("Space play/pause · ← → 15 s", size="1", color_scheme="gray"),
                    spacing="2",
                ),
                width="100%",
            ),
            width="100%",
        ),
    )
