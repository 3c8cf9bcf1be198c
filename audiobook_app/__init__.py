"""AudiobookPipeline's application layer: the ``audiobook`` CLI, the jobs platform and the
Reflex web app. Importing this package imports neither Reflex nor any page."""

PRODUCT_NAME = "AudiobookPipeline"
