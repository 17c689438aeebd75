"""Refunds: staff ask for all or part of a payment back; the provider returns it.

The amount is reserved on the payment first (one conditional UPDATE, so two refunds can never
return more than was paid), and the goods to put back, and those it pays for, are checked against
what the order sold less what is back (or paid for) or on its way; then the provider is asked;
an outbox event finishes a refund the request could not (a crash, a provider that did not
answer, or WeChat answering PROCESSING). Repeating `out_refund_no` at WeChat or `out_request_no`
at Alipay returns the same refund, so asking twice is safe; still, the outbox queries a refund
and asks for it again only when the provider has none. One the provider is processing is
queried at the intervals of `polling.next_refund_check`, and flagged `refund_overdue` for staff
once those end; staff may then have it checked again (`check_again`), which settles it as those
queries would have.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Sum

from pos.db import write_transaction
from pos.errors import Conflict, NotFound, Unavailable
from pos.events.outbox import emit
from pos.logs import logger
from pos.orders import returns
from pos.orders import service as orders
from pos.orders.refund_shares import RefundLine
from pos.orders.states import Transition
from pos.payments import flags
from pos.payments.polling import next_refund_check
from pos.payments.provider import PaymentProvider, RefundResult
from pos.payments.schemas import RefundOut, RefundRequest
from pos.payments.settle import REFUND_EVENT, Payments, open_refund
from pos.payments.tables import Payment, Refund, RefundCheck
from pos.staff.actors import StaffActor, staff_name
from pos.stores import service as stores

__all__ = [
    "RefundRoom",
    "check_again",
    "complete_refund",
    "payable_lines",
    "refund_order",
    "refund_room",
    "returnable_units",
]

# The request itself normally finishes the refund; the event is the safety net.
SAFETY_NET_DELAY = timedelta(seconds=30)


def _goods(stored: str | dict[str, int]) -> dict[int, int]:
    """A refund's `restock` or `returned` as stored: product id -> units."""
    goods = json.loads(stored) if isinstance(stored, str) else stored
    return {int(product): units for product, units in (goods or {}).items()}


def _out(refund: Refund, order_id: int) -> RefundOut:
    return RefundOut(
        refund_id=refund.id,
        order_id=order_id,
        payment_id=refund.payment,
        out_refund_no=refund.out_refund_no,
        amount_fen=refund.amount_fen,
        status=refund.status,
        reason=refund.reason,
        restock=_goods(refund.restock),
        returned=_goods(refund.returned),
        requested_by=refund.requested_by,
        printer_id=refund.slip_printer,
        created_at=refund.created_at,
    )


async def _earlier(order_id: int, store_id: int, idempotency_key: str) -> RefundOut | None:
    """The answer to the first request with this key, if it was for this store's order."""
    refund = await Refund.objects().get(
        (Refund.payment.order == order_id)
        & (Refund.payment.store == store_id)
        & (Refund.idempotency_key == idempotency_key)
    )
    if refund is None:
        return None
    answer = json.loads(refund.answer) if isinstance(refund.answer, str) else refund.answer
    return RefundOut.model_validate(answer) if answer else _out(refund, order_id)


class _Pending(NamedTuple):
    """Units of refunds of a payment still in flight: put back, and paid for, when they finish."""

    restock: Counter[int]
    returned: Counter[int]


async def _pending(payment_id: int) -> _Pending:
    pending = _Pending(Counter(), Counter())
    rows = await Refund.select(Refund.restock, Refund.returned).where(
        (Refund.payment == payment_id) & (Refund.status == "pending")
    )
    for row in rows:
        pending.restock.update(_goods(row["restock"]))
        pending.returned.update(_goods(row["returned"]))
    return pending


class RefundRoom(NamedTuple):
    """A paid order's payment: what was paid, and what refunds not failed asked of it so far."""

    paid_fen: int
    asked_fen: int  # finished or still pending with the provider

    @property
    def left_fen(self) -> int:
        """What one more refund may take."""
        return self.paid_fen - self.asked_fen


async def refund_room(order_id: int, store_id: int) -> RefundRoom:
    """How much of the store's order is refunded or asked for, as a refund reserves it."""
    payment = await (
        Payment.select(Payment.paid_fen, Payment.refunded_fen)
        .where(_paid_payment_of(order_id, store_id))
        .first()
    )
    return (
        RefundRoom(payment["paid_fen"] or 0, payment["refunded_fen"])
        if payment
        else RefundRoom(0, 0)
    )


async def returnable_units(order_id: int, store_id: int) -> dict[int, int]:
    """Units of each product a new refund of the store's order may put back on the shelf: not
    back yet, nor on their way back with a refund still in flight (as a refund checks them)."""
    not_back = await returns.returnable_units(order_id)
    payment = await Payment.select(Payment.id).where(_paid_payment_of(order_id, store_id)).first()
    pending = (await _pending(payment["id"])).restock if payment else Counter[int]()
    return {product_id: units - pending[product_id] for product_id, units in not_back.items()}


async def payable_lines(order_id: int, store_id: int) -> list[RefundLine]:
    """The store's order's lines as a new refund finds them: the goods refunds still in flight
    pay for counted as returned already, taken in line order as they will be when they finish
    (their fen are not: how they split over the lines is known only then)."""
    payment = await Payment.select(Payment.id).where(_paid_payment_of(order_id, store_id)).first()
    pending = (await _pending(payment["id"])).returned if payment else Counter[int]()
    return await returns.payable_lines(order_id, pending)


def _paid_payment_of(order_id: int, store_id: int) -> Any:
    return (Payment.order == order_id) & (Payment.store == store_id) & Payment.paid_order.eq(True)


async def _reserve(order_id: int, store_id: int, data: RefundRequest) -> Payment:
    payment = await Payment.objects().get(_paid_payment_of(order_id, store_id))
    if payment is None:
        raise NotFound(f"order {order_id} has no payment to refund here", code="not_paid")
    reserved = await (
        Payment.update({Payment.refunded_fen: Payment.refunded_fen + data.amount_fen})
        .where(
            # Not refunded_fen + amount: the sum may pass INTEGER (a 500 on PostgreSQL).
            (Payment.id == payment.id) & WhereRaw("{} <= paid_fen - refunded_fen", data.amount_fen)
        )
        .returning(Payment.id)
    )
    if not reserved:
        left = (payment.paid_fen or 0) - payment.refunded_fen
        raise Conflict(
            f"at most {left} fen is left to refund", code="refund_too_large", left_fen=left
        )
    return payment


async def _open(
    ctx: Payments, order_id: int, store_id: int, data: RefundRequest, actor: StaffActor, key: str
) -> int:
    now = ctx.clock()
    if data.printer_id is not None:
        await stores.check_printer(store_id, data.printer_id)
    async with write_transaction():
        payment = await _reserve(order_id, store_id, data)
        # `_reserve` locked the payment, which a refund finishing updates too: none finishes now,
        # so each unit counts once, as pending here or as put back (or paid for) in the order.
        pending = await _pending(payment.id)
        await returns.check_restock(order_id, data.restock or {}, pending=pending.restock)
        await returns.check_returned(
            order_id, data.restock or {}, data.paid_for, pending=pending.returned
        )
        refund_id: int = await open_refund(
            payment.id,
            data.amount_fen,
            data.reason,
            now=now,
            available_at=now + SAFETY_NET_DELAY,
            idempotency_key=key,
            requested_by=actor.user_id,
            restock={str(product): n for product, n in (data.restock or {}).items()},
            returned={str(product): n for product, n in data.paid_for.items()},
            slip_printer=data.printer_id,
        )
    return refund_id


async def refund_order(
    ctx: Payments,
    order_id: int,
    data: RefundRequest,
    *,
    store_id: int,
    actor: StaffActor,
    idempotency_key: str,
) -> RefundOut:
    """Refund `amount_fen` of the order's payment; a repeated key returns the first answer."""
    earlier = await _earlier(order_id, store_id, idempotency_key)
    if earlier is not None:
        return earlier
    try:
        refund_id = await _open(ctx, order_id, store_id, data, actor, idempotency_key)
    except Exception:
        # A concurrent request with this key may have opened the refund first: its reservation,
        # its restock or its key refuses this one, which gets its answer instead.
        found = await _earlier(order_id, store_id, idempotency_key)
        if found is None:
            raise
        return found
    try:
        refund = await _complete(ctx, refund_id, 0, _call)
    except Unavailable as exc:
        # No answer (a timeout, a 5xx, WeChat's FREQUENCY_LIMITED): the refund is reserved and its
        # safety net asks again with the same number. "Try again" would have staff refund it
        # once more under a new key, and the shopper paid twice.
        logger.warning("refund: left to its safety net", refund_id=refund_id, error=str(exc))
        refund = await _refund(refund_id)
    answer = _out(refund, order_id)
    await Refund.update({Refund.answer: answer.model_dump_json()}).where(Refund.id == refund_id)
    return answer


async def _refund(refund_id: int) -> Refund:
    refund = await Refund.objects().get(Refund.id == refund_id)
    if refund is None:
        raise NotFound(f"no refund {refund_id}", code="refund_not_found")
    return refund


async def _payment(payment_id: int) -> Payment:
    payment = await Payment.objects().get(Payment.id == payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}", code="payment_not_found")
    return payment


async def _payment_status(payment: Payment) -> str:
    succeeded = await Refund.select(Sum(Refund.amount_fen).as_alias("total")).where(
        (Refund.payment == payment.id) & (Refund.status == "succeeded")
    )
    whole = (succeeded[0]["total"] or 0) >= (payment.paid_fen or 0)
    return "refunded" if whole else "partially_refunded"


async def _finish(refund: Refund, result: RefundResult, now: datetime) -> Transition | None:
    """Record the provider's final answer once, in the caller's transaction."""
    # Staff look at a refund the provider refused (the money is still ours: its reservation is
    # released) or stranded (refunded all the same: only staff, on the provider's platform, may
    # send it again; another refund here would pay the payer twice).
    failed = result.status == "failed"
    flag = "refund_failed" if failed else "refund_stranded" if result.stranded else ""
    flagged = flags.raised(Refund, flag) if flag else {}
    finished = await (
        Refund.update(
            {
                Refund.status: result.status,
                Refund.provider_reference: result.provider_reference,
                Refund.completed_at: now,
                **flagged,
            }
        )
        .where((Refund.id == refund.id) & (Refund.status == "pending"))
        .returning(Refund.id)
    )
    if not finished:
        return None
    payment = await _payment(refund.payment)
    if failed:
        released = Payment.refunded_fen - refund.amount_fen
        await Payment.update({Payment.refunded_fen: released}).where(Payment.id == payment.id)
        return None
    await flags.end_overdue(refund.id, now)
    moved = None
    if not refund.automatic:
        moved = await orders.record_refund(
            payment.order,
            amount_fen=refund.amount_fen,
            restock=_goods(refund.restock) or None,
            returned=_goods(refund.returned),
            actor=staff_name(refund.requested_by) if refund.requested_by else "payments",
            why=refund.reason,
            slip_printer_id=refund.slip_printer,
            # The goods came back when staff asked for the refund, maybe days before the provider
            # finished it: a stock count since then has them already.
            returned_at=refund.created_at,
        )
    await Payment.update({Payment.status: await _payment_status(payment)}).where(
        Payment.id == payment.id
    )
    return moved


async def _call(provider: PaymentProvider, payment: Payment, refund: Refund) -> RefundResult:
    return await provider.refund(
        payment.out_trade_no, refund.out_refund_no, refund.amount_fen, payment.paid_fen or 0
    )


async def _query_or_call(
    provider: PaymentProvider, payment: Payment, refund: Refund
) -> RefundResult:
    """How the refund went at the provider; asked for only if it has no such refund (the
    request's call never reached it, or no request made one: an automatic refund)."""
    found = await provider.query_refund(refund.out_refund_no, payment.out_trade_no)
    return found if found is not None else await _call(provider, payment, refund)


async def _check_later(ctx: Payments, refund: Refund, attempt: int) -> None:
    """The next query of a refund the provider is processing, or, once that gives up, a flag
    for staff to look it up on the provider's merchant platform (it stays pending here)."""
    at = next_refund_check(now=ctx.clock(), attempt=attempt, asked_at=refund.created_at)
    if at is None:
        await Refund.update(flags.raised(Refund, "refund_overdue")).where(Refund.id == refund.id)
        return
    payload = {"refund_id": refund.id, "attempt": attempt + 1}
    await emit(REFUND_EVENT, f"{refund.id}:{attempt + 1}", payload, available_at=at)


async def _complete(
    ctx: Payments,
    refund_id: int,
    attempt: int,
    ask: Callable[[PaymentProvider, Payment, Refund], Awaitable[RefundResult]],
) -> Refund:
    refund = await _refund(refund_id)
    if refund.status != "pending":
        return refund
    payment = await _payment(refund.payment)
    result = await ask(ctx.provider, payment, refund)
    moved = None
    async with write_transaction():
        if result.status == "processing":
            await _check_later(ctx, refund, attempt)
        else:
            moved = await _finish(refund, result, ctx.clock())
    if moved is not None:
        await orders.announce(payment.order, moved.state)
    return await _refund(refund_id)


async def complete_refund(ctx: Payments, refund_id: int, attempt: int = 0) -> Refund:
    """The outbox's check of a pending refund (`attempt` 0: its safety net): record the
    provider's answer, or schedule the next check; returns the refund."""
    return await _complete(ctx, refund_id, attempt, _query_or_call)


async def _checked(key: str) -> RefundOut | None:
    """The answer of the staff check kept with `key`, if any."""
    row = await RefundCheck.select(RefundCheck.answer).where(RefundCheck.key == key).first()
    if row is None:
        return None
    answer = row["answer"]
    return RefundOut.model_validate(json.loads(answer) if isinstance(answer, str) else answer)


async def check_again(
    ctx: Payments,
    store_id: int,
    payment_id: int,
    refund_id: int,
    *,
    actor: StaffActor,
    idempotency_key: str,
) -> RefundOut:
    """Ask the provider now about a refund flagged for staff (one it was still processing when
    its checks ended): a final answer settles it as those checks would have, "processing"
    leaves it pending and flagged. A repeated key answers the first check's refund; a provider
    that does not answer (`Unavailable`) changes nothing, and keeps nothing of the key."""
    key = f"check:{refund_id}:{idempotency_key}"
    earlier = await _checked(key)
    if earlier is not None:
        return earlier
    refund = await flags.flagged_refund(store_id, payment_id, refund_id)
    payment = await _payment(refund.payment)
    pending = refund.status == "pending"
    result = await _query_or_call(ctx.provider, payment, refund) if pending else None
    now = ctx.clock()
    moved = None
    async with write_transaction():
        if result is not None and result.status != "processing":
            moved = await _finish(refund, result, now)
        answer = _out(await _refund(refund_id), payment.order)
        check = RefundCheck(
            refund=refund_id,
            key=key,
            checked_by=actor.user_id,
            checked_at=now,
            answer=answer.model_dump_json(),
        )
        # A twin request with this key checked first: it answers for both.
        await RefundCheck.insert(check).on_conflict(action="DO NOTHING")
    if moved is not None:
        await orders.announce(payment.order, moved.state)
    return await _checked(key) or answer
