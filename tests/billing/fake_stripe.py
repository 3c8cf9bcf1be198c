"""A stand-in for Stripe in tests: a tiny HTTP server answering ``POST
/v1/checkout/sessions`` the way Stripe's API does (a Checkout Session object whose
``url`` is a page of this server, ``GET /pay/<id>``), recording every request; and
webhook events signed locally as Stripe signs them (HMAC-SHA256 of ``"{t}.{body}"`` with
the endpoint secret, header ``t=<t>,v1=<hex>``).

Only Stripe's servers are faked: the app under test runs its real stripe-python client
against :attr:`FakeStripe.url` (``AUDIOBOOK_STRIPE_API_BASE``) and its real webhook
verification against :func:`signed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_fake_0123456789abcdef"


@dataclass
class Recorded:
    """One request the fake received: method, path, headers and the form fields
    (stripe-python's nested ``a[b][0][c]`` keys, flat)."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    """The fake API server (start with :meth:`start`, stop with :meth:`stop`).
    ``fail_status``: answer the next Checkout requests with this HTTP status and a
    Stripe error body instead (None: succeed)."""

    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict] = field(default_factory=dict)
    fail_status: int | None = None

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake._answer(self, "POST", dict(parse_qsl(body.decode(), keep_blank_values=True)))

            def do_GET(self) -> None:
                fake._answer(self, "GET", {})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (the ``api`` base address)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def checkout_requests(self) -> list[Recorded]:
        """The ``POST /v1/checkout/sessions`` requests received so far."""
        return [r for r in self.requests if r.path == "/v1/checkout/sessions"]

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, form: dict) -> None:
        self.requests.append(Recorded(method, handler.path, dict(handler.headers), form))
        if method == "POST" and handler.path == "/v1/checkout/sessions":
            if self.fail_status is not None:
                error = {"message": "The fake Stripe refuses", "type": "api_error"}
                return _send(handler, self.fail_status, {"error": error})
            return _send(handler, 200, self._create_session(form))
        if method == "GET" and handler.path.startswith("/pay/"):
            page = b"<html><body><h1 id='fake-checkout'>Fake Stripe Checkout</h1></body></html>"
            return _send(handler, 200, page, "text/html")
        return _send(handler, 404, {"error": {"message": "unknown path", "type": "invalid"}})

    def _create_session(self, form: dict) -> dict:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        item = "line_items[0][price_data]"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.url}/pay/{session_id}",
            "client_reference_id": form.get("client_reference_id"),
            "customer_email": form.get("customer_email"),
            "amount_total": int(form.get(f"{item}[unit_amount]", 0)),
            "currency": form.get(f"{item}[currency]"),
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
            "payment_intent": None,
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
        }
        self.sessions[session_id] = session
        return session


def _send(
    handler: BaseHTTPRequestHandler, status: int, body, content_type: str = "application/json"
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
    handler.end_headers()
    handler.wfile.write(data)


# --- Events, as Stripe sends them to the webhook ------------------------------------


def event(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    """The JSON body of a Stripe event of ``event_type`` about ``obj``."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    ).encode()


def paid_session(
    user_id: int,
    credits: int,
    *,
    pack_id: str = "hour-5",
    amount_cents: int = 500,
    session_id: str | None = None,
    payment_intent: str | None = None,
    payment_status: str = "paid",
) -> dict:
    """A completed Checkout Session as :func:`create_checkout` creates it, once paid."""
    metadata = {"user_id": str(user_id), "pack_id": pack_id, "credits": str(credits)}
    return {
        "id": session_id or f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": payment_status,
        "client_reference_id": str(user_id),
        "amount_total": amount_cents,
        "currency": "usd",
        "metadata": metadata,
        "payment_intent": payment_intent or f"pi_{uuid.uuid4().hex[:24]}",
    }


def refunded_charge(payment_intent: str, amount_cents: int, refunded_cents: int) -> dict:
    """A charge of ``amount_cents`` paid by ``payment_intent``, ``refunded_cents`` of it
    refunded so far (Stripe's ``amount_refunded`` is cumulative)."""
    return {
        "id": f"ch_{payment_intent.removeprefix('pi_')}",
        "object": "charge",
        "amount": amount_cents,
        "amount_refunded": refunded_cents,
        "refunded": refunded_cents >= amount_cents,
        "currency": "usd",
        "payment_intent": payment_intent,
    }


def signed(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``body``: ``t=<unix s>,v1=<HMAC-SHA256 hex of
    "{t}.{body}" keyed by the endpoint secret>`` (Stripe's scheme)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
