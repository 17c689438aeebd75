"""Payments flagged for staff (an amount that did not match, a refund the provider refused)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from pos.payments.tables import Payment, SandboxPayment
from tests.helpers.clock import Clock
from tests.helpers.staff import add_store, login_as
from tests.integration.payments.conftest import Bought, run_due, start

pytestmark = pytest.mark.anyio


def _flagged_path(bought: Bought) -> str:
    return f"/api/stores/{bought.shop.store_id}/payments/flagged"


async def _failed_refund(client: httpx.AsyncClient, bought: Bought) -> int:
    """Pay the order by code, then have the provider refuse a refund of it; the payment id."""
    paid = await start(client, bought, {"method": "code", "auth_code": "134567890123456789"})
    assert paid.json()["status"] == "paid", paid.text
    await SandboxPayment.update({SandboxPayment.status: "closed"}, force=True)
    await _refund_refused(client, bought, 500)
    return int(paid.json()["payment_id"])


async def _refund_refused(client: httpx.AsyncClient, bought: Bought, amount_fen: int) -> None:
    refused = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": amount_fen, "reason": "bag torn"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.json()["status"] == "failed", refused.text


async def test_a_flagged_payment_is_listed_until_staff_resolve_it(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    manager = await login_as(pay_client, "manager", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    listed = await pay_client.get(_flagged_path(bought))
    assert listed.status_code == 200, listed.text
    (flagged,) = listed.json()
    assert flagged["payment_id"] == payment_id
    assert (flagged["order_id"], flagged["flag"]) == (bought.order_id, "refund_failed")
    assert (flagged["paid_fen"], flagged["refunded_fen"]) == (2500, 0)
    assert flagged["order_number"].endswith(f"{bought.order_id:06d}")
    assert flagged["resolved_at"] is None
    resolve = f"{_flagged_path(bought)}/{payment_id}/resolve"
    note = {"note": "refunded 5.00 in cash at the desk"}
    resolved = await pay_client.post(resolve, json=note)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_by"] == manager.user_id
    assert resolved.json()["note"] == "refunded 5.00 in cash at the desk"
    assert (await pay_client.get(_flagged_path(bought))).json() == []
    history = await pay_client.get(_flagged_path(bought), params={"resolved": "true"})
    assert [row["payment_id"] for row in history.json()] == [payment_id]
    again = await pay_client.post(resolve, json={"note": "another note"})
    assert again.status_code == 200
    assert again.json() == resolved.json()


async def test_a_payment_flagged_again_after_resolving_is_listed_again(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await login_as(pay_client, "cashier", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    resolve = f"{_flagged_path(bought)}/{payment_id}/resolve"
    assert (await pay_client.post(resolve, json={"note": "called the shopper"})).is_success
    await _refund_refused(pay_client, bought, 700)
    (flagged,) = (await pay_client.get(_flagged_path(bought))).json()
    assert flagged["payment_id"] == payment_id
    assert (flagged["resolved_at"], flagged["resolved_by"], flagged["note"]) == (None, None, "")


async def test_an_amount_mismatch_is_listed(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    created = await start(pay_client, bought, {"method": "qr"})
    out_trade_no = created.json()["out_trade_no"]
    await SandboxPayment.update({SandboxPayment.amount_fen: 1}).where(
        SandboxPayment.out_trade_no == out_trade_no
    )
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    await login_as(pay_client, "cashier", bought.shop.store_id)
    (flagged,) = (await pay_client.get(_flagged_path(bought))).json()
    assert (flagged["flag"], flagged["paid_fen"], flagged["refunded_fen"]) == (
        "amount_mismatch",
        1,
        1,
    )


async def test_resolving_needs_a_note_and_a_flagged_payment_of_the_store(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await login_as(pay_client, "manager", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    resolve = f"{_flagged_path(bought)}/{payment_id}/resolve"
    assert (await pay_client.post(resolve, json={"note": " "})).status_code == 400
    await Payment.update({Payment.flag: ""}).where(Payment.id == payment_id)
    unflagged = await pay_client.post(resolve, json={"note": "ok"})
    assert (unflagged.status_code, unflagged.json()["code"]) == (404, "payment_not_flagged")
    await login_as(pay_client, "restocker", bought.shop.store_id)
    assert (await pay_client.get(_flagged_path(bought))).status_code == 403
    await login_as(pay_client, "manager", await add_store())
    assert (await pay_client.get(_flagged_path(bought))).json()["code"] == "other_store"
