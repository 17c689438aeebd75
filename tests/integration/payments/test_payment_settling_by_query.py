from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from pos.events.outbox import Event
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.payments.provider import ChargeResult, PaymentRequest, QueryResult
from pos.payments.sandbox import SandboxProvider
from pos.payments.service import cancel_order
from pos.payments.settle import POLL_EVENT, Payments, settle
from pos.payments.tables import Payment, Refund, SandboxPayment
from tests.helpers.clock import Clock
from tests.integration.payments.conftest import (
    Bought,
    Sent,
    order_state,
    query_paid_without_amount,
    run_due,
    scan,
    start,
)

pytestmark = pytest.mark.anyio

WECHAT_CODE = "134567890123456789"  # any other ending: paid at once
USER_PAYING_FOREVER = "134567890123450002"
NO_FUNDS = "134567890123450003"
WRONG_PIN = "134567890123450004"  # user paying, then failed: the payer's PIN was wrong


async def _payment(order_id: int) -> Payment:
    payment = await Payment.objects().get(Payment.order == order_id)
    assert payment is not None
    return payment


async def _payment_by_method(order_id: int, method: str) -> Payment:
    payment = await Payment.objects().get((Payment.order == order_id) & (Payment.method == method))
    assert payment is not None
    return payment


async def _sandbox_status(out_trade_no: str) -> str:
    row = await SandboxPayment.objects().get(SandboxPayment.out_trade_no == out_trade_no)
    assert row is not None
    return row.status


async def _run_for(clock: Clock, seconds: int, step: int = 1) -> None:
    """Let `seconds` pass, running the outbox at each `step`."""
    for _ in range(0, seconds, step):
        clock.advance(step)
        await run_due(clock)


def _late_pin_before_the_reverse(
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
    notification: Callable[[QueryResult], Awaitable[None]],
) -> None:
    """The payer confirms after the last "user paying", and a notification's query reads it
    (handed to `notification`), just before the poll's reverse reaches the gateway."""
    reverse = sandbox.reverse

    async def reverse_after_a_late_pin(no: str) -> None:
        assert await sandbox.pay(no, "wx-payer-late")
        await notification(await sandbox.query(no))
        await reverse(no)

    monkeypatch.setattr(sandbox, "reverse", reverse_after_a_late_pin)


async def test_lost_notification_is_settled_by_polling(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sent: Sent,
    sandbox: SandboxProvider,
) -> None:
    response = await start(pay_client, bought, {"method": "qr"})
    await sandbox.pay(response.json()["out_trade_no"], "wx-payer-1")  # no notification at all
    await run_due(clock)
    assert await order_state(bought.order_id) == "paying"
    clock.advance(5)
    await run_due(clock)
    assert sent.posts == []
    assert await order_state(bought.order_id) == "paid"
    assert (await _payment(bought.order_id)).status == "paid"


async def _dead_polls() -> int:
    return await OutboxEvent.count().where(
        (OutboxEvent.kind == POLL_EVENT) & OutboxEvent.dead_at.is_not_null()
    )


async def test_a_poll_rides_out_a_provider_outage_of_hours_and_then_settles(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await start(pay_client, bought, {"method": "qr"})
    await sandbox.pay(response.json()["out_trade_no"], "wx-payer-1")  # no notification at all

    async def unreachable(no: str) -> QueryResult:
        raise ConnectionError("the gateway is away")

    monkeypatch.setattr(sandbox, "query", unreachable)
    await _run_for(clock, 3 * 3600, step=60)  # far more failures than MAX_ATTEMPTS
    assert await _dead_polls() == 0
    assert (await _payment(bought.order_id)).status == "pending"
    monkeypatch.undo()
    await _run_for(clock, 3600, step=60)
    assert (await _payment(bought.order_id)).status in ("paid", "refunded")
    assert await _dead_polls() == 0


async def test_a_paid_answer_without_its_amount_settles_nothing_and_the_poll_is_retried(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await start(pay_client, bought, {"method": "qr"})
    await sandbox.pay(response.json()["out_trade_no"], "wx-payer-1")  # no notification at all
    query_paid_without_amount(sandbox, monkeypatch)
    await _run_for(clock, 5)
    payment = await _payment(bought.order_id)
    assert (payment.status, payment.paid_fen, payment.flag) == ("pending", None, "")
    assert await order_state(bought.order_id) == "paying"
    assert await Refund.count() == 0
    monkeypatch.undo()
    await _run_for(clock, 10)  # the poll's retry comes after its back-off
    assert await order_state(bought.order_id) == "paid"
    assert await Refund.count() == 0


async def test_unpaid_qr_payment_is_closed_and_its_order_expired_after_polling(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    response = await start(pay_client, bought, {"method": "qr"})
    out_trade_no = response.json()["out_trade_no"]
    await _run_for(clock, 4 * 60, step=30)
    assert await order_state(bought.order_id) == "paying"
    await _run_for(clock, 90, step=30)  # the order's 5-minute hold is over
    assert await order_state(bought.order_id) == "closed"
    assert (await _payment(bought.order_id)).status == "closed"
    assert await _sandbox_status(out_trade_no) == "closed"
    paying = await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "late"})
    assert "已关闭" in paying.text


async def test_payer_code_paid_at_once_pays_the_order(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    response = await scan(pay_client, bought, WECHAT_CODE)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "paid"
    assert await order_state(bought.order_id) == "paid"
    assert (await _payment(bought.order_id)).payer_hash is not None


async def test_a_charge_answered_paid_without_its_amount_is_left_to_the_poll(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    charge = sandbox.charge_code

    async def without_amount(request: PaymentRequest, auth_code: str) -> ChargeResult:
        return replace(await charge(request, auth_code), amount_fen=None)

    monkeypatch.setattr(sandbox, "charge_code", without_amount)
    response = await scan(pay_client, bought, WECHAT_CODE)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "provider_answer_malformed"
    payment = await _payment(bought.order_id)
    assert (payment.status, payment.paid_fen, payment.flag) == ("created", None, "")
    assert await Refund.count() == 0
    await _run_for(clock, 2)  # the first poll's query carries the amount
    assert await order_state(bought.order_id) == "paid"
    assert await Refund.count() == 0


async def test_payer_code_user_paying_then_paid(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    code = "134567890123450001"
    response = await scan(pay_client, bought, code)
    assert response.json()["status"] == "pending"
    await _run_for(clock, 2)
    assert await order_state(bought.order_id) == "paying"
    await _run_for(clock, 2)
    assert await order_state(bought.order_id) == "paid"


async def test_payer_code_user_paying_forever_is_reversed_after_90_s(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    code = USER_PAYING_FOREVER
    response = await scan(pay_client, bought, code)
    await _run_for(clock, 88)
    assert (await _payment(bought.order_id)).status == "pending"
    await _run_for(clock, 4)
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await _sandbox_status(response.json()["out_trade_no"]) == "reversed"
    assert await order_state(bought.order_id) == "open"  # the shopper may pay another way


async def test_payer_code_with_insufficient_funds_fails_and_reopens_the_order(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    code = NO_FUNDS
    response = await scan(pay_client, bought, code)
    assert response.json()["status"] == "closed"
    assert response.json()["failure"] == "insufficient_funds"
    assert await order_state(bought.order_id) == "open"


async def test_payer_code_failing_after_the_pin_is_reversed_and_keeps_the_reason(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    response = await scan(pay_client, bought, WRONG_PIN)
    assert (response.json()["status"], response.json()["failure"]) == ("pending", "")

    await _run_for(clock, 2)

    payment = await _payment(bought.order_id)
    assert (payment.status, payment.failure) == ("reversed", "wrong_pin")
    assert await _sandbox_status(payment.out_trade_no) == "reversed"
    assert await order_state(bought.order_id) == "open"
    history = await orders.transitions(bought.order_id)
    assert history[-1].reason.endswith("reversed: wrong_pin")
    # The shopper's phone, or the kiosk's own app, reads it from the order's payments.
    listed = await pay_client.get(
        f"/api/orders/{bought.order_id}/payments", params={"token": bought.token}
    )
    assert listed.status_code == 200, listed.text
    assert [(p["method"], p["status"], p["failure"]) for p in listed.json()] == [
        ("code", "reversed", "wrong_pin")
    ]


async def test_a_code_failing_beside_an_open_qr_payment_tells_the_order_s_listeners(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await start(pay_client, bought, {"method": "qr"})  # the kiosk's QR code, still open
    await scan(pay_client, bought, WRONG_PIN)
    announced: list[tuple[int, str]] = []

    async def record(order_id: int, state: str) -> None:
        announced.append((order_id, state))

    monkeypatch.setattr(orders, "announce", record)
    await _run_for(clock, 2)

    assert (await _payment_by_method(bought.order_id, "code")).failure == "wrong_pin"
    assert await order_state(bought.order_id) == "paying"  # its QR code may still be paid
    # The kiosk reads the order's status again, and shows the shopper why the code failed.
    assert announced == [(bought.order_id, "paying")]


async def test_not_a_payment_code_is_refused(pay_client: httpx.AsyncClient, bought: Bought) -> None:
    response = await scan(pay_client, bought, "6901234567892")
    assert response.status_code == 422
    assert response.json()["code"] == "bad_payment_code"
    assert await order_state(bought.order_id) == "open"


async def test_a_charge_slower_than_the_first_poll_still_pays_the_order(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    charge = sandbox.charge_code

    async def slow_charge(request: PaymentRequest, auth_code: str) -> ChargeResult:
        # The first poll runs while the gateway still works on the charge: no such trade yet.
        await _run_for(clock, 2)
        return await charge(request, auth_code)

    monkeypatch.setattr(sandbox, "charge_code", slow_charge)
    response = await scan(pay_client, bought, WECHAT_CODE)
    assert response.json()["status"] == "paid"
    assert await order_state(bought.order_id) == "paid"
    assert await Refund.count() == 0


async def test_a_cancel_while_the_charge_is_out_refunds_the_money_that_lands(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    payments: Payments,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    charge = sandbox.charge_code

    async def cancelled_meanwhile(request: PaymentRequest, auth_code: str) -> ChargeResult:
        # The kiosk's Cancel while the charge is on its way: a reverse now could miss it.
        await cancel_order(payments, bought.order_id, actor="shopper")
        return await charge(request, auth_code)

    monkeypatch.setattr(sandbox, "charge_code", cancelled_meanwhile)
    await scan(pay_client, bought, WECHAT_CODE)

    assert await order_state(bought.order_id) == "closed"
    assert await Refund.select(Refund.amount_fen) == [{"amount_fen": bought.total_fen}]


async def test_a_cancel_while_the_payer_is_asked_for_the_pin_reverses_the_code_payment(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    payments: Payments,
    sandbox: SandboxProvider,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    out_trade_no = response.json()["out_trade_no"]
    await _run_for(clock, 20)  # "user paying": the PIN is asked for on the payer's phone

    await cancel_order(payments, bought.order_id, actor="device:1")  # the kiosk's Cancel

    assert await _sandbox_status(out_trade_no) == "reversed"
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await order_state(bought.order_id) == "closed"
    assert await sandbox.pay(out_trade_no, "wx-payer-late") is None  # the PIN pays nothing now
    await _run_for(clock, 90, step=5)
    assert await Refund.count() == 0


async def test_a_code_cancelled_right_after_its_charge_is_reversed_15_s_after_the_charge(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    payments: Payments,
    sandbox: SandboxProvider,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    out_trade_no = response.json()["out_trade_no"]
    await _run_for(clock, 3)

    await cancel_order(payments, bought.order_id, actor="device:1")

    assert await order_state(bought.order_id) == "closed"  # its goods sell again at once
    assert (await _payment(bought.order_id)).status == "closing"
    assert await sandbox.pay(out_trade_no, "wx-payer-late") is not None  # the PIN, just in time
    await _run_for(clock, 11)
    assert await _sandbox_status(out_trade_no) == "paid"  # WeChat: no reverse within 15 s
    await _run_for(clock, 2)
    assert await _sandbox_status(out_trade_no) == "reversed"  # and the money with it
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await Refund.count() == 0


async def test_a_cancel_during_a_poll_that_reads_the_pin_paid_still_ends_in_the_reverse(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    payments: Payments,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    out_trade_no = response.json()["out_trade_no"]
    query = sandbox.query

    async def pin_and_cancel_meanwhile(no: str) -> QueryResult:
        monkeypatch.setattr(sandbox, "query", query)
        assert await sandbox.pay(no, "wx-payer-1")
        await cancel_order(payments, bought.order_id, actor="device:1")
        return await query(no)  # paid, but the payment is closing: only the reverse decides

    monkeypatch.setattr(sandbox, "query", pin_and_cancel_meanwhile)
    await _run_for(clock, 2)
    assert (await _payment(bought.order_id)).status == "closing"
    await _run_for(clock, 14)
    assert await _sandbox_status(out_trade_no) == "reversed"
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await order_state(bought.order_id) == "closed"


async def test_a_no_such_trade_read_before_the_charge_answered_is_not_applied_after_it(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first poll's query overtakes the slow charge ("no such trade"), and its answer is
    # applied only after the charge answered "user paying": closing then would stop the polls,
    # and the payer's PIN a moment later would pay an order left open.
    charge, query = sandbox.charge_code, sandbox.query
    charging, queried, charged = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_charge(request: PaymentRequest, auth_code: str) -> ChargeResult:
        charging.set()
        await queried.wait()
        return await charge(request, auth_code)

    async def overtaking_query(out_trade_no: str) -> QueryResult:
        answer = await query(out_trade_no)
        if not queried.is_set():
            queried.set()
            await charged.wait()
        return answer

    monkeypatch.setattr(sandbox, "charge_code", slow_charge)
    monkeypatch.setattr(sandbox, "query", overtaking_query)
    starting = asyncio.create_task(scan(pay_client, bought, USER_PAYING_FOREVER))
    await charging.wait()
    polling = asyncio.create_task(_run_for(clock, 2))
    response = await starting
    assert response.json()["status"] == "pending"
    charged.set()
    await polling
    assert (await _payment(bought.order_id)).status == "pending"
    assert await sandbox.pay(response.json()["out_trade_no"], "wx-payer-1") is not None
    await _run_for(clock, 5, step=5)
    assert await order_state(bought.order_id) == "paid"


async def test_a_payment_confirmed_just_before_its_reverse_is_not_left_a_sale(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    payments: Payments,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    out_trade_no, payment_id = response.json()["out_trade_no"], response.json()["payment_id"]

    async def settled_at_once(answer: QueryResult) -> None:
        assert await settle(payments, payment_id, answer) == "duplicate"

    _late_pin_before_the_reverse(sandbox, monkeypatch, settled_at_once)
    await _run_for(clock, 92)
    assert await _sandbox_status(out_trade_no) == "reversed"  # the payer has the money back
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await order_state(bought.order_id) == "open"


async def test_a_paid_answer_read_before_the_reverse_pays_nothing_after_it(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    payments: Payments,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    payment_id, stale = response.json()["payment_id"], []

    async def kept(answer: QueryResult) -> None:
        stale.append(answer)

    _late_pin_before_the_reverse(sandbox, monkeypatch, kept)
    await _run_for(clock, 92)
    assert (await _payment(bought.order_id)).status == "reversed"  # the payer has the money back
    # The notification's settle comes after the reverse, with the answer it read before it.
    assert await settle(payments, payment_id, stale[0]) == "duplicate"
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await order_state(bought.order_id) == "open"


async def test_a_reverse_that_failed_is_tried_again_by_the_next_poll(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await scan(pay_client, bought, USER_PAYING_FOREVER)
    reverse = sandbox.reverse

    async def unreachable(no: str) -> None:
        raise ConnectionError("the gateway is away")

    monkeypatch.setattr(sandbox, "reverse", unreachable)
    await _run_for(clock, 92)
    assert (await _payment(bought.order_id)).status == "closing"
    monkeypatch.setattr(sandbox, "reverse", reverse)
    await _run_for(clock, 60, step=10)  # the poll's retry comes after its back-off
    assert (await _payment(bought.order_id)).status == "reversed"
    assert await _sandbox_status(response.json()["out_trade_no"]) == "reversed"
    assert await order_state(bought.order_id) == "open"


async def test_a_failed_attempt_leaves_the_order_to_the_attempt_still_open(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sandbox: SandboxProvider
) -> None:
    qr = (await start(pay_client, bought, {"method": "qr"})).json()
    failed = await scan(pay_client, bought, NO_FUNDS)
    assert failed.json()["status"] == "closed"
    assert await order_state(bought.order_id) == "paying"  # the QR payment may still come

    order = await orders.get_order(bought.order_id)
    clock.now = order.expires_at - timedelta(seconds=1)
    assert await sandbox.pay(qr["out_trade_no"], "wx-payer-1")  # in time; notification lost
    clock.now = order.expires_at
    expiry = {"order_id": bought.order_id}
    await orders.on_hold_expiry(Event(0, orders.HOLD_EXPIRY, str(bought.order_id), expiry, 1))
    await _run_for(clock, 1)
    assert await order_state(bought.order_id) == "paid"
    assert await Refund.count() == 0
