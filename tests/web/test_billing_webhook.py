"""Stripe's webhook and Checkout against the RUNNING app (``scripts/run.sh``, payments on
with the fake Stripe API of ``tests/billing/fake_stripe.py``): events signed locally as
Stripe signs them are POSTed to ``/api/v1/billing/stripe/webhook``.

A completed Checkout delivered 10 times in a row and 10 more at once is credited once;
a wrong secret, a tampered body or a stale timestamp is refused with 400 and credits
nothing; a refund reverses the purchase once however often it is replayed; an event
type the app does not use is acknowledged with 200. Buying through the API creates a
Checkout Session at the fake Stripe with the pack and the buyer, and its webhook credits
exactly that pack.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from audiobook_app.db.models import LedgerReason
from audiobook_app.settings import Settings
from tests.billing.fake_stripe import FakeStripe, event, paid_session, refunded_charge, signed
from tests.billing.live import (
    api_key,
    app_settings,
    balance,
    deliver,
    ledger_rows,
    new_account,
)

pytestmark = pytest.mark.web


@pytest.fixture(scope="module")
def settings(web_env: dict[str, str]) -> Settings:
    return app_settings(web_env)


def test_completed_checkout_delivered_20_times_is_credited_once(
    web_app: str, settings: Settings
) -> None:
    user_id, _ = new_account(settings)
    before = balance(settings, user_id)
    body = event("checkout.session.completed", paid_session(user_id, 60))

    in_a_row = [deliver(web_app, body) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:  # Stripe's retries may overlap
        at_once = list(pool.map(lambda _: deliver(web_app, body), range(10)))

    assert [r.status_code for r in in_a_row + at_once] == [200] * 20
    actions = [r.json()["action"] for r in in_a_row + at_once]
    assert actions == ["credited"] + ["duplicate"] * 19
    assert balance(settings, user_id) == before + 60
    assert len(ledger_rows(settings, user_id, LedgerReason.PURCHASE)) == 1


def test_bad_signatures_get_400_and_credit_nothing(web_app: str, settings: Settings) -> None:
    user_id, _ = new_account(settings)
    before = balance(settings, user_id)
    body = event("checkout.session.completed", paid_session(user_id, 300))
    refused = [
        deliver(web_app, body, signed(body, secret="whsec_not_the_endpoints")),
        deliver(web_app, body.replace(b'"300"', b'"30000"'), signed(body)),  # tampered
        deliver(web_app, body, signed(body, timestamp=int(time.time()) - 600)),  # stale
        deliver(web_app, body, ""),  # unsigned
    ]

    for response in refused:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "webhook"
        assert "signature" in response.json()["error"]["message"]
    assert balance(settings, user_id) == before
    assert ledger_rows(settings, user_id, LedgerReason.PURCHASE) == []


def test_refund_reverses_the_purchase_once(web_app: str, settings: Settings) -> None:
    user_id, _ = new_account(settings)
    before = balance(settings, user_id)
    paid = paid_session(user_id, 300, amount_cents=2000, pack_id="book-20")
    assert deliver(web_app, event("checkout.session.completed", paid)).json()["action"] == (
        "credited"
    )
    refund = event("charge.refunded", refunded_charge(paid["payment_intent"], 2000, 2000))

    actions = [deliver(web_app, refund).json()["action"] for _ in range(5)]

    assert actions == ["reversed"] + ["duplicate"] * 4
    assert balance(settings, user_id) == before
    assert [e.delta for e in ledger_rows(settings, user_id, LedgerReason.REFUND)] == [-300]


def test_unknown_event_type_is_acknowledged(web_app: str, settings: Settings) -> None:
    response = deliver(web_app, event("invoice.paid", {"id": "in_1", "object": "invoice"}))
    assert response.status_code == 200
    assert response.json()["action"] == "ignored"


def test_buying_through_the_api_creates_a_checkout_that_the_webhook_credits(
    web_app: str, settings: Settings, stripe_fake: FakeStripe
) -> None:
    user_id, email = new_account(settings)
    before = balance(settings, user_id)
    auth = {"Authorization": f"Bearer {api_key(settings, user_id)}"}

    response = httpx.post(
        web_app + "/api/v1/billing/checkout", json={"pack_id": "hour-5"}, headers=auth, timeout=60
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["url"] == f"{stripe_fake.url}/pay/{created['id']}"
    session = stripe_fake.sessions[created["id"]]
    assert session["metadata"] == {"user_id": str(user_id), "pack_id": "hour-5", "credits": "60"}
    assert (session["amount_total"], session["customer_email"]) == (500, email)
    assert session["success_url"].startswith(f"{web_app}/billing?checkout=success")
    assert balance(settings, user_id) == before  # nothing until Stripe confirms

    paid = {**session, "status": "complete", "payment_status": "paid", "payment_intent": "pi_x1"}
    assert deliver(web_app, event("checkout.session.completed", paid)).json()["action"] == (
        "credited"
    )
    assert balance(settings, user_id) == before + 60
    missing = httpx.post(
        web_app + "/api/v1/billing/checkout", json={"pack_id": "gold"}, headers=auth, timeout=60
    )
    assert missing.status_code == 404 and "hour-5" in missing.json()["error"]["message"]
    anonymous = httpx.post(web_app + "/api/v1/billing/checkout", json={"pack_id": "hour-5"})
    assert anonymous.status_code == 401
