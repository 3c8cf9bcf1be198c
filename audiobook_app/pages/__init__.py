"""The web app's pages, one module each with its own small substate.

Importing this package registers every page (``@rx.page``) and the substates of parts
of a page (``layout_controls``): list a new module here.
"""

from audiobook_app.pages import book, index, layout_controls, reset, signin

__all__ = ["book", "index", "layout_controls", "reset", "signin"]
