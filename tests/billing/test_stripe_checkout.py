"""Stripe Checkout and the webhook, in process, on SQLite and PostgreSQL: the Checkout
request stripe-python sends (to the fake Stripe server), its failures, and the webhook's
rules: signature checks, a purchase credited once however often it is delivered
(concurrent deliveries included), refunds reversed once each, other events ignored."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import select

from audiobook_app.billing import ledger
from audiobook_app.billing.stripe_checkout import (
    checkout_ref,
    create_checkout,
    deliver_webhook,
    handle_webhook,
)
from audiobook_app.db.models import AuditLog, LedgerEntry, LedgerReason
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import (
    NotFoundError,
    PaymentProviderError,
    PaymentsDisabledError,
    WebhookError,
)
from tests.billing.fake_stripe import (
    SECRET_KEY,
    FakeStripe,
    event,
    paid_session,
    refunded_charge,
    signed,
)

FREE = 60  # Settings.free_credits: the author's balance before buying


def _deliver(settings: Settings, body: bytes, header: str | None = None):
    with session_scope(settings.database_url) as session:
        return handle_webhook(session, settings, body, signed(body) if header is None else header)


def _balance(settings: Settings, user_id: int) -> int:
    with session_scope(settings.database_url) as session:
        return ledger.balance(session, user_id)


def _rows(settings: Settings, user_id: int, reason: LedgerReason) -> list[LedgerEntry]:
    with session_scope(settings.database_url) as session:
        query = select(LedgerEntry).where(
            LedgerEntry.user_id == user_id, LedgerEntry.reason == reason
        )
        return list(session.exec(query).all())


# --- Checkout ------------------------------------------------------------------------


def test_checkout_session_is_created_with_the_pack_price_and_our_references(
    settings: Settings, fake_stripe: FakeStripe, author: int
) -> None:
    link = create_checkout(settings, author, "book-20", email="buyer@example.com")

    assert link.url == f"{fake_stripe.url}/pay/{link.id}" and link.id.startswith("cs_test_")
    (sent,) = fake_stripe.checkout_requests()
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers.get("Idempotency-Key")  # retries cannot create two sessions
    form = sent.form
    assert form["mode"] == "payment"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][unit_amount]"] == "2000"
    assert form["line_items[0][price_data][product_data][name]"] == "300 credits"
    assert form["client_reference_id"] == str(author)
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert form[f"{prefix}[user_id]"] == str(author)
        assert form[f"{prefix}[pack_id]"] == "book-20"
        assert form[f"{prefix}[credits]"] == "300"
    assert form["customer_email"] == "buyer@example.com"
    assert form["success_url"] == (
        "https://studio.example.com/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}"
    )
    assert form["cancel_url"] == "https://studio.example.com/billing?checkout=cancelled"
    assert _balance(settings, author) == FREE  # nothing is credited before the webhook


def test_checkout_refused_without_keys_or_pack_and_when_stripe_fails(
    settings: Settings, fake_stripe: FakeStripe, author: int
) -> None:
    off = settings.model_copy(update={"stripe_secret_key": None})
    with pytest.raises(PaymentsDisabledError, match="ask an admin"):
        create_checkout(off, author, "hour-5")
    with pytest.raises(NotFoundError, match="no credit pack 'gold'.*hour-5"):
        create_checkout(settings, author, "gold")
    assert fake_stripe.checkout_requests() == []

    fake_stripe.fail_status = 400  # Stripe refuses (not retried)
    with pytest.raises(PaymentProviderError, match="The fake Stripe refuses.*nothing was charged"):
        create_checkout(settings, author, "hour-5")
    unreachable = settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    with pytest.raises(PaymentProviderError, match="could not start the payment"):
        create_checkout(unreachable, author, "hour-5")


# --- Webhook: signature ----------------------------------------------------------------


def test_bad_signatures_are_refused_and_credit_nothing(settings: Settings, author: int) -> None:
    body = event("checkout.session.completed", paid_session(author, 60))
    now = int(time.time())
    refused = {  # why: (the body sent, its Stripe-Signature header)
        "wrong secret": (body, signed(body, secret="whsec_someone_else")),
        "tampered body": (body.replace(b'"60"', b'"6000"'), signed(body)),
        "stale timestamp": (body, signed(body, timestamp=now - 301)),
        "no header": (body, ""),
        "garbage header": (body, "t=abc,v1="),
        "other scheme only": (body, signed(body).replace("v1=", "v0=")),
    }
    for why, (sent, header) in refused.items():
        with pytest.raises(WebhookError, match="Stripe signature rejected"):
            _deliver(settings, sent, header)
            pytest.fail(f"accepted with {why}")
    with pytest.raises(WebhookError, match="not a JSON Stripe event"):
        _deliver(settings, b"\xff\xfe not json")
    assert _balance(settings, author) == FREE
    assert _rows(settings, author, LedgerReason.PURCHASE) == []

    no_secret = settings.model_copy(update={"stripe_webhook_secret": None})
    with pytest.raises(WebhookError, match="AUDIOBOOK_STRIPE_WEBHOOK_SECRET"):
        _deliver(no_secret, body)


# --- Webhook: purchases ------------------------------------------------------------------


def test_completed_session_is_credited_once_with_its_details(
    settings: Settings, author: int
) -> None:
    obj = paid_session(author, 60, amount_cents=500, payment_intent="pi_once")
    body = event("checkout.session.completed", obj, event_id="evt_first")

    outcomes = [_deliver(settings, body).action for _ in range(10)]  # Stripe retries
    replay = event("checkout.session.completed", obj)  # the same session, a new event id
    outcomes.append(_deliver(settings, replay).action)

    assert outcomes == ["credited"] + ["duplicate"] * 10
    assert _balance(settings, author) == FREE + 60
    (purchase,) = _rows(settings, author, LedgerReason.PURCHASE)
    assert purchase.delta == 60 and purchase.external_ref == checkout_ref(obj["id"])
    assert purchase.detail == {
        "pack": "hour-5",
        "amount_cents": 500,
        "currency": "usd",
        "payment_intent": "pi_once",
        "checkout_session": obj["id"],
        "event_id": "evt_first",
    }
    with session_scope(settings.database_url) as session:
        audits = session.exec(select(AuditLog).where(AuditLog.action == "credits.purchase")).all()
    assert [(a.target_id, a.detail["delta"]) for a in audits] == [(str(author), 60)]


def test_unpaid_session_waits_for_async_payment(settings: Settings, author: int) -> None:
    pending = paid_session(author, 300, payment_status="unpaid")
    assert _deliver(settings, event("checkout.session.completed", pending)).action == "ignored"
    assert _balance(settings, author) == FREE
    paid = {**pending, "payment_status": "paid"}
    body = event("checkout.session.async_payment_succeeded", paid)
    assert _deliver(settings, body).credits == 300
    assert _balance(settings, author) == FREE + 300


def test_unknown_events_and_foreign_sessions_are_acknowledged_and_ignored(
    settings: Settings, author: int
) -> None:
    foreign = {**paid_session(author, 60), "metadata": {}}  # another product's session
    nobody = paid_session(987654, 60)  # a user that does not exist (deleted)
    bodies = [
        event("customer.created", {"id": "cus_1", "object": "customer"}),
        event("checkout.session.completed", foreign),
        event("checkout.session.completed", nobody),
        event("charge.refunded", refunded_charge("pi_unknown", 500, 500)),
    ]
    assert [_deliver(settings, b).action for b in bodies] == ["ignored"] * 4
    assert _balance(settings, author) == FREE


def test_concurrent_deliveries_credit_once(settings: Settings, author: int) -> None:
    body = event("checkout.session.completed", paid_session(author, 60))
    header = signed(body)
    start = threading.Barrier(8)
    actions: list[str] = []

    def deliver() -> None:
        start.wait()
        actions.append(deliver_webhook(settings, body, header).action)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(actions) == ["credited"] + ["duplicate"] * 7
    assert _balance(settings, author) == FREE + 60


# --- Webhook: refunds --------------------------------------------------------------------


def test_full_refund_reverses_the_purchase_once(settings: Settings, author: int) -> None:
    _deliver(
        settings,
        event("checkout.session.completed", paid_session(author, 60, payment_intent="pi_r")),
    )
    body = event("charge.refunded", refunded_charge("pi_r", 500, 500))

    assert [_deliver(settings, body).action for _ in range(3)] == [
        "reversed",
        "duplicate",
        "duplicate",
    ]
    assert (
        _deliver(settings, event("charge.refunded", refunded_charge("pi_r", 500, 500))).action
        == "duplicate"
    )
    assert _balance(settings, author) == FREE
    (refund,) = _rows(settings, author, LedgerReason.REFUND)
    assert refund.delta == -60 and refund.external_ref == "stripe:refund:pi_r:500"


def test_partial_refunds_each_reverse_their_share_once(settings: Settings, author: int) -> None:
    """Three refunds of one 5.00 payment for 60 credits: 1.00, 2.00 and 2.00 (amount_refunded
    100, 300, 500), delivered out of order and replayed."""
    _deliver(
        settings,
        event("checkout.session.completed", paid_session(author, 60, payment_intent="pi_p")),
    )
    first, second, third = (
        event("charge.refunded", refunded_charge("pi_p", 500, cents)) for cents in (100, 300, 500)
    )

    assert _deliver(settings, second).credits == -36  # ceil(60 * 300 / 500)
    assert _deliver(settings, first).action == "duplicate"  # within the newer total
    assert _deliver(settings, second).action == "duplicate"
    assert _balance(settings, author) == FREE + 60 - 36
    assert _deliver(settings, third).credits == -24
    assert [_deliver(settings, b).action for b in (first, second, third)] == ["duplicate"] * 3
    assert _balance(settings, author) == FREE
    refunds = _rows(settings, author, LedgerReason.REFUND)
    assert sorted(r.delta for r in refunds) == [-36, -24]


def test_refund_after_the_credits_were_spent_takes_the_balance_below_zero(
    settings: Settings, author: int
) -> None:
    _deliver(
        settings,
        event("checkout.session.completed", paid_session(author, 60, payment_intent="pi_s")),
    )
    with session_scope(settings.database_url) as session:
        ledger.grant(session, author, -(FREE + 50), actor_id=author, note="spent (test)")
    _deliver(settings, event("charge.refunded", refunded_charge("pi_s", 500, 500)))
    assert _balance(settings, author) == 10 - 60
