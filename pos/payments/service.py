"""Payment operations: start a payment, take a provider's notification, cancel an order.

A payment row and its first poll are committed before the provider is called, so a crash
after the provider took the money still ends in a query that settles it. A notification is
only a hint: once its signature, age and nonce check out, the provider is queried and its
answer settles the payment (`pos.payments.settle`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from pos.db import Statement, write_transaction
from pos.db.unique import is_unique_violation
from pos.errors import Forbidden, InvalidInput, NotFound, PosError
from pos.logs import logger
from pos.orders import service as orders
from pos.orders.states import OrderState
from pos.payments.polling import next_poll
from pos.payments.provider import (
    ChargeResult,
    CreatedPayment,
    Notification,
    NotificationRefused,
    PaymentRequest,
    PhoneBrowser,
    is_payment_code,
)
from pos.payments.schemas import PaymentOut, StartPayment
from pos.payments.settle import Payments, end_open_attempts, schedule_poll, settle
from pos.payments.tables import MAX_NONCE, MAX_TRADE_NO, Payment

__all__ = [
    "cancel_order",
    "last_failure",
    "order_payments",
    "phone_browser",
    "receive_notification",
    "start_payment",
]

_EARLIER = Statement('SELECT id, answer FROM payment WHERE "order" = {} AND idempotency_key = {}')
_ANSWER_PENDING = Statement(
    "UPDATE payment SET status = 'pending', answer = {}"
    " WHERE id = {} AND status = 'created' RETURNING id"
)
_INSERT_PAYMENT = Statement(
    'INSERT INTO payment ("order", store, provider, method, out_trade_no, idempotency_key,'
    " amount_fen, created_at, expires_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id"
)
_RECORD_NOTE = Statement(
    "INSERT INTO payment_notification"
    " (provider, headers, body, nonce, received_at, verified, out_trade_no, outcome)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {})"
    # A provider's retry of a notification whose processing never finished (the query failed,
    # the server died) is taken up again; one that was acted on is a replay.
    " ON CONFLICT (nonce) DO UPDATE SET received_at = excluded.received_at"
    " WHERE payment_notification.outcome = 'received'"
    # With the payment it is about: one statement per notification instead of two.
    " RETURNING id, (SELECT id FROM payment"
    " WHERE payment.out_trade_no = payment_notification.out_trade_no) AS payment_id,"
    " (SELECT status FROM payment"
    " WHERE payment.out_trade_no = payment_notification.out_trade_no) AS payment_status"
)
_SET_OUTCOME = Statement("UPDATE payment_notification SET outcome = {} WHERE id = {}")
_UNANSWERED = ("created", "pending")  # the provider's answer to the start may still come


async def _payment(payment_id: int) -> Payment:
    payment = await Payment.objects().get(Payment.id == payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}", code="payment_not_found")
    return payment


def _view(
    payment: Payment, created: CreatedPayment | None = None, *, status: str | None = None
) -> PaymentOut:
    return PaymentOut(
        payment_id=payment.id,
        order_id=payment.order,
        out_trade_no=payment.out_trade_no,
        method=payment.method,
        status=status or payment.status,
        amount_fen=payment.amount_fen,
        qr_url=created.qr_url if created else None,
        redirect_url=created.redirect_url if created else None,
        wechat_jsapi=dict(created.wechat_jsapi) if created and created.wechat_jsapi else None,
        failure=payment.failure,
    )


async def _earlier(
    ctx: Payments, order_id: int, idempotency_key: str, browser: PhoneBrowser | None
) -> PaymentOut | None:
    """The answer to the first start with this key, if there was one.

    A start still at the provider, or whose call failed, has no answer yet: a QR or web payment
    asks the provider again, which answers the same payment once more (creating is idempotent
    by `out_trade_no`), so a retry is never told 201 with nothing to pay. A payment code is
    never charged twice: the retry sees the payment as it is, and its polls settle it.
    """
    row = await _EARLIER.first(order_id, idempotency_key)
    if row is None:
        return None
    answer = _stored_answer(row["answer"])
    if answer is not None:
        return answer
    payment = await _payment(row["id"])
    if payment.method == "code" or payment.status not in _UNANSWERED:
        return _view(payment)
    return await _answered(ctx, payment, StartPayment(method=payment.method), browser)


def _stored_answer(stored: str | dict[str, Any]) -> PaymentOut | None:
    """The start's answer kept with its payment (`Payment.answer`); None until it had one."""
    answer = json.loads(stored) if isinstance(stored, str) else stored
    return PaymentOut.model_validate(answer) if answer else None


async def _open(
    ctx: Payments, order_id: int, method: str, idempotency_key: str, *, actor: str
) -> Payment:
    now = ctx.clock()
    out_trade_no = f"P{now:%y%m%d}{uuid.uuid4().hex[:20]}"
    async with write_transaction():
        order = await orders.start_payment(
            order_id, actor=actor, reason=f"{ctx.provider.name}_{method} {out_trade_no}"
        )
        payment = Payment(
            order=order_id,
            store=order.store_id,
            provider=ctx.provider.name,
            method=method,
            out_trade_no=out_trade_no,
            idempotency_key=idempotency_key,
            amount_fen=order.total_fen,
            created_at=now,
            expires_at=order.expires_at,
        )
        payment.id = await _insert(payment)
        first = next_poll(
            method,
            now=now,
            attempt=0,
            started_at=now,
            expires_at=order.expires_at,
        )
        await schedule_poll(payment.id, 0, first or order.expires_at)
    await orders.announce(order_id, order.state)
    return payment


async def _insert(payment: Payment) -> int:
    row = await _INSERT_PAYMENT.first(
        payment.order,
        payment.store,
        payment.provider,
        payment.method,
        payment.out_trade_no,
        payment.idempotency_key,
        payment.amount_fen,
        payment.created_at,
        payment.expires_at,
    )
    assert row is not None  # an insert without a conflict clause returns its row
    return int(row["id"])


async def order_payments(order_id: int) -> list[PaymentOut]:
    """The order's payments, oldest first, each as it stands: where to pay one still open, as
    its start answered, and why one failed."""
    payments = await Payment.objects().where(Payment.order == order_id).order_by(Payment.id)
    return [_as_it_stands(payment) for payment in payments]


def _as_it_stands(payment: Payment) -> PaymentOut:
    answer = _stored_answer(payment.answer)
    if answer is None or payment.status not in _UNANSWERED:
        return _view(payment)
    return answer.model_copy(update={"status": payment.status})


def last_failure(payments: list[PaymentOut]) -> str | None:
    """Why the latest of an order's `payments` ended unpaid: the provider's reason, "" when it
    gave none; None while it is open, once it paid, or when there is none."""
    if not payments or payments[-1].status not in ("closed", "reversed"):
        return None
    return payments[-1].failure


def phone_browser(
    public_url: str, order_id: int, token: str, client_ip: str, *, wechat_openid: str = ""
) -> PhoneBrowser:
    """The shopper's browser, which the provider sends back to the order's page after paying."""
    return_url = f"{public_url.rstrip('/')}/o/{order_id}?token={quote(token, safe='')}"
    return PhoneBrowser(return_url, client_ip, wechat_openid)


async def _call_provider(
    ctx: Payments, payment: Payment, data: StartPayment, browser: PhoneBrowser | None
) -> tuple[CreatedPayment | None, ChargeResult | None]:
    request = PaymentRequest(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        description=f"order {payment.order}",
        expires_at=payment.expires_at,
        store_id=payment.store,
    )
    if data.auth_code is not None:
        return None, await ctx.provider.charge_code(request, data.auth_code)
    if data.method == "web" and browser is not None:  # start_payment refused web without one
        return await ctx.provider.create_web(request, browser), None
    return await ctx.provider.create(request), None


async def start_payment(
    ctx: Payments,
    order_id: int,
    data: StartPayment,
    *,
    idempotency_key: str,
    actor: str,
    browser: PhoneBrowser | None = None,
    by_shopper: bool = False,
) -> PaymentOut:
    """Open a payment of the order's total; a repeated key returns the first answer.

    `actor` starts it, as the order's history names it: `shopper`, or the kiosk's or counter's
    `device:<id>`. Method `web` takes the shopper's `browser`, which the provider's page sends
    back.
    `by_shopper`: the caller holds only the order's token, which anyone ordering from a
    counter's public QR code has. It may not charge a payment code: a code is as good as the
    payer's wallet to whoever holds it, so only a kiosk's or counter's scanner presents one.
    """
    if by_shopper and data.method == "code":
        raise Forbidden(
            "a payment code is scanned at a kiosk or counter, not sent from a phone",
            code="payment_code_needs_scanner",
        )
    earlier = await _earlier(ctx, order_id, idempotency_key, browser)
    if earlier is not None:
        return earlier
    if data.auth_code is not None and not is_payment_code(data.auth_code):
        raise InvalidInput("not a WeChat or Alipay payment code", code="bad_payment_code")
    if data.method == "web" and browser is None:
        raise InvalidInput(
            "method web is paid in the shopper's own browser: start it with the order's token",
            code="web_payment_needs_shopper",
        )
    try:
        payment = await _open(ctx, order_id, data.method, idempotency_key, actor=actor)
    except Exception as exc:
        raced = is_unique_violation(exc)
        found = await _earlier(ctx, order_id, idempotency_key, browser) if raced else None
        if found is None:
            raise
        return found  # a concurrent retry with the same key won the race
    return await _answered(ctx, payment, data, browser)


async def cancel_order(ctx: Payments, order_id: int, *, actor: str) -> OrderState:
    """Close an unpaid order its shopper gave up on, and its payments still open; its state now.

    A paid order stays as it is. The provider closes the QR and web payments and reverses the
    payment codes (`settle.end_open_attempts`): a PIN confirmed after the kiosk's Cancel pays
    nothing. A payment the provider cannot end now is ended by its polls, and money that lands
    meanwhile is refunded, the order being closed.
    """
    moved = await orders.cancel(order_id, actor=actor)
    if moved.state == OrderState.CLOSED:
        try:
            await end_open_attempts(ctx, order_id)
        except PosError as exc:  # the provider is away
            logger.warning("payments: left to their polls", order_id=order_id, error=str(exc))
    return moved.state


async def _answered(
    ctx: Payments, payment: Payment, data: StartPayment, browser: PhoneBrowser | None
) -> PaymentOut:
    """Call the provider for the payment and keep its answer for retries."""
    created, charged = await _call_provider(ctx, payment, data, browser)
    if charged is None:
        answer = _view(payment, created, status="pending")
        if await _answer_pending(payment.id, answer):
            return answer
    else:
        await settle(ctx, payment.id, charged.as_query())
    answer = _view(await _payment(payment.id), created)
    await Payment.update({Payment.answer: answer.model_dump_json()}).where(Payment.id == payment.id)
    return answer


async def _answer_pending(payment_id: int, answer: PaymentOut) -> bool:
    """Created -> pending, keeping the answer for retries; False if an answer settled it first."""
    return bool(await _ANSWER_PENDING.rows(answer.model_dump_json(), payment_id))


async def _record(
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    received_at: datetime,
    nonce: str | None = None,
    verified: bool = False,
    out_trade_no: str = "",
    outcome: str = "received",
) -> dict[str, Any] | None:
    """Keep a notification as received: its id and the id of its payment, if there is one.

    None when a verified notification with its nonce came before and was acted on.
    """
    # As undecodable bytes are, a NUL is kept as U+FFFD: PostgreSQL's text cannot hold it.
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    values = (nonce, received_at, verified, out_trade_no, outcome)
    return await _RECORD_NOTE.first(provider, json.dumps(dict(headers)), text, *values)


class _Note(NamedTuple):
    """A verified notification as recorded, with the payment it is about (if known)."""

    id: int
    payment_id: int | None
    payment_status: str | None
    out_trade_no: str


def _fitting(note: Notification) -> Notification:
    """The notification, if its nonce and payment number fit their columns.

    A signature proves who sent it, not that it is sane: the sandbox's demo key is public.
    """
    if len(note.nonce) > MAX_NONCE or len(note.out_trade_no) > MAX_TRADE_NO:
        raise NotificationRefused(
            "a nonce or payment number longer than any this server stores",
            code="notification_malformed",
        )
    return note


async def _verified(ctx: Payments, provider: str, headers: Mapping[str, str], body: bytes) -> _Note:
    received_at = ctx.clock()
    try:
        note = _fitting(ctx.provider.verify_notification(headers, body, received_at))
    except NotificationRefused as exc:
        await _record(provider, headers, body, received_at=received_at, outcome=exc.code)
        logger.warning(
            "payments: notification refused", provider=provider, code=exc.code, reason=str(exc)
        )
        raise
    values: dict[str, Any] = {
        "received_at": received_at,
        "verified": True,
        "out_trade_no": note.out_trade_no,
    }
    recorded = await _record(provider, headers, body, nonce=note.nonce, **values)
    if recorded is None:
        await _record(provider, headers, body, outcome="notification_replayed", **values)
        raise NotificationRefused(
            "this notification was received before", code="notification_replayed"
        )
    return _Note(**recorded, out_trade_no=note.out_trade_no)


async def receive_notification(
    ctx: Payments, provider: str, headers: Mapping[str, str], body: bytes
) -> str:
    """Verify, record and act on a notification; returns the outcome it led to."""
    if provider != ctx.provider.name:
        raise NotFound(f"payments do not go through {provider!r} here", code="unknown_provider")
    note = await _verified(ctx, provider, headers, body)
    if note.payment_id is None:
        outcome = "unknown_payment"
    else:
        asked_unanswered = note.payment_status == "created"
        result = await ctx.provider.query(note.out_trade_no)
        outcome = await settle(ctx, note.payment_id, result, asked_unanswered=asked_unanswered)
    await _SET_OUTCOME.rows(outcome, note.id)
    return outcome
