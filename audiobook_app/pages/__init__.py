"""The web app's pages, one module each with its own small substate.

Importing this package registers every page (``@rx.page``): list a new module here.
"""

from audiobook_app.pages import book, index, reset, signin

__all__ = ["book", "index", "reset", "signin"]
