"""AudiobookPipeline's pure library: manuscript bytes in, mastered audiobook files out.

Stages (one module or package each, typed frozen dataclasses between them, see
``pipeline.models``)::

    parse -> analyze -> annotate -> voices -> segment -> generate -> assemble -> validate

This package never imports reflex, rq or the ORM: the CLI, the workers and the web app
are thin layers on top of it.
"""
