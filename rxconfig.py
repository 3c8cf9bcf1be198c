"""Reflex configuration of the web app (read by every ``reflex`` command, from the repo root).

The port comes from the one settings object (``AUDIOBOOK_WEB_PORT``, default 3000): in
prod mode (``reflex run --env prod``, what ``make run`` starts) pages, the websocket,
``/_upload`` and our ``/health`` share that one port; dev mode (``reflex run``) serves the
frontend there and the backend on Reflex's default 8000.

The address comes from there too (``AUDIOBOOK_WEB_HOST``, default 127.0.0.1: this
machine only; Reflex's own default would be 0.0.0.0). In prod mode the backend serves
everything, so it is the one address that listens; the Docker image sets 0.0.0.0.

Deliberately left unset:

* ``db_url``: the app reaches the database through ``audiobook_app.db`` (our settings'
  ``DATABASE_URL``, migrated by ``audiobook db upgrade``), never through ``rx.Model``.
  Setting it would make Reflex run its own Alembic autogenerate check against our
  ``alembic.ini`` at start.
* ``redis_url``: page state stays on disk with one backend worker (the single-machine
  setup). A web tier of several processes or machines needs ``REFLEX_REDIS_URL``.

The sitemap plugin is off: the studio is a private app, not pages for search engines.
"""

import reflex as rx

from audiobook_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="audiobook_app",
    frontend_port=_settings.web_port,  # prod serves everything here; dev adds a backend on 8000
    backend_host=_settings.web_host,
    show_built_with_reflex=False,
    telemetry_enabled=False,
    plugins=[rx.plugins.RadixThemesPlugin()],  # the pages use Radix components
    disable_plugins=[rx.plugins.SitemapPlugin],
)
