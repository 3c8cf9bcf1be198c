"""The Reflex app: pages from :mod:`audiobook_app.pages`, HTTP routes from :mod:`audiobook_app.routes`.

Building ``app`` is all this module does; ``reflex run`` (see ``rxconfig.py``) finds it here.

The pages' ``@rx.page`` registrations are added to ``app`` here, once, and taken off
Reflex's list of decorated pages: Reflex adds that list to the app at every compile,
and in prod its backend workers are forked from the process that compiled the app
already, so each worker would add every page a second time ("Page … is being redefined
with the same component", once per page and worker).
"""

import asyncio
import importlib

import reflex as rx
from reflex_base.registry import RegistrationContext

from audiobook_app.routes import build_api
from audiobook_app.state.auth import ensure_configured_admin

importlib.import_module("audiobook_app.pages")  # each page module registers itself (@rx.page)


async def _first_admin_from_settings() -> None:
    await asyncio.to_thread(ensure_configured_admin)


def _add_pages(app: rx.App) -> None:
    """Add the ``@rx.page`` pages to ``app`` now and clear Reflex's list of them (see
    the module docstring)."""
    decorated = RegistrationContext.ensure_context().decorated_pages
    for render, kwargs in decorated:
        app.add_page(render, **kwargs)
    decorated.clear()


app = rx.App(api_transformer=build_api())
app.register_lifespan_task(_first_admin_from_settings)
_add_pages(app)
