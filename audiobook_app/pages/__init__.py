"""The web app's pages, one module each with its own small substate.

Importing this package registers every page (``@rx.page``) and the substates of parts
of a page (``layout_controls``, ``voice_clone``, ``voice_design``): list a new module
here.
"""

from audiobook_app.pages import (
    book,
    cast_controls,
    index,
    layout_controls,
    lexicon_controls,
    reset,
    signin,
    voice_clone,
    voice_design,
    voices,
)

__all__ = [
    "book",
    "cast_controls",
    "index",
    "layout_controls",
    "lexicon_controls",
    "reset",
    "signin",
    "voice_clone",
    "voice_design",
    "voices",
]
