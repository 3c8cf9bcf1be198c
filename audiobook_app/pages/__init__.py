"""The web app's pages, one module each with its own small substate.

Importing this package registers every page (``@rx.page``) and the substates of parts
of a page (``layout_controls``, ``voice_clone``, ``voice_design``): list a new module
here.
"""

from audiobook_app.pages import (
    account,
    admin,
    api_keys,
    billing,
    book,
    cast_controls,
    index,
    layout_controls,
    lexicon_controls,
    quote_controls,
    reset,
    review,
    signin,
    voice_clone,
    voice_design,
    voices,
)

__all__ = [
    "account",
    "admin",
    "api_keys",
    "billing",
    "book",
    "cast_controls",
    "index",
    "layout_controls",
    "lexicon_controls",
    "quote_controls",
    "reset",
    "review",
    "signin",
    "voice_clone",
    "voice_design",
    "voices",
]
