"""Home page (placeholder until the dashboard): the product's name and a link to /health."""

import reflex as rx

from audiobook_app.routes import HEALTH_PATH

PRODUCT_NAME = "AudiobookPipeline"


class IndexState(rx.State):
    """What the home page shows."""

    product_name: str = PRODUCT_NAME
    tagline: str = "Manuscripts in, mastered chaptered audiobooks out."


@rx.page(route="/", title=PRODUCT_NAME)
def index() -> rx.Component:
    """The home page."""
    return rx.container(
        rx.vstack(
            rx.heading(IndexState.product_name, size="8", id="product-name"),
            rx.text(IndexState.tagline),
            # A document load, not client-side routing: /health is an API route, not a page.
            rx.link("Platform health", href=HEALTH_PATH, reload_document=True, id="health-link"),
            spacing="4",
            padding_y="3em",
        ),
    )
