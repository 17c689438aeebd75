from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from pos.db import MAX_INTEGER
from pos.errors import Unavailable
from pos.events.tables import OutboxEvent
from pos.inventory import counts
from pos.inventory import service as inventory
from pos.inventory.schemas import CountScanIn
from pos.inventory.tables import StockMovement
from pos.orders import service as orders
from pos.payments.provider import RefundResult
from pos.payments.sandbox import SandboxProvider
from pos.payments.settle import REFUND_EVENT
from pos.payments.tables import Payment, Refund, SandboxPayment
from tests.helpers.clock import Clock
from tests.helpers.staff import add_printer, add_store, login_as
from tests.integration.payments.conftest import Bought, order_state, run_due, scan, start

pytestmark = pytest.mark.anyio

CODE = "134567890123456789"


async def _paid(client: httpx.AsyncClient, bought: Bought) -> None:
    response = await scan(client, bought, CODE)
    assert response.json()["status"] == "paid", response.text


async def _refund(
    client: httpx.AsyncClient, bought: Bought, body: dict[str, object], key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def _on_hand(bought: Bought) -> int:
    return (await inventory.get_level(bought.shop.store_id, bought.product_id)).on_hand


async def test_payment_landing_on_a_closed_order_is_refunded_automatically(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    out_trade_no = (await start(pay_client, bought, {"method": "qr"})).json()["out_trade_no"]
    await orders.expire(bought.order_id)  # e.g. closed by staff while the shopper was paying
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    assert await order_state(bought.order_id) == "closed"
    payment = await Payment.objects().get(Payment.out_trade_no == out_trade_no)
    assert payment is not None
    assert (payment.status, payment.paid_order) == ("refunded", False)
    refund = await Refund.objects().get(Refund.payment == payment.id)
    assert refund is not None
    assert (refund.automatic, refund.amount_fen, refund.status) == (True, 2500, "succeeded")
    wallet = await SandboxPayment.objects().get(SandboxPayment.out_trade_no == out_trade_no)
    assert wallet is not None
    assert wallet.refunded_fen == 2500


async def test_partial_refund_with_restock_then_the_rest(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    assert await _on_hand(bought) == 8
    manager = await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 1250, "reason": "one pack damaged", "restock": {bought.product_id: 1}}
    response = await _refund(pay_client, bought, body)
    assert response.status_code == 201, response.text
    refund = response.json()
    assert (refund["status"], refund["amount_fen"]) == ("succeeded", 1250)
    assert (refund["requested_by"], refund["reason"]) == (manager.user_id, "one pack damaged")
    assert refund["restock"] == {str(bought.product_id): 1}
    assert await order_state(bought.order_id) == "partially_refunded"
    assert await _on_hand(bought) == 9
    rest = await _refund(pay_client, bought, {"amount_fen": 1250, "reason": "changed mind"})
    assert rest.json()["status"] == "succeeded"
    assert await order_state(bought.order_id) == "refunded"
    assert await _on_hand(bought) == 9
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert (payment.status, payment.refunded_fen) == ("refunded", 2500)


async def test_refund_retried_with_the_same_key_returns_the_first_answer(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "cashier", bought.shop.store_id)
    body = {"amount_fen": 500, "reason": "price match"}
    first = await _refund(pay_client, bought, body, key="refund-1")
    again = await _refund(pay_client, bought, body, key="refund-1")
    assert again.status_code in (200, 201)
    assert again.json() == first.json()
    assert await Refund.count() == 1
    order = await orders.get_order(bought.order_id)
    assert order.refunded_fen == 500


async def test_a_retry_racing_the_first_request_gets_its_answer(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 2500, "reason": "returned"}
    first, second = await asyncio.gather(
        _refund(pay_client, bought, body, key="refund-once"),
        _refund(pay_client, bought, body, key="refund-once"),
    )
    assert {first.status_code, second.status_code} <= {200, 201}, (first.text, second.text)
    assert first.json()["refund_id"] == second.json()["refund_id"]
    assert await Refund.count() == 1


async def test_refund_of_more_than_is_left_is_refused(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    await _refund(pay_client, bought, {"amount_fen": 2000, "reason": "damaged"})
    response = await _refund(pay_client, bought, {"amount_fen": 501, "reason": "more"})
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["left_fen"]) == ("refund_too_large", 500)


@pytest.mark.parametrize("amount_fen", [2**31, 2**63, True])
async def test_a_refund_past_what_an_amount_column_holds_or_of_true_is_a_400(
    pay_client: httpx.AsyncClient, bought: Bought, amount_fen: int
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    response = await _refund(pay_client, bought, {"amount_fen": amount_fen, "reason": "typo"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "amount_fen"
    assert (await Payment.objects().get(Payment.order == bought.order_id)).refunded_fen == 0


async def test_the_largest_amount_after_a_partial_refund_is_too_large_not_an_overflow(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    await _refund(pay_client, bought, {"amount_fen": 1250, "reason": "one damaged"})

    response = await _refund(pay_client, bought, {"amount_fen": MAX_INTEGER, "reason": "typo"})

    assert response.status_code == 409, response.text  # refunded + amount passed INTEGER: 500
    assert (response.json()["code"], response.json()["left_fen"]) == ("refund_too_large", 1250)
    assert (await Payment.objects().get(Payment.order == bought.order_id)).refunded_fen == 1250


async def test_the_sandbox_refunds_one_refund_number_once_under_concurrent_calls(
    pay_client: httpx.AsyncClient, bought: Bought, sandbox: SandboxProvider
) -> None:
    # The refund request and the outbox's safety net may finish one refund at the same time.
    await _paid(pay_client, bought)
    out_trade_no = (await Payment.objects().first()).out_trade_no
    refund = sandbox.refund(out_trade_no, "R-once", 1000, bought.total_fen)
    again = sandbox.refund(out_trade_no, "R-once", 1000, bought.total_fen)
    answers = await asyncio.gather(refund, again)
    assert answers == [RefundResult("succeeded", "R-once")] * 2
    row = await SandboxPayment.objects().get(SandboxPayment.out_trade_no == out_trade_no)
    assert row.refunded_fen == 1000


async def test_restock_of_goods_not_sold_is_refused_before_money_moves(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 100, "reason": "x", "restock": {bought.product_id: 3}}
    response = await _refund(pay_client, bought, body)
    assert response.status_code == 422
    assert response.json()["code"] == "restock_more_than_sold"
    true_units = {**body, "restock": {bought.product_id: True}}  # not one unit
    assert (await _refund(pay_client, bought, true_units)).status_code == 400
    assert await Refund.count() == 0


async def test_refund_slip_goes_to_the_printer_named(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    desk = await add_printer(bought.shop.store_id, "tcp://127.0.0.1:9", name="服务台")
    await login_as(pay_client, "cashier", bought.shop.store_id)
    body = {"amount_fen": 1250, "reason": "damaged", "printer_id": desk}
    response = await _refund(pay_client, bought, body)
    assert response.status_code == 201, response.text
    assert response.json()["printer_id"] == desk
    event = await OutboxEvent.select(OutboxEvent.payload).where(
        OutboxEvent.kind == orders.ORDER_REFUNDED
    )
    (payload,) = [json.loads(row["payload"]) for row in event]
    assert payload["slip_printer_id"] == desk


async def test_refund_slip_printer_of_another_store_is_refused_before_money_moves(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    foreign = await add_printer(await add_store(), "tcp://127.0.0.1:9")
    await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 1250, "reason": "damaged", "printer_id": foreign}
    response = await _refund(pay_client, bought, body)
    assert response.status_code == 422
    assert response.json()["code"] == "printer_not_in_store"
    assert await Refund.count() == 0
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert payment.refunded_fen == 0


async def test_unpaid_order_cannot_be_refunded(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await login_as(pay_client, "manager", bought.shop.store_id)
    response = await _refund(pay_client, bought, {"amount_fen": 100, "reason": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_paid"


async def test_refund_needs_a_manager_or_cashier_of_the_store(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    body = {"amount_fen": 100, "reason": "x"}
    assert (await _refund(pay_client, bought, body)).status_code == 401
    await login_as(pay_client, "restocker", bought.shop.store_id)
    assert (await _refund(pay_client, bought, body)).status_code == 403
    await login_as(pay_client, "manager", await add_store())
    assert (await _refund(pay_client, bought, body)).json()["code"] == "other_store"
    assert await Refund.count() == 0


async def test_a_refund_key_of_another_stores_order_answers_nothing_of_it(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 100, "reason": "bruised"}
    assert (await _refund(pay_client, bought, body, key="refund-1")).status_code == 201
    other = await add_store()
    await login_as(pay_client, "manager", other)
    response = await pay_client.post(
        f"/api/stores/{other}/orders/{bought.order_id}/refunds",
        json=body,
        headers={"Idempotency-Key": "refund-1"},
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_paid")
    assert await Refund.count() == 1


async def test_refund_the_provider_refuses_changes_nothing_and_is_flagged(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    await SandboxPayment.update(
        {SandboxPayment.status: "closed"}, force=True
    )  # the gateway says no
    response = await _refund(pay_client, bought, {"amount_fen": 500, "reason": "x"})
    assert response.json()["status"] == "failed"
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert (payment.status, payment.refunded_fen, payment.flag) == ("paid", 0, "")
    refund = await Refund.objects().get(Refund.id == response.json()["refund_id"])
    assert refund is not None
    assert refund.flag == "refund_failed"
    assert await order_state(bought.order_id) == "paid"


async def test_units_already_put_back_cannot_come_back_again(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    body = {"amount_fen": 1250, "reason": "returned", "restock": {bought.product_id: 2}}
    assert (await _refund(pay_client, bought, body)).status_code == 201
    assert await _on_hand(bought) == 10
    again = await _refund(pay_client, bought, body)
    assert (again.status_code, again.json()["code"]) == (422, "restock_more_than_sold")
    assert await _on_hand(bought) == 10
    assert await Refund.count() == 1
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert payment.refunded_fen == 1250


async def test_units_of_a_refund_still_processing_cannot_come_back_again(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)

    async def processing(*_: object) -> RefundResult:
        return RefundResult("processing")

    monkeypatch.setattr(sandbox, "refund", processing)  # WeChat answers PROCESSING
    body = {"amount_fen": 1250, "reason": "returned", "restock": {bought.product_id: 2}}
    assert (await _refund(pay_client, bought, body)).json()["status"] == "pending"
    again = await _refund(pay_client, bought, body)
    assert (again.status_code, again.json()["code"]) == (422, "restock_more_than_sold")
    assert await Refund.count() == 1


async def test_goods_counted_while_their_refund_was_processing_are_not_restocked_twice(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)  # 2 of 10 sold: 8 on hand
    await login_as(pay_client, "manager", bought.shop.store_id)
    refund = sandbox.refund

    async def processing(*_: object) -> RefundResult:
        return RefundResult("processing")  # WeChat's usual first answer

    monkeypatch.setattr(sandbox, "refund", processing)
    body = {"amount_fen": 1250, "reason": "returned", "restock": {bought.product_id: 1}}
    assert (await _refund(pay_client, bought, body)).json()["status"] == "pending"
    # The pack is back on the shelf; a count finds 9 while WeChat is still refunding.
    store_id = bought.shop.store_id
    count = await counts.start(store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=bought.product_id, quantity=9)
    await counts.scan(store_id, count.id, scan, idempotency_key=None)
    await counts.finish(store_id, count.id, actor="staff:1")
    monkeypatch.setattr(sandbox, "refund", refund)

    clock.advance(61)
    await run_due(clock)  # the refund finishes

    assert [row["status"] for row in await Refund.select(Refund.status)] == ["succeeded"]
    assert await _on_hand(bought) == 9
    # Recorded as of the refund's asking, before the count: the count has it.
    asked = await Refund.select(Refund.created_at).first()
    assert asked is not None
    returned = await StockMovement.select(StockMovement.applied, StockMovement.occurred_at).where(
        StockMovement.kind == "return"
    )
    assert returned == [{"applied": False, "occurred_at": asked["created_at"]}]


async def test_a_refund_the_provider_did_not_answer_is_answered_pending_and_finished_later(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    refund = sandbox.refund
    calls = 0

    async def no_answer_first(*args: object) -> RefundResult:
        nonlocal calls
        calls += 1
        if calls == 1:  # a timeout, a 5xx, WeChat's FREQUENCY_LIMITED ...
            raise Unavailable("WeChat Pay did not answer", code="provider_unavailable")
        return await refund(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox, "refund", no_answer_first)
    body = {"amount_fen": 1000, "reason": "one pack damaged"}

    first = await _refund(pay_client, bought, body, key="refund-1")

    # The refund is reserved and its safety net will finish it: a 503 ("please try again")
    # makes staff refund once more with a new key, and the shopper is paid twice.
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "pending"
    again = await _refund(pay_client, bought, body, key="refund-1")
    assert again.json() == first.json()  # a retry gets the first answer
    clock.advance(31)
    await run_due(clock)
    assert [row["status"] for row in await Refund.select(Refund.status)] == ["succeeded"]
    assert await order_state(bought.order_id) == "partially_refunded"


async def test_a_refund_whose_reason_is_blank_is_refused_before_money_moves(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "cashier", bought.shop.store_id)

    response = await _refund(pay_client, bought, {"amount_fen": 2500, "reason": "   "})

    # DESIGN rule 10: every refund records why (the tablet's form strips and refuses blanks).
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "reason"
    assert await Refund.count() == 0


async def test_a_refund_reason_is_kept_without_its_surrounding_spaces(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "cashier", bought.shop.store_id)

    response = await _refund(pay_client, bought, {"amount_fen": 500, "reason": " dented \n"})

    assert response.json()["reason"] == "dented", response.text


async def test_the_sandbox_answers_a_refund_query_by_the_refund_number(
    pay_client: httpx.AsyncClient, bought: Bought, sandbox: SandboxProvider
) -> None:
    await _paid(pay_client, bought)
    out_trade_no = (await Payment.objects().first()).out_trade_no
    await sandbox.refund(out_trade_no, "R-taken", 1000, bought.total_fen)
    await sandbox.refund(out_trade_no, "R-refused", bought.total_fen, bought.total_fen)

    assert await sandbox.query_refund("R-taken", out_trade_no) == RefundResult(
        "succeeded", "R-taken"
    )
    assert await sandbox.query_refund("R-refused", out_trade_no) is None
    assert await sandbox.query_refund("R-never-asked", out_trade_no) is None


def _processing_forever(sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The sandbox processes every refund and never finishes one; counts what it is asked."""
    asked: Counter[str] = Counter()

    async def processing(*_: object) -> RefundResult:
        asked["refund"] += 1
        return RefundResult("processing")

    async def still_processing(*_: object) -> RefundResult:
        asked["query"] += 1
        return RefundResult("processing")

    monkeypatch.setattr(sandbox, "refund", processing)
    monkeypatch.setattr(sandbox, "query_refund", still_processing)
    return asked


async def _next_check(clock: Clock) -> bool:
    """Move the clock to the next check of a refund and run it; False when none is due."""
    due = (
        await OutboxEvent.select(OutboxEvent.available_at)
        .where((OutboxEvent.kind == REFUND_EVENT) & OutboxEvent.done_at.is_null())
        .order_by(OutboxEvent.available_at)
        .first()
    )
    if due is None:
        return False
    clock.now = max(clock.now, due["available_at"])
    await run_due(clock)
    return True


async def test_a_refund_still_processing_is_queried_with_doubling_delays_not_asked_again(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    asked = _processing_forever(sandbox, monkeypatch)
    asked_at = clock()
    response = await _refund(pay_client, bought, {"amount_fen": 1250, "reason": "returned"})
    assert response.json()["status"] == "pending"

    minutes = []
    for _ in range(9):
        assert await _next_check(clock)
        minutes.append((clock() - asked_at).total_seconds() / 60)

    # The safety net at 30 s, then 1 min after the answer, doubling up to an hour.
    assert minutes == [0.5, 1, 3, 7, 15, 31, 63, 123, 183]
    assert asked == {"refund": 1, "query": 9}


async def test_a_refund_processing_for_three_days_is_flagged_for_staff_and_queried_no_more(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    asked = _processing_forever(sandbox, monkeypatch)
    asked_at = clock()
    await _refund(pay_client, bought, {"amount_fen": 1250, "reason": "returned"})

    while await _next_check(clock):
        assert clock() - asked_at <= timedelta(days=3)

    assert clock() - asked_at == timedelta(days=3)  # the last query, at the bound
    assert asked["query"] < 100
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    # Still pending here, and still reserved: the provider may yet pay it out.
    assert payment.refunded_fen == 1250
    assert await Refund.select(Refund.status, Refund.flag) == [
        {"status": "pending", "flag": "refund_overdue"}
    ]
    listed = await pay_client.get(f"/api/stores/{bought.shop.store_id}/payments/flagged")
    assert [entry["flag"] for entry in listed.json()] == ["refund_overdue"]


async def test_a_check_that_finds_no_such_refund_at_the_provider_asks_for_it_again(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    refund = sandbox.refund

    async def lost(*_: object) -> RefundResult:
        return RefundResult("processing")  # an answer whose refund the sandbox never booked

    monkeypatch.setattr(sandbox, "refund", lost)
    response = await _refund(pay_client, bought, {"amount_fen": 1250, "reason": "returned"})
    assert response.json()["status"] == "pending"
    monkeypatch.setattr(sandbox, "refund", refund)

    assert await _next_check(clock)  # the query finds none: the same number is asked again

    assert [row["status"] for row in await Refund.select(Refund.status)] == ["succeeded"]
    wallet = await SandboxPayment.objects().first()
    assert wallet is not None
    assert wallet.refunded_fen == 1250


async def _overdue(
    client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Pay, refund 12.50 putting a unit back, and let the provider process it until the checks
    give up; the refund's check-again path."""
    await _paid(client, bought)
    await login_as(client, "manager", bought.shop.store_id)
    _processing_forever(sandbox, monkeypatch)
    body = {"amount_fen": 1250, "reason": "returned", "restock": {bought.product_id: 1}}
    refund = (await _refund(client, bought, body)).json()
    while await _next_check(clock):
        pass
    flagged = f"/api/stores/{bought.shop.store_id}/payments/flagged"
    return f"{flagged}/{refund['payment_id']}/refunds/{refund['refund_id']}/check"


def _provider_finishes(
    sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch, result: RefundResult
) -> Counter[str]:
    """The provider answers a refund query with `result` from now on; counts the queries."""
    asked: Counter[str] = Counter()

    async def finished(*_: object) -> RefundResult:
        asked["query"] += 1
        return result

    monkeypatch.setattr(sandbox, "query_refund", finished)
    return asked


async def test_checking_an_overdue_refund_again_settles_it_as_its_checks_would_have(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = await _overdue(pay_client, bought, sandbox, clock, monkeypatch)
    asked = _provider_finishes(sandbox, monkeypatch, RefundResult("succeeded", "WX-R-1"))
    on_hand = await _on_hand(bought)

    checked = await pay_client.post(check, headers={"Idempotency-Key": "check-1"})

    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "succeeded"
    assert await _on_hand(bought) == on_hand + 1
    order = await orders.get_order(bought.order_id)
    assert (order.state, order.refunded_fen) == ("partially_refunded", 1250)
    reversal = await OutboxEvent.count().where(OutboxEvent.kind == orders.ORDER_REFUNDED)
    assert reversal == 1  # the platform's reversal of the certified sale
    flagged = f"/api/stores/{bought.shop.store_id}/payments/flagged"
    assert (await pay_client.get(flagged)).json() == []
    (resolved,) = (await pay_client.get(flagged, params={"resolved": "true"})).json()
    assert resolved["flag"] == "refund_overdue"
    again = await pay_client.post(check, headers={"Idempotency-Key": "check-1"})
    assert again.json() == checked.json()
    assert asked["query"] == 1


async def test_checking_again_a_refund_still_processing_leaves_it_pending_and_flagged(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = await _overdue(pay_client, bought, sandbox, clock, monkeypatch)
    on_hand = await _on_hand(bought)

    checked = await pay_client.post(check, headers={"Idempotency-Key": uuid.uuid4().hex})

    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "pending"
    assert await Refund.select(Refund.status, Refund.flag) == [
        {"status": "pending", "flag": "refund_overdue"}
    ]
    assert await _on_hand(bought) == on_hand
    assert await _next_check(clock) is False  # staff check again; nothing is scheduled


async def test_checking_again_a_refund_the_provider_refused_releases_it_and_flags_it_failed(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = await _overdue(pay_client, bought, sandbox, clock, monkeypatch)
    _provider_finishes(sandbox, monkeypatch, RefundResult("failed"))
    on_hand = await _on_hand(bought)

    checked = await pay_client.post(check, headers={"Idempotency-Key": uuid.uuid4().hex})

    assert checked.json()["status"] == "failed", checked.text
    assert await _on_hand(bought) == on_hand
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert payment.refunded_fen == 0
    flagged = await pay_client.get(f"/api/stores/{bought.shop.store_id}/payments/flagged")
    assert [entry["flag"] for entry in flagged.json()] == ["refund_failed"]


async def test_checking_again_while_the_provider_does_not_answer_is_a_503_changing_nothing(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = await _overdue(pay_client, bought, sandbox, clock, monkeypatch)

    async def no_answer(*_: object) -> RefundResult:
        raise Unavailable("WeChat Pay did not answer", code="provider_unavailable")

    monkeypatch.setattr(sandbox, "query_refund", no_answer)
    checked = await pay_client.post(check, headers={"Idempotency-Key": "check-1"})

    assert (checked.status_code, checked.json()["code"]) == (503, "provider_unavailable")
    assert await Refund.select(Refund.status, Refund.flag) == [
        {"status": "pending", "flag": "refund_overdue"}
    ]
    # Nothing was kept of it: the same key asks again once the provider answers.
    _provider_finishes(sandbox, monkeypatch, RefundResult("succeeded", "WX-R-1"))
    again = await pay_client.post(check, headers={"Idempotency-Key": "check-1"})
    assert again.json()["status"] == "succeeded", again.text


async def test_checking_a_refund_again_needs_a_manager_or_cashier_of_its_store(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = await _overdue(pay_client, bought, sandbox, clock, monkeypatch)
    asked = _provider_finishes(sandbox, monkeypatch, RefundResult("succeeded", "WX-R-1"))
    key = {"Idempotency-Key": uuid.uuid4().hex}

    assert (await pay_client.post(check)).status_code == 400  # no Idempotency-Key
    await login_as(pay_client, "restocker", bought.shop.store_id)
    assert (await pay_client.post(check, headers=key)).status_code == 403
    other_store = await add_store()
    await login_as(pay_client, "manager", other_store)
    theirs = check.replace(f"/stores/{bought.shop.store_id}/", f"/stores/{other_store}/")
    through_theirs = await pay_client.post(theirs, headers=key)
    assert (through_theirs.status_code, through_theirs.json()["code"]) == (
        404,
        "refund_not_flagged",
    )
    assert asked["query"] == 0
    assert [row["status"] for row in await Refund.select(Refund.status)] == ["pending"]
