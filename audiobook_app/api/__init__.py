"""The public REST API, ``/api/v1/`` (FastAPI, mounted in Reflex's backend by
:func:`audiobook_app.routes.build_api`). OpenAPI: ``/api/v1/openapi.json``; docs:
``/api/v1/docs``. Routers call the same service functions as the pages, never the pages.
"""
