"""AudiobookPipeline's application layer: the ``audiobook`` CLI now, the Reflex web app
later. Importing this package imports neither Reflex nor any page."""
