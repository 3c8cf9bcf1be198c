"""The Reflex app: pages from :mod:`audiobook_app.pages`, HTTP routes from :mod:`audiobook_app.routes`.

Building ``app`` is all this module does; ``reflex run`` (see ``rxconfig.py``) finds it here.
"""

import reflex as rx

from audiobook_app import pages  # noqa: F401  (each page module registers itself with @rx.page)
from audiobook_app.routes import build_api

app = rx.App(api_transformer=build_api())
