"""An order's history for staff: every transition, with who, when and why."""

from __future__ import annotations

import uuid

import httpx
import pytest

from pos.inventory.tables import StockMovement
from pos.orders import service as orders
from pos.payments.provider import ChargeResult, PaymentRequest
from pos.payments.sandbox import SandboxProvider
from pos.staff import service as staff
from tests.helpers.staff import add_device, add_store, login_as
from tests.integration.payments.conftest import Bought, scan, start

pytestmark = pytest.mark.anyio


async def test_staff_read_every_transition_of_an_order(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    paid = await scan(pay_client, bought, "134567890123456789")
    assert paid.json()["status"] == "paid", paid.text
    manager = await login_as(pay_client, "manager", bought.shop.store_id)
    await pay_client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": 500, "reason": "bag torn", "restock": {bought.product_id: 1}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    history = await pay_client.get(f"/api/orders/{bought.order_id}/history")
    assert history.status_code == 200, history.text
    steps = [(step["from_state"], step["to_state"], step["event"]) for step in history.json()]
    assert steps == [
        (None, "open", "created"),
        ("open", "paying", "payment_started"),
        ("paying", "paid", "payment_succeeded"),
        ("paid", "partially_refunded", "refunded_partly"),
    ]
    created, *_, refunded = history.json()
    assert created["actor"] == f"counter:{bought.shop.counter_id}"
    assert refunded["actor"] == f"staff:{manager.user_id}"
    assert refunded["reason"] == "500 fen: bag torn"
    assert created["at"] <= refunded["at"]
    returned = await StockMovement.select(StockMovement.actor, StockMovement.reason).where(
        StockMovement.kind == "return"
    )
    assert returned == [{"actor": f"staff:{manager.user_id}", "reason": "bag torn"}]


async def test_each_payment_attempt_says_who_started_it_how_and_how_it_ended(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    store_id = bought.shop.store_id
    device_id = await add_device(store_id, "counter", counter_id=bought.shop.counter_id)
    issued = await staff.issue_device_token(device_id, store_id=store_id)
    refused = await pay_client.post(
        f"/api/orders/{bought.order_id}/payments",
        json={"method": "code", "auth_code": "134567890123450003"},
        headers={"Authorization": f"Bearer {issued.token}", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.json()["status"] == "closed", refused.text
    qr = await start(pay_client, bought, {"method": "qr"})
    assert qr.status_code == 201, qr.text

    history = await orders.transitions(bought.order_id)

    code_no, qr_no = refused.json()["out_trade_no"], qr.json()["out_trade_no"]
    assert [(step.event, step.actor, step.reason) for step in history[1:]] == [
        ("payment_started", f"device:{device_id}", f"sandbox_code {code_no}"),
        ("payment_failed", "sandbox", f"sandbox_code {code_no} closed: insufficient_funds"),
        ("payment_started", "shopper", f"sandbox_qr {qr_no}"),
    ]


async def test_a_provider_s_long_reason_is_cut_to_fit_the_history(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def wordy_refusal(payment: PaymentRequest, auth_code: str) -> ChargeResult:
        return ChargeResult("failed", reason="RISK_CONTROL " + "交易存在风险" * 60)

    monkeypatch.setattr(sandbox, "charge_code", wordy_refusal)
    refused = await scan(pay_client, bought, "134567890123456789")
    assert refused.json()["failure"].startswith("RISK_CONTROL 交易存在风险"), refused.text

    failed = (await orders.transitions(bought.order_id))[-1]

    assert failed.event == "payment_failed"
    code_no = refused.json()["out_trade_no"]
    assert failed.reason.startswith(f"sandbox_code {code_no} closed: RISK_CONTROL 交易存在风险")
    assert len(failed.reason) == 255  # the column's size: the rest of the provider's words go


async def test_the_history_is_for_staff_of_the_order_s_store_only(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    path = f"/api/orders/{bought.order_id}/history"
    shopper = await pay_client.get(path, params={"token": bought.token})
    assert shopper.status_code == 401
    await login_as(pay_client, "cashier", await add_store())
    assert (await pay_client.get(path)).json()["code"] == "other_store"
    await login_as(pay_client, "restocker", bought.shop.store_id)
    assert (await pay_client.get(path)).status_code == 200
