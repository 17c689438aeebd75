"""Settling: the provider's answer to a query decides what a payment, and its order, become.

Whatever brought the answer (a notification, a poll, a charge), one conditional UPDATE settles a
payment, so a second answer finds it settled and changes nothing. An unpaid answer ends only an
open payment (`created`/`pending`); a paid one also takes a payment an earlier answer closed,
because the money moved all the same. Money that lands where it is not wanted (a closed or
already paid order, a wrong amount or currency) is refunded automatically through the outbox,
never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pos.db import Statement, write_transaction
from pos.errors import Conflict
from pos.events.outbox import emit, notify
from pos.orders import service as orders
from pos.orders.states import OrderState, Transition
from pos.payments import flags
from pos.payments.clock import Clock, utc_now
from pos.payments.polling import ends_not_before, next_poll
from pos.payments.provider import CURRENCY, PaymentProvider, QueryResult
from pos.payments.tables import Payment, Refund

__all__ = [
    "POLL_EVENT",
    "REFUND_EVENT",
    "Payments",
    "end_open_attempts",
    "open_refund",
    "payer_hash",
    "poll",
    "schedule_poll",
    "settle",
]

_OPEN = ("created", "pending")
POLL_EVENT = "payment_poll"
REFUND_EVENT = "payment_refund"


@dataclass(frozen=True, slots=True)
class Payments:
    """What payment operations run with: one provider, the payer-id salt and a clock."""

    provider: PaymentProvider
    payer_salt: bytes
    clock: Clock = utc_now


def payer_hash(salt: bytes, payer_id: str | None) -> str | None:
    """A salted hash of the provider's payer id (DESIGN rule 9): repeat buyers, no identities."""
    if not payer_id:
        return None
    return hmac.new(salt, payer_id.encode(), hashlib.sha256).hexdigest()


async def _tolerate_order_state(call: Awaitable[Transition]) -> OrderState | None:
    """Await an orders call that may find the order already past this step."""
    try:
        return (await call).state
    except Conflict as exc:
        # e.g. a failed attempt when another payment already paid the order: nothing to undo.
        if exc.code != "order_state":
            raise
        return None


async def open_refund(
    payment_id: int,
    amount_fen: int,
    reason: str,
    *,
    now: datetime,
    available_at: datetime | None = None,
    **values: Any,
) -> int:
    """A pending refund row and its outbox event, inside the caller's transaction."""
    refund = Refund(
        payment=payment_id,
        out_refund_no=f"R{now:%y%m%d}{uuid.uuid4().hex[:24]}",
        amount_fen=amount_fen,
        reason=reason,
        created_at=now,
        **values,
    )
    refund_id = int((await Refund.insert(refund))[0]["id"])
    payload = {"refund_id": refund_id}
    await emit(REFUND_EVENT, str(refund_id), payload, available_at=available_at or now)
    return refund_id


# Giving up: we asked the provider to close or reverse the payment, and only what it says after
# that may settle it.
_CLOSING = "closing"
_UNSETTLED = (*_OPEN, _CLOSING)


def _listed(statuses: tuple[str, ...]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


def _claim_from(sets: str, statuses: tuple[str, ...]) -> Statement:
    """An UPDATE that sets `sets` on the payment only while its status is one of `statuses`."""
    return Statement(
        f"UPDATE payment SET {sets} WHERE id = {{}} AND status IN ({_listed(statuses)})"  # noqa: S608 (constants)
        " RETURNING *"
    )


_PAID = (
    "status = 'paid', paid_fen = {}, payer_hash = {}, provider_reference = {}, settled_at = {},"
    " paid_order = {}, failure = ''"
)
_UNPAID = "status = {}, settled_at = {}, failure = {}"
_FAILURE_CHARS = 255  # Payment.failure's
# A paid answer is the provider's truth, so it also wins over an earlier unpaid one (a query
# that raced a slow charge and found no trade yet). Not while we give up, nor once we gave up
# a charge: the reverse returns the money of a charge confirmed a moment before it, so only the
# query after the reverse decides, and a paid answer read before it is stale.
_CLAIM_PAID = _claim_from(_PAID, (*_OPEN, "closed"))
_CLAIM_PAID_CLOSING = _claim_from(_PAID, (_CLOSING,))
_CLAIM_UNPAID = _claim_from(_UNPAID, _OPEN)
_CLAIM_GIVEN_UP = _claim_from(_UNPAID, (_CLOSING,))
_START_CLOSING = _claim_from(f"status = '{_CLOSING}'", _UNSETTLED)
_OTHER_OPEN_ATTEMPT = Statement(
    'SELECT id FROM payment WHERE "order" = {} AND id <> {}'  # noqa: S608 (constants)
    f" AND status IN ({_listed(_UNSETTLED)}) LIMIT 1"
)


async def _claim(claim: Statement, *args: Any) -> Payment | None:
    """Settle the payment by `claim` (its id last); None when another answer did first."""
    row = await claim.first(*args)
    return None if row is None else Payment(**row, _exists_in_db=True)


@dataclass(frozen=True, slots=True)
class _Outcome:
    name: str
    order_id: int | None = None
    state: OrderState | None = None


async def _refund_surplus(payment: Payment, reason: str, *, now: datetime, flag: str = "") -> None:
    paid_fen = payment.paid_fen
    flagged = flags.raised(Payment, flag) if flag else {}
    await Payment.update(
        {Payment.refunded_fen: paid_fen, Payment.paid_order: False, **flagged}
    ).where(Payment.id == payment.id)
    await open_refund(payment.id, paid_fen, reason, now=now, automatic=True)


async def _release_order(payment: Payment, now: datetime, why: str) -> OrderState | None:
    """Give the order back to the shopper, or close it when its hold is over.

    `why`: the provider's reason for the failure, if it gave one, kept in the order's history.

    Not while another attempt of the shopper's is still open: that one releases it when it ends,
    and one that is paid in time must find the order still holding its stock. The order's state
    is answered all the same: its listeners (a kiosk's screen) read why this attempt failed.
    """
    state = await orders.lock(payment.order)  # attempts ending at once: the last sees the others
    if await _OTHER_OPEN_ATTEMPT.first(payment.order, payment.id) is not None:
        return state
    if now >= payment.expires_at:
        # The hold-expiry event leaves a paying order alone: closing it is ours to do.
        moved = await orders.expire(payment.order, reason="payment not completed")
        return moved.state
    attempt = f"{payment.provider}_{payment.method} {payment.out_trade_no} {payment.status}"
    if why:
        attempt = f"{attempt}: {why}"  # orders cut it to the column's 255 characters
    # The provider's answer ended the attempt: it is who decided, whoever started it.
    failed = orders.payment_failed(payment.order, actor=payment.provider, reason=attempt)
    return await _tolerate_order_state(failed)


async def _mark_paid(ctx: Payments, payment: Payment, currency: str) -> _Outcome:
    now = ctx.clock()
    try:
        if payment.paid_fen != payment.amount_fen or currency != CURRENCY:
            raise Conflict(
                "the provider reports another amount or currency", code="amount_mismatch"
            )
        moved = await orders.mark_paid(
            payment.order,
            amount_fen=payment.amount_fen,
            method=f"{payment.provider}_{payment.method}",
            reference=payment.provider_reference,
            payer_hash=payment.payer_hash,
            paid_at=payment.settled_at,
        )
    except Conflict as exc:
        if exc.code != "amount_mismatch":
            raise
        await _refund_surplus(payment, "amount mismatch", now=now, flag="amount_mismatch")
        released = await _release_order(payment, now, "")
        return _Outcome("amount_mismatch", payment.order, released)
    if moved.refund_required:
        await _refund_surplus(payment, "paid after the order was closed or paid", now=now)
        return _Outcome("refunded_surplus")
    return _Outcome("paid", payment.order, moved.state)


async def _settle_paid(
    ctx: Payments, payment_id: int, result: QueryResult, claim: Statement = _CLAIM_PAID
) -> _Outcome:
    payment = await _claim(
        claim,
        result.amount_fen,
        payer_hash(ctx.payer_salt, result.payer_id),
        result.provider_reference,
        result.paid_at or ctx.clock(),
        # Claimed as paying its order; `_refund_surplus` takes that back when it does not.
        True,
        payment_id,
    )
    if payment is None:
        return _Outcome("duplicate")
    return await _mark_paid(ctx, payment, result.currency)


async def _settle_unpaid(
    ctx: Payments, payment_id: int, status: str, why: str, claim: Statement = _CLAIM_UNPAID
) -> _Outcome:
    now = ctx.clock()
    payment = await _claim(claim, status, now, why[:_FAILURE_CHARS], payment_id)
    if payment is None:
        return _Outcome("duplicate")
    return _Outcome(status, payment.order, await _release_order(payment, now, why))


async def _announce(outcome: _Outcome) -> str:
    if outcome.order_id is not None and outcome.state is not None:
        await orders.announce(outcome.order_id, outcome.state)
    else:
        notify()  # a surplus refund is due now: wake the workers
    return outcome.name


async def settle(
    ctx: Payments, payment_id: int, result: QueryResult, *, asked_unanswered: bool = False
) -> str:
    """Apply the provider's answer once; returns the outcome (paid, closed, duplicate ...).

    `asked_unanswered`: the query was sent while the payment was still `created`, its start
    call not yet answered by the provider.
    """
    if result.status == "pending":
        await Payment.update({Payment.status: "pending"}).where(
            (Payment.id == payment_id) & (Payment.status == "created")
        )
        return "pending"
    if result.status == "closed" and asked_unanswered:
        # "No such trade" while the start call was still out: a query overtook a slow charge.
        # Its answer may come ("user paying") before this one is applied, so the status read
        # before the query decides, not the status now.
        return "pending"
    async with write_transaction():
        if result.status == "paid":
            outcome = await _settle_paid(ctx, payment_id, result)
        else:
            outcome = await _settle_unpaid(ctx, payment_id, "closed", result.reason)
    return await _announce(outcome)


async def _give_up(
    ctx: Payments, payment_id: int, method: str, out_trade_no: str, why: str = ""
) -> str:
    """Close (QR) or reverse (code) at the provider, then settle by what it says afterwards.

    The payment is `closing` first, so that no other answer settles it meanwhile: a reverse also
    returns the money of a charge the payer confirmed a moment before, and only the query after
    it can tell. A give-up that fails on the way is taken up again by the next poll.
    `why`: the provider's reason for the failure that made us give up (WeChat's PAYERROR).
    """
    if not await _START_CLOSING.rows(payment_id):
        return "settled"
    if method == "code":
        await ctx.provider.reverse(out_trade_no)
    else:
        await ctx.provider.close(out_trade_no)
    # Paid between the last query and the close: WeChat answers ORDERPAID and it is a sale.
    result = await ctx.provider.query(out_trade_no)
    async with write_transaction():
        if result.status == "paid":
            outcome = await _settle_paid(ctx, payment_id, result, _CLAIM_PAID_CLOSING)
        else:
            final = "reversed" if method == "code" else "closed"
            why = result.reason or why  # the query after a reverse only says REVOKED
            outcome = await _settle_unpaid(ctx, payment_id, final, why, _CLAIM_GIVEN_UP)
    return await _announce(outcome)


# What a shopper who gave up could still pay. A payment code only once the provider answered its
# charge ("user paying": a trade there waits for the PIN). A start not answered yet may still be
# on its way, and a reverse that overtook it would let it take money no query looks for.
_PAYABLE_ATTEMPTS = Statement(
    "SELECT id, method, out_trade_no, created_at FROM payment"
    """ WHERE "order" = {} AND status = 'pending'"""
    " AND (method <> 'code' OR CAST(answer AS TEXT) <> {}) ORDER BY id"
)
_NO_ANSWER = "{}"  # `Payment.answer` until the start call is answered


async def end_open_attempts(ctx: Payments, order_id: int) -> None:
    """Close the order's QR and web payments at the provider, and reverse its payment codes.

    For an order its shopper gave up on: nothing is paid afterwards, and money taken already is
    settled by the query after the close (refunded, the order being closed) or returned by the
    reverse. A code charged less than 15 s ago is marked closing, and its next poll reverses it
    once it may (`polling.ends_not_before`). A start not answered yet is left to its polls, and
    money it takes is refunded.
    """
    now = ctx.clock()
    for row in await _PAYABLE_ATTEMPTS.rows(order_id, _NO_ANSWER):
        if now < ends_not_before(row["method"], started_at=row["created_at"]):
            await _START_CLOSING.rows(row["id"])
        else:
            await _give_up(ctx, row["id"], row["method"], row["out_trade_no"])


# Hand-written: a poll comes 5 s after every payment starts, and usually finds it settled.
_POLLED = Statement(
    "SELECT status, method, out_trade_no, created_at, expires_at FROM payment WHERE id = {}"
)


async def poll(ctx: Payments, payment_id: int, attempt: int) -> str:
    """Query a payment no answer has settled; schedule the next query, or give up."""
    payment = await _POLLED.first(payment_id)
    if payment is None or payment["status"] not in _UNSETTLED:
        return "settled"
    method, out_trade_no = payment["method"], payment["out_trade_no"]
    if payment["status"] == _CLOSING:
        return await _end_when_due(ctx, payment_id, attempt, payment)
    asked_unanswered = payment["status"] == "created"
    result = await ctx.provider.query(out_trade_no)
    if method == "code" and result.status == "failed":
        # WeChat's PAYERROR, "支付失败，请撤销订单": the charge may still go through; a reverse
        # returns the money if it did, and only the query after it decides.
        return await _give_up(ctx, payment_id, method, out_trade_no, result.reason)
    outcome = await settle(ctx, payment_id, result, asked_unanswered=asked_unanswered)
    if outcome == "duplicate":
        # Settled meanwhile, or given up on (a cancel): a payment closing needs this poll still.
        return await poll(ctx, payment_id, attempt)
    if outcome != "pending":
        return outcome
    now = ctx.clock()
    at = next_poll(
        method,
        now=now,
        attempt=attempt,
        started_at=payment["created_at"],
        expires_at=payment["expires_at"],
    )
    if at is None:
        return await _give_up(ctx, payment_id, method, out_trade_no)
    async with write_transaction():
        await schedule_poll(payment_id, attempt + 1, at)
    return "pending"


async def _end_when_due(
    ctx: Payments, payment_id: int, attempt: int, payment: dict[str, Any]
) -> str:
    """End a payment given up on now, or poll it again when it may be ended."""
    due = ends_not_before(payment["method"], started_at=payment["created_at"])
    if ctx.clock() >= due:
        return await _give_up(ctx, payment_id, payment["method"], payment["out_trade_no"])
    async with write_transaction():
        await schedule_poll(payment_id, attempt + 1, due)
    return _CLOSING


async def schedule_poll(payment_id: int, attempt: int, at: datetime) -> None:
    """The outbox event for query number `attempt`, inside the caller's transaction."""
    payload = {"payment_id": payment_id, "attempt": attempt}
    await emit(POLL_EVENT, f"{payment_id}:{attempt}", payload, available_at=at)
