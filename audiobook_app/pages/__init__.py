"""The web app's pages, one module each with its own small substate.

Importing this package registers every page (``@rx.page``); add a module's import here.
"""

from audiobook_app.pages import index  # noqa: F401
