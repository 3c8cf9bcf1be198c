"""The Reflex app: pages from :mod:`audiobook_app.pages`, HTTP routes from :mod:`audiobook_app.routes`.

Building ``app`` is all this module does; ``reflex run`` (see ``rxconfig.py``) finds it here.
"""

import asyncio
import importlib

import reflex as rx

from audiobook_app.routes import build_api
from audiobook_app.state.auth import ensure_configured_admin

importlib.import_module("audiobook_app.pages")  # each page module registers itself (@rx.page)


async def _first_admin_from_settings() -> None:
    await asyncio.to_thread(ensure_configured_admin)


app = rx.App(api_transformer=build_api())
app.register_lifespan_task(_first_admin_from_settings)
