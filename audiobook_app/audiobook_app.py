"""The Reflex app: pages from :mod:`audiobook_app.pages`, HTTP routes from :mod:`audiobook_app.routes`.

Building ``app`` is all this module does; ``reflex run`` (see ``rxconfig.py``) finds it here.
"""

import importlib

import reflex as rx

from audiobook_app.routes import build_api

importlib.import_module("audiobook_app.pages")  # each page module registers itself (@rx.page)

app = rx.App(api_transformer=build_api())
