"""Buying credits: ``POST /api/v1/billing/checkout`` (an API key's owner gets a Stripe
Checkout URL for a credit pack) and ``POST /api/v1/billing/stripe/webhook`` (Stripe's
signed events; outside the OpenAPI document, it answers to Stripe's signature, not a
key). Both call :mod:`audiobook_app.billing.stripe_checkout`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from audiobook_app.api.deps import CallerDep
from audiobook_app.api.schemas import errors
from audiobook_app.billing import stripe_checkout
from audiobook_app.settings import get_settings

router = APIRouter(tags=["billing"])
WEBHOOK_PATH = "/billing/stripe/webhook"  # under /api/v1: the URL to register at Stripe


class CheckoutRequest(BaseModel):
    """Which credit pack to buy (an id of ``AUDIOBOOK_CREDIT_PACKS``, e.g. ``hour-5``)."""

    pack_id: str = Field(min_length=1, max_length=32)


class CheckoutResponse(BaseModel):
    """The Checkout Session: send the buyer to ``url`` (Stripe's payment page). The
    credits are added when Stripe confirms the payment, not before."""

    id: str
    url: str


class WebhookReceipt(BaseModel):
    """What the delivery did (``credited``, ``reversed``, ``duplicate`` or ``ignored``)."""

    received: bool = True
    event_id: str
    action: str


@router.post(
    "/billing/checkout",
    response_model=CheckoutResponse,
    status_code=201,
    responses=errors(404, 409),
)
async def create_checkout(body: CheckoutRequest, caller: CallerDep) -> CheckoutResponse:
    """Start buying a credit pack. 409 when payments are off (an admin grants credits
    instead), 404 for an unknown pack, 503 when Stripe does not answer."""
    link = await run_in_threadpool(
        stripe_checkout.create_checkout,
        get_settings(),
        caller.user_id,
        body.pack_id,
        email=caller.email,
    )
    return CheckoutResponse(id=link.id, url=link.url)


@router.post(WEBHOOK_PATH, response_model=WebhookReceipt, include_in_schema=False)
async def stripe_webhook(request: Request) -> WebhookReceipt:
    """Stripe's events, verified by signature over the raw body: 400 (nothing applied)
    when the signature, its timestamp or the body is wrong; 200 otherwise, also for
    repeats and event types this app does not use (Stripe then stops retrying)."""
    payload = await request.body()
    signature = request.headers.get("stripe-signature", "")
    outcome = await run_in_threadpool(
        stripe_checkout.deliver_webhook, get_settings(), payload, signature
    )
    return WebhookReceipt(event_id=outcome.event_id, action=outcome.action)
