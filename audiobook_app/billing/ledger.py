"""The credit ledger: every credit that moves is one appended row; balances are sums.

Rules (each enforced here and tested in ``tests/platform/test_billing.py``):

* A user's **balance** is the sum of their entries' ``delta``. Rows are never updated or
  deleted (the ORM refuses it, ``db.session``); a correction is a new entry.
* A job's money moves at three moments, each at most once (``external_ref``
  ``job:<id>:<reason>`` is unique, so a repeat is a no-op, not a second movement):
  ``reservation`` (-R) at Start; at completion ``release`` (+R) and ``charge`` (-C,
  the real minutes, never more than R); at failure or cancel ``release`` (+R) alone.
  What is reserved is not spendable: the balance already excludes it.
* Every movement that depends on the balance first locks the user's row
  (:func:`lock_account`: a no-op UPDATE, which takes PostgreSQL's row lock and SQLite's
  write lock), so concurrent starts of one author are serialized and never overdraw:
  50 concurrent starts with credit for 10 start exactly 10 (tested on PostgreSQL).
* A purchase is credited once per Stripe Checkout Session (``stripe:cs:<id>``) however
  often the webhook is delivered; a refund is reversed once per Stripe refund id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from audiobook_app.db.models import Book, Job, LedgerEntry, LedgerReason, User
from audiobook_app.db.repo import audit
from audiobook_app.settings import Settings
from pipeline.errors import InputError, InsufficientCreditsError

MAX_GRANT = 1_000_000  # credits one admin action may add or remove


def lock_account(session: Session, user_id: int) -> None:
    """Serialize credit movements of ``user_id`` until the transaction ends (see module doc)."""
    session.execute(update(User).where(col(User.id) == user_id).values(disabled=User.disabled))


def balance(session: Session, user_id: int) -> int:
    """Spendable credits of ``user_id``: the sum of their ledger (reservations already
    subtracted)."""
    total = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(LedgerEntry.user_id == user_id)
    ).one()
    return int(total)


def reserved(session: Session, user_id: int) -> int:
    """Credits held by the user's running jobs (reservations not yet released)."""
    held = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.user_id == user_id,
            col(LedgerEntry.reason).in_((LedgerReason.RESERVATION, LedgerReason.RELEASE)),
        )
    ).one()
    return -int(held)


def entries(
    session: Session, user_id: int | None = None, *, limit: int = 100, offset: int = 0
) -> list[LedgerEntry]:
    """Ledger rows, newest first (one user's when ``user_id`` is given)."""
    query = select(LedgerEntry)
    if user_id is not None:
        query = query.where(LedgerEntry.user_id == user_id)
    query = query.order_by(col(LedgerEntry.created_at).desc(), col(LedgerEntry.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def _by_ref(session: Session, external_ref: str) -> LedgerEntry | None:
    return session.exec(select(LedgerEntry).where(LedgerEntry.external_ref == external_ref)).first()


def _append(
    session: Session, user_id: int, delta: int, reason: LedgerReason, **values
) -> LedgerEntry:
    entry = LedgerEntry(user_id=user_id, delta=delta, reason=reason, **values)
    session.add(entry)
    session.flush()
    audit(
        session,
        values.get("actor_id"),
        f"credits.{reason.value}",
        "user",
        str(user_id),
        delta=delta,
        job_id=values.get("job_id"),
        external_ref=values.get("external_ref"),
        note=values.get("note"),
    )
    return entry


def credits_for_seconds(settings: Settings, audio_s: float) -> int:
    """Credits for ``audio_s`` seconds of generated audio: minutes times
    ``settings.credits_per_audio_minute``, rounded up to a whole credit."""
    return math.ceil(round(audio_s / 60.0 * settings.credits_per_audio_minute, 6))


def welcome_grant(session: Session, settings: Settings, user_id: int) -> LedgerEntry | None:
    """The new account's free credits (``settings.free_credits``; none when 0). Once per user."""
    if settings.free_credits <= 0:
        return None
    ref = f"welcome:{user_id}"
    if _by_ref(session, ref) is not None:
        return None
    return _append(
        session,
        user_id,
        settings.free_credits,
        LedgerReason.GRANT,
        external_ref=ref,
        note="free credits for a new account",
    )


def grant(session: Session, user_id: int, credits: int, *, actor_id: int, note: str) -> LedgerEntry:
    """An admin adds (``credits`` > 0) or removes (< 0) credits, saying why (``note``,
    required). Raises InputError for 0, more than :data:`MAX_GRANT` or a blank note,
    and InsufficientCreditsError when a removal would take the balance below zero."""
    note = note.strip()
    if credits == 0 or abs(credits) > MAX_GRANT:
        raise InputError(f"grant between 1 and {MAX_GRANT:,} credits, or remove as many")
    if not note:
        raise InputError("say why credits are granted or removed (the reason is kept)")
    lock_account(session, user_id)
    if credits < 0 and balance(session, user_id) + credits < 0:
        raise InsufficientCreditsError(
            f"cannot remove {-credits} credits: the balance is {balance(session, user_id)}"
        )
    return _append(
        session,
        user_id,
        credits,
        LedgerReason.GRANT,
        actor_id=actor_id,
        note=note[:500],
        detail={"reason": note[:500]},
    )


def reserve(session: Session, user_id: int, job_id: str, credits: int) -> LedgerEntry | None:
    """Hold ``credits`` for job ``job_id`` at Start (None when ``credits`` is 0). Raises
    InsufficientCreditsError (nothing held) when the balance is smaller."""
    if credits <= 0:
        return None
    lock_account(session, user_id)
    available = balance(session, user_id)
    if available < credits:
        raise InsufficientCreditsError(
            f"this conversion needs up to {credits} credits and the balance is {available}: "
            "buy credits on the billing page, or choose fewer chapters"
        )
    return _append(
        session,
        user_id,
        -credits,
        LedgerReason.RESERVATION,
        job_id=job_id,
        external_ref=f"job:{job_id}:reservation",
    )


def job_reservation(session: Session, job_id: str) -> int:
    """Credits reserved at the job's Start (0 when none was)."""
    entry = _by_ref(session, f"job:{job_id}:reservation")
    return -entry.delta if entry else 0


def release(session: Session, job: Job) -> LedgerEntry | None:
    """Give back the job's whole reservation (failure or cancel). Idempotent: None
    when there is nothing (left) to release."""
    held = job_reservation(session, job.id)
    ref = f"job:{job.id}:release"
    if held == 0 or _by_ref(session, ref) is not None:
        return None
    lock_account(session, job.owner_id)
    return _append(
        session, job.owner_id, held, LedgerReason.RELEASE, job_id=job.id, external_ref=ref
    )


def settle(session: Session, settings: Settings, job: Job, audio_s: float) -> int:
    """At completion: release the reservation and charge ``audio_s`` seconds of audio,
    at most what was reserved (the quote shown before Start is the most an author
    pays). Returns the credits charged. Idempotent (a second call charges nothing)."""
    held = job_reservation(session, job.id)
    if held == 0:
        return 0
    ref = f"job:{job.id}:charge"
    if _by_ref(session, ref) is not None:
        return 0
    release(session, job)
    cost = min(held, credits_for_seconds(settings, audio_s))
    _append(
        session,
        job.owner_id,
        -cost,
        LedgerReason.CHARGE,
        job_id=job.id,
        external_ref=ref,
        detail={"audio_s": round(audio_s, 2), "reserved": held},
    )
    return cost


def credit_purchase(
    session: Session, user_id: int, credits: int, external_ref: str, detail: dict
) -> LedgerEntry | None:
    """Credit a paid purchase once per ``external_ref`` (the Checkout Session); None
    when it was credited before (a webhook retry or replay)."""
    lock_account(session, user_id)
    if _by_ref(session, external_ref) is not None:
        return None
    return _append(
        session,
        user_id,
        credits,
        LedgerReason.PURCHASE,
        external_ref=external_ref,
        detail=detail,
        note=f"bought {credits} credits",
    )


def purchase_by_payment(session: Session, payment_intent: str) -> LedgerEntry | None:
    """The purchase paid by Stripe PaymentIntent ``payment_intent`` (None if unknown)."""
    purchases = select(LedgerEntry).where(LedgerEntry.reason == LedgerReason.PURCHASE)
    for entry in session.exec(purchases).all():  # few rows; JSON queries differ by database
        if entry.detail.get("payment_intent") == payment_intent:
            return entry
    return None


def reverse_purchase(
    session: Session, purchase: LedgerEntry, credits: int, external_ref: str
) -> LedgerEntry | None:
    """Take back ``credits`` (1..the purchase's) of a purchase after a refund, once per
    ``external_ref`` (the Stripe refund); None when done before or ``credits`` < 1. The
    balance may go below zero when the credits were spent already (the author then
    cannot start until it is positive again)."""
    lock_account(session, purchase.user_id)
    credits = min(credits, purchase.delta)
    if credits <= 0 or _by_ref(session, external_ref) is not None:
        return None
    return _append(
        session,
        purchase.user_id,
        -credits,
        LedgerReason.REFUND,
        external_ref=external_ref,
        detail={"purchase": purchase.external_ref},
        note=f"refund of {credits} credits",
    )


@dataclass(frozen=True)
class BookUsage:
    """Credits and minutes one book's jobs used: charged credits, generated minutes."""

    book_id: int
    title: str
    jobs: int
    audio_min: float
    credits: int


def usage_by_book(session: Session, user_id: int) -> list[BookUsage]:
    """The user's charges grouped by book, most credits first."""
    rows = session.exec(
        select(
            Book.id, Book.title, func.count(), func.sum(Job.audio_s), func.sum(LedgerEntry.delta)
        )
        .join(Job, col(Job.id) == col(LedgerEntry.job_id))
        .join(Book, col(Book.id) == col(Job.book_id))
        .where(LedgerEntry.user_id == user_id, LedgerEntry.reason == LedgerReason.CHARGE)
        .group_by(Book.id, Book.title)
    ).all()
    usage = [
        BookUsage(int(b), t, int(n), round(float(s or 0) / 60.0, 1), -int(d or 0))
        for b, t, n, s, d in rows
    ]
    return sorted(usage, key=lambda u: -u.credits)
