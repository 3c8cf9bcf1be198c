"""Buying credits through Stripe Checkout, and Stripe's webhook that credits the purchase.

Buying: :func:`create_checkout` creates a Checkout Session (mode ``payment``, one line
item priced from the pack) and returns its URL; the author pays on Stripe's page and
comes back to ``/billing?checkout=success``. Nothing is credited then: only the
webhook, whose signature proves it comes from Stripe, credits.

The webhook (``POST /api/v1/billing/stripe/webhook``; register that URL at Stripe for
the events ``checkout.session.completed``, ``checkout.session.async_payment_succeeded``
and ``charge.refunded``): :func:`handle_webhook` verifies the ``Stripe-Signature``
header (HMAC-SHA256 with the endpoint secret, timestamp at most
:data:`WEBHOOK_TOLERANCE_S` old: Stripe's default), then

* a paid Checkout Session is credited once, keyed ``stripe:cs:<session id>``
  (:func:`ledger.credit_purchase`), however often Stripe retries or replays the event,
  concurrent deliveries included (the ledger locks the account; the key is unique);
* a refund of its charge takes back the same share of its credits. A charge's
  ``amount_refunded`` is cumulative, so each refund event is keyed by that total
  (``stripe:refund:<payment intent>:<refunded cents>``): a replay finds its key, a
  second partial refund has a larger total, and an older event arriving after a newer
  one reverses nothing (what it refunded is inside the newer total). The credits
  reversed for a purchase never exceed ``ceil(credits * refunded / amount)``;
* other event types, and sessions this app did not create, are acknowledged and ignored.

Every credit movement is a ledger row with its audit row (:mod:`.ledger`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from audiobook_app.billing import ledger
from audiobook_app.db.models import LedgerEntry, LedgerReason, User
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import PaymentProviderError, PaymentsDisabledError, WebhookError

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_S = 300  # Stripe's default: older signed timestamps are replays
STRIPE_TIMEOUT_S = 20.0  # one request to Stripe (the author waits on the Buy button)
STRIPE_RETRIES = 2  # network retries; stripe-python sends an idempotency key with each
PURCHASE_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_EVENT = "charge.refunded"


def checkout_ref(session_id: str) -> str:
    """The ledger key of the purchase paid through Checkout Session ``session_id``."""
    return f"stripe:cs:{session_id}"


def refund_ref(payment_intent: str, refunded_cents: int | None = None) -> str:
    """The ledger key of a refund event: the payment and the charge's refunded total
    (without the total: the prefix every refund key of that payment starts with)."""
    prefix = f"stripe:refund:{payment_intent}:"
    return prefix if refunded_cents is None else f"{prefix}{refunded_cents}"


@dataclass(frozen=True)
class CheckoutLink:
    """A Checkout Session just created: its id and the Stripe page to send the author to."""

    id: str
    url: str


@dataclass(frozen=True)
class WebhookOutcome:
    """What one webhook delivery did: ``action`` is ``credited``, ``reversed``,
    ``duplicate`` (done before: a retry or replay) or ``ignored``; ``credits`` moved
    (+ credited, - reversed, 0 otherwise)."""

    event_id: str
    event_type: str
    action: str
    credits: int = 0


def _client(settings: Settings) -> stripe.StripeClient:
    assert settings.stripe_secret_key is not None
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
        max_network_retries=STRIPE_RETRIES,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_S),
    )


def create_checkout(
    settings: Settings, user_id: int, pack_id: str, *, email: str | None = None
) -> CheckoutLink:
    """Create a Stripe Checkout Session selling pack ``pack_id`` to user ``user_id``
    (``email`` pre-fills Stripe's form) and return its id and URL. The pack's credits
    are credited later, by the webhook. Raises PaymentsDisabledError when no Stripe keys
    are configured, NotFoundError for an unknown pack, PaymentProviderError when Stripe
    is unreachable or refuses (the message says which; nothing was charged)."""
    if not settings.payments_enabled:
        raise PaymentsDisabledError("payments are off on this server: ask an admin for credits")
    pack = settings.credit_pack(pack_id)
    metadata = {"user_id": str(user_id), "pack_id": pack.id, "credits": str(pack.credits)}
    base = settings.public_base_url.rstrip("/")
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.currency,
                    "unit_amount": pack.price_cents,
                    "product_data": {"name": f"{pack.credits} credits"},
                },
            }
        ],
        "client_reference_id": str(user_id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        # Stripe fills in {CHECKOUT_SESSION_ID} when it sends the author back
        "success_url": f"{base}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/billing?checkout=cancelled",
    }
    if email:
        params["customer_email"] = email
    try:
        created = _client(settings).v1.checkout.sessions.create(params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        log.warning("Stripe refused a Checkout Session for user %s: %r", user_id, exc)
        raise PaymentProviderError(
            f"Stripe could not start the payment ({exc.user_message or 'no answer'}): "
            "nothing was charged, try again in a minute"
        ) from exc
    if not created.url:
        raise PaymentProviderError(f"Stripe returned Checkout Session {created.id} without a URL")
    return CheckoutLink(created.id, created.url)


def verify_event(settings: Settings, payload: bytes, signature_header: str) -> dict:
    """The event ``payload`` carries, as a plain dict, once its ``Stripe-Signature``
    header is verified. Raises WebhookError (missing secret or header, wrong signature,
    tampered body, timestamp older than :data:`WEBHOOK_TOLERANCE_S`, unreadable body)."""
    if settings.stripe_webhook_secret is None:
        raise WebhookError("webhooks are not accepted: AUDIOBOOK_STRIPE_WEBHOOK_SECRET is not set")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            signature_header,
            settings.stripe_webhook_secret.get_secret_value(),
            tolerance=WEBHOOK_TOLERANCE_S,
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookError(f"Stripe signature rejected: {exc.user_message}") from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise WebhookError("the webhook body is not a JSON Stripe event") from None
    return event.to_dict()


def handle_webhook(
    session: Session, settings: Settings, payload: bytes, signature_header: str
) -> WebhookOutcome:
    """Verify one webhook delivery (:func:`verify_event`) and apply it in ``session``
    (see the module docstring for the rules). Raises WebhookError before anything is
    read or written when the delivery is not Stripe's."""
    event = verify_event(settings, payload, signature_header)
    event_id, event_type = str(event.get("id", "")), str(event.get("type", ""))
    obj = (event.get("data") or {}).get("object") or {}
    if event_type in PURCHASE_EVENTS:
        action, credits = _purchase(session, event_id, obj)
    elif event_type == REFUND_EVENT:
        action, credits = _refund(session, obj)
    else:
        action, credits = "ignored", 0
    log.info("Stripe event %s (%s): %s %+d credits", event_id, event_type, action, credits)
    return WebhookOutcome(event_id, event_type, action, credits)


def deliver_webhook(settings: Settings, payload: bytes, signature_header: str) -> WebhookOutcome:
    """:func:`handle_webhook` in its own transaction (blocking). A delivery that loses
    a race on a unique ledger key to a concurrent one runs once more and finds it done."""

    def once() -> WebhookOutcome:
        with session_scope(settings.database_url) as session:
            return handle_webhook(session, settings, payload, signature_header)

    try:
        return once()
    except IntegrityError:
        return once()


def _purchase(session: Session, event_id: str, obj: dict) -> tuple[str, int]:
    """Credit a paid Checkout Session created by :func:`create_checkout`."""
    metadata = obj.get("metadata") or {}
    try:
        user_id, credits = int(metadata["user_id"]), int(metadata["credits"])
    except (KeyError, TypeError, ValueError):
        return "ignored", 0  # not one of ours (another product on the same Stripe account)
    if obj.get("mode") != "payment" or obj.get("payment_status") != "paid" or credits <= 0:
        return "ignored", 0  # e.g. a bank debit still pending: async_payment_succeeded follows
    if session.get(User, user_id) is None:
        log.warning("Stripe session %s paid for unknown user %s", obj.get("id"), user_id)
        return "ignored", 0
    entry = ledger.credit_purchase(
        session,
        user_id,
        credits,
        checkout_ref(str(obj["id"])),
        {
            "pack": metadata.get("pack_id"),
            "amount_cents": obj.get("amount_total"),
            "currency": obj.get("currency"),
            "payment_intent": obj.get("payment_intent"),
            "checkout_session": obj["id"],
            "event_id": event_id,
        },
    )
    return ("credited", credits) if entry else ("duplicate", 0)


def _refund(session: Session, charge: dict) -> tuple[str, int]:
    """Reverse the refunded share of the purchase the charge paid (module docstring)."""
    payment_intent, amount = charge.get("payment_intent"), int(charge.get("amount") or 0)
    refunded = min(int(charge.get("amount_refunded") or 0), amount)
    purchase = ledger.purchase_by_payment(session, payment_intent) if payment_intent else None
    if purchase is None or refunded <= 0:
        return "ignored", 0
    ref = refund_ref(payment_intent, refunded)
    ledger.lock_account(session, purchase.user_id)  # refunds of one purchase in turn
    earlier = session.exec(
        select(LedgerEntry).where(
            LedgerEntry.reason == LedgerReason.REFUND,
            col(LedgerEntry.external_ref).startswith(refund_ref(payment_intent)),
        )
    ).all()
    if any(e.external_ref == ref for e in earlier):
        return "duplicate", 0
    target = min(-(-purchase.delta * refunded // amount), purchase.delta)  # ceil, in integers
    needed = target - sum(-e.delta for e in earlier)
    if needed <= 0:
        return "duplicate", 0  # an older refund event: a newer total was reversed already
    entry = ledger.reverse_purchase(session, purchase, needed, ref)
    return ("reversed", entry.delta) if entry else ("duplicate", 0)
